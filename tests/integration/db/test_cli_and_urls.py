"""`zentrale db` commands, URL handling, SQLite connection settings, and hidden passwords."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner
from sqlalchemy import make_url, text

from zentrale.cli.db import db
from zentrale.db.engine import BUSY_TIMEOUT_MS, create_engine, resolve_url
from zentrale.db.session import Database
from zentrale.migrations import head_revision

from .conftest import postgres_url

PASSWORD = "s3cret-pw"


def _with_password(url: str) -> str:
    parsed = make_url(url)
    with_password = parsed.set(username=parsed.username or "zentrale", password=PASSWORD)
    text = with_password.render_as_string(hide_password=False)
    assert PASSWORD in text
    return text


@pytest.mark.parametrize("command", [[], ["upgrade"], ["current"], ["downgrade"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(db, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: db" in result.output
    if command:
        assert "ZENTRALE_DATABASE__URL" in result.output


def test_upgrade_current_and_downgrade(database_url: str) -> None:
    runner = CliRunner()
    head = head_revision()
    upgraded = runner.invoke(db, ["upgrade", "--url", database_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded to {head}" in upgraded.output
    current = runner.invoke(db, ["current"], env={"ZENTRALE_DATABASE__URL": database_url})
    assert f"revision {head}, up to date" in current.output

    refused = runner.invoke(db, ["downgrade", "base", "--url", database_url], input="n\n")
    assert refused.exit_code == 1
    assert f"revision {head}," in runner.invoke(db, ["current", "--url", database_url]).output

    downgraded = runner.invoke(db, ["downgrade", "base", "--yes", "--url", database_url])
    assert downgraded.exit_code == 0, downgraded.output
    assert "downgraded to none (empty database)" in downgraded.output
    behind = runner.invoke(db, ["current", "--url", database_url])
    assert f"behind (head is {head})" in behind.output


def test_passwords_stay_out_of_output_and_logs(
    database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL connects with the password; SQLite refuses a URL with one. Neither shows it."""
    url = _with_password(database_url)
    with structlog.testing.capture_logs() as logs:
        result = CliRunner().invoke(db, ["upgrade", "--url", url])
    if backend == "postgresql":
        assert result.exit_code == 0, result.output
        assert f"postgres:***@127.0.0.1:5432/{make_url(url).database}: upgraded" in result.output
        assert logs
    else:
        assert result.exit_code == 1
        assert "zentrale:***@" in result.output
        assert "Invalid SQLite URL" in result.output
    assert PASSWORD not in result.output + repr(logs) + caplog.text


def test_connection_errors_name_the_url_without_its_password(backend: str, tmp_path: Path) -> None:
    broken = {
        "sqlite": f"sqlite+aiosqlite://:{PASSWORD}@/{tmp_path}",  # a directory, not a file
        "postgresql": f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:5432/no_such_db_zz",
    }[backend]
    result = CliRunner().invoke(db, ["current", "--url", broken])
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert PASSWORD not in result.output


def test_an_unparsable_url_is_not_echoed() -> None:
    result = CliRunner().invoke(db, ["current", "--url", f"nonsense:{PASSWORD}"])
    assert result.exit_code == 1
    assert "cannot parse the database URL" in result.output
    assert PASSWORD not in result.output


@pytest.mark.postgres
@pytest.mark.asyncio
async def test_repr_of_database_and_engine_hides_the_password() -> None:
    """PostgreSQL only: SQLite URLs cannot carry a password (see the test above)."""
    async with Database.open(_with_password(postgres_url("test"))) as database:
        shown = repr(database) + repr(database.engine) + str(database.engine.url)
        assert PASSWORD not in shown
        assert "postgres:***@" in shown
        async with database.read() as session:  # the password still reaches the driver
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


def test_relative_sqlite_paths_resolve_against_the_working_directory(tmp_path: Path) -> None:
    url = resolve_url("sqlite+aiosqlite:///var/data/zentrale.db", cwd=tmp_path)
    assert url.database == str(tmp_path / "var" / "data" / "zentrale.db")
    assert (tmp_path / "var" / "data").is_dir()
    absolute = resolve_url(f"sqlite+aiosqlite:///{tmp_path}/abs.db", cwd=Path("/nowhere"))
    assert absolute.database == f"{tmp_path}/abs.db"
    server = "postgresql+asyncpg://u:p@db.example/zentrale"
    assert resolve_url(server, cwd=tmp_path).render_as_string(hide_password=False) == server


@pytest.mark.asyncio
async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine("sqlite+aiosqlite:///zentrale.db", cwd=tmp_path)
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()
    assert pragmas == ["wal", 1, BUSY_TIMEOUT_MS]
    assert (tmp_path / "zentrale.db").is_file()
