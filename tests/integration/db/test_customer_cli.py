"""`zentrale customers import` and `show` on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from zentrale.cli.customers import customers
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.testing.databases import run_blocking

GOOD = """numbers,name,customer_number,language,vip,notes,email
"+90 555 111 22 33; 0049 30 123456",Ayşe Demir,K-1,tr,yes,prefers mornings,Ayse@Example.COM
+905329998877,Jonas Weber,,de,,,
"""
BAD = """numbers,name,language,vip,email
+905551112233,Ok,tr,no,
0555 111 22 33,National,tr,no,national@example
+905551112244,Wrong language,Türkçe,no,
+905551112255,Unsure,de,maybe,
+905551112233,Twice,de,no,
"""


def _invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(customers, list(args), env={"ZENTRALE_DATABASE__URL": url})
    return result.exit_code, result.output


def _audit(url: str) -> list[AuditEntry]:
    async def read() -> list[AuditEntry]:
        async with Database.open(url) as db, db.read() as session:
            return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))

    return run_blocking(read())


def test_import_then_show_masked_and_revealed(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(GOOD)
    code, output = _invoke(database_url, "import", str(path))
    assert code == 0, output
    assert "2 customers created, 0 updated" in output

    code, output = _invoke(database_url, "show", "+49 30 123456")
    assert code == 0, output
    assert "Ayşe Demir" in output
    assert "vip             yes" in output
    assert "+905551112233" not in output
    assert "+90555*****33" in output
    assert "e-mail          A***@***.com" in output
    code, revealed = _invoke(database_url, "show", "+905551112233", "--reveal")
    assert "+4930123456, +905551112233" in revealed
    assert "e-mail          Ayse@example.com" in revealed

    entries = _audit(database_url)
    assert [e.action for e in entries] == ["customer.import", "customer.view", "customer.view"]
    assert entries[0].detail == {"created": 2, "updated": 0}
    assert [e.detail["revealed"] for e in entries[1:]] == [False, True]
    assert "+905551112233" not in str([e.detail for e in entries])


def test_a_bad_file_names_line_and_column_and_imports_nothing(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    code, output = _invoke(database_url, "import", str(path))
    assert code == 1
    assert f"{path}:3: column 1 (numbers): '0555 111 22 33' is not an international" in output
    assert f"{path}:3: column 5 (email): email is not a valid e-mail address: " in output
    assert f"{path}:4: column 3 (language): language 'Türkçe' is not a language code" in output
    assert f"{path}:5: column 4 (vip): 'maybe' is not yes or no" in output
    assert f"{path}:6: +90555*****33 is on line 2 too" in output
    code, output = _invoke(database_url, "show", "+905551112233")
    assert code == 1
    assert "no customer has the number +90555*****33" in output


def test_unknown_columns_and_existing_numbers(database_url: str, tmp_path: Path) -> None:
    odd = tmp_path / "odd.csv"
    odd.write_text("phone,name\n+905551112233,X\n")
    code, output = _invoke(database_url, "import", str(odd))
    assert code == 1
    assert "unknown column(s) phone" in output
    path = tmp_path / "customers.csv"
    path.write_text(GOOD)
    assert _invoke(database_url, "import", str(path))[0] == 0
    code, output = _invoke(database_url, "import", str(path))
    assert code == 1
    assert f"{path}:2: the number +90555*****33 already belongs to customer" in output
    assert "--update" in output
    code, output = _invoke(database_url, "import", "--update", str(path))
    assert code == 0, output
    assert "0 customers created, 2 updated" in output
