"""The `zentrale customers` commands: import records from CSV, show one by phone number.

`import` checks the whole file first and stores nothing when any row is wrong; each error names
the line and the column. `show` masks phone numbers and the e-mail address unless `--reveal`,
and both commands write to the audit log (the operator's login name as the actor).
"""

from __future__ import annotations

import csv
import getpass
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from zentrale.base.clock import utcnow
from zentrale.base.errors import InvalidRequestError
from zentrale.cli.context import Commands, run_with_database
from zentrale.cli.context import cli_settings as _settings
from zentrale.config.logging import mask_email, mask_number
from zentrale.config.settings import Settings
from zentrale.core import audit
from zentrale.customers import store
from zentrale.customers.errors import CustomerError, NumberTakenError
from zentrale.customers.numbers import InvalidNumberError, normalise
from zentrale.customers.store import Changes, CustomerRecord, NewCustomer
from zentrale.db.session import Database

T = TypeVar("T")
COLUMNS = ("numbers", "name", "customer_number", "language", "email", "vip", "notes")
_TRUE, _FALSE = {"yes", "true", "1", "ja", "evet", "x"}, {"", "no", "false", "0", "nein", "hayir"}
MAX_ERRORS = 50


@click.group(cls=Commands)
def customers() -> None:
    """Customer records: import them from CSV, show one by phone number."""


@dataclass(frozen=True)
class Row:
    """One checked row of an import file."""

    line: int
    new: NewCustomer


class ImportRefusedError(InvalidRequestError):
    """The file has errors; nothing was imported."""

    code = "import-refused"

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS]
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        super().__init__("nothing imported; fix these and run again:\n" + "\n".join(shown) + more)


def read_rows(path: Path) -> list[Row]:
    """Read and check every row of PATH; raise ImportRefusedError listing every error."""
    errors: list[str] = []
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        unknown = [name for name in header if name not in COLUMNS]
        if "numbers" not in header or unknown:
            raise ImportRefusedError(
                [
                    f"{path}:1: the header must name the column 'numbers'"
                    + (f"; unknown column(s) {', '.join(unknown)}" if unknown else "")
                    + f" (columns: {', '.join(COLUMNS)})"
                ]
            )
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            row, problems = _row(path, reader.line_num, header, values)
            errors += problems
            if row is not None:
                rows.append(row)
    errors += _duplicates(path, rows)
    if errors:
        raise ImportRefusedError(errors)
    return rows


def _row(
    path: Path, line: int, header: list[str], values: list[str]
) -> tuple[Row | None, list[str]]:
    where = f"{path}:{line}"
    if len(values) != len(header):
        return None, [f"{where}: {len(values)} values where the header has {len(header)}"]
    cells = dict(zip(header, (value.strip() for value in values), strict=True))
    errors: list[str] = []

    def column(name: str) -> str:
        return f"{where}: column {header.index(name) + 1} ({name})"

    numbers: list[str] = []
    for part in cells["numbers"].replace(",", ";").split(";"):
        if part.strip():
            try:
                numbers.append(normalise(part))
            except InvalidNumberError as exc:
                errors.append(f"{column('numbers')}: {exc}")
    if not numbers and not errors:
        errors.append(f"{column('numbers')}: at least one phone number (several: separate with ;)")
    vip_text = cells.get("vip", "").lower()
    if vip_text not in _TRUE | _FALSE:
        errors.append(f"{column('vip')}: '{cells['vip']}' is not yes or no")
    fields: dict[str, str | None] = {}
    for name in ("name", "customer_number", "language", "email", "notes"):
        try:
            fields[name] = store.check_field(name, cells.get(name) or None)
        except CustomerError as exc:
            errors.append(f"{column(name)}: {exc}")
    if errors:
        return None, errors
    new = NewCustomer(
        numbers=numbers,
        name=fields["name"],
        customer_number=fields["customer_number"],
        language=fields["language"],
        email=fields["email"],
        vip=vip_text in _TRUE,
        notes=fields["notes"],
    )
    return Row(line, new), []


def _duplicates(path: Path, rows: list[Row]) -> list[str]:
    seen: dict[str, int] = {}
    errors = []
    for row in rows:
        for number in row.new.numbers:
            if number in seen:
                errors.append(
                    f"{path}:{row.line}: {mask_number(number)} is on line "
                    f"{seen[number]} too (a number belongs to one customer)"
                )
            seen.setdefault(number, row.line)
    return errors


def _run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    return run_with_database(settings, work)


def _actor() -> audit.Actor:
    return audit.Actor(None, f"cli:{getpass.getuser()}", None)


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True, help="Update the customer a row's first number belongs to.")
@click.pass_context
def import_(ctx: click.Context, file: Path, update: bool) -> None:
    """Import customers from a CSV file (columns: numbers, name, customer_number, language,
    email, vip, notes; several numbers separated by ;)."""
    rows = read_rows(file)

    async def work(db: Database) -> tuple[int, int]:
        created = updated = 0
        now = utcnow()
        async with db.write() as session:
            for row in rows:
                try:
                    if await _import_row(session, row, update, now):
                        updated += 1
                    else:
                        created += 1
                except (CustomerError, InvalidNumberError) as exc:
                    raise ImportRefusedError([f"{file}:{row.line}: {_masked_error(exc)}"]) from None
            event = audit.Event(
                "customer.import",
                target=f"file:{file.name}",
                detail={"created": created, "updated": updated},
            )
            await audit.append(session, _actor(), event, now)
        return created, updated

    created, updated = _run(_settings(ctx), work)
    click.echo(f"{created} customers created, {updated} updated from {file}")


async def _import_row(session: Any, row: Row, update: bool, now: Any) -> bool:
    existing = await store.by_number(session, row.new.numbers[0])
    if existing is None:
        await store.create(session, row.new, now)
        return False
    if not update:
        raise NumberTakenError(mask_number(row.new.numbers[0]), existing.id)
    fields = {
        name: getattr(row.new, name)
        for name in store.EDITABLE
        if getattr(row.new, name) not in (None,)
    }
    added = [n for n in row.new.numbers if n not in existing.numbers]
    await store.update(session, existing.id, Changes(fields, added), now)
    return True


def _masked_error(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, NumberTakenError):
        text = text.replace(exc.number, mask_number(exc.number))
    return text + (
        "; use --update to change existing customers" if isinstance(exc, NumberTakenError) else ""
    )


@customers.command("show")
@click.argument("number")
@click.option("--reveal", is_flag=True, help="Show phone numbers and e-mail unmasked (audited).")
@click.pass_context
def show(ctx: click.Context, number: str, reveal: bool) -> None:
    """Show the customer a phone number belongs to, with their latest calls."""
    try:
        key = normalise(number)
    except InvalidNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="NUMBER") from None

    async def work(db: Database) -> tuple[CustomerRecord | None, list[store.HistoryEntry]]:
        async with db.write() as session:
            record = await store.by_number(session, key)
            entries = await store.history(session, record, limit=10) if record else []
            detail = {"number": mask_number(key), "revealed": reveal, "found": bool(record)}
            target = f"customer:{record.id}" if record else None
            event = audit.Event("customer.view", target=target, detail=detail)
            await audit.append(session, _actor(), event, utcnow())
        return record, entries

    record, entries = _run(_settings(ctx), work)
    if record is None:
        raise click.ClickException(f"no customer has the number {mask_number(key)}")
    click.echo(_card(record, entries, reveal))


def _email(address: str | None, reveal: bool) -> str:
    """The address, masked like the numbers unless REVEAL."""
    if address is None:
        return "-"
    return address if reveal else mask_email(address)


def _card(record: CustomerRecord, entries: list[store.HistoryEntry], reveal: bool) -> str:
    def shown(value: str | None) -> str:
        if value is None:
            return "-"
        return value if reveal else mask_number(value)

    lines = [
        f"customer        {record.id}",
        f"name            {record.name or '-'}",
        f"customer number {record.customer_number or '-'}",
        f"language        {record.language or '-'}",
        f"e-mail          {_email(record.email, reveal)}",
        f"vip             {'yes' if record.vip else 'no'}",
        f"numbers         {', '.join(shown(n) for n in record.numbers)}",
        f"missing         {', '.join(record.missing) or '-'}",
        f"notes           {record.notes or '-'}",
        f"calls           {len(entries)} latest",
    ]
    for entry in entries:
        lines.append(
            f"  {entry.arrived_at:%Y-%m-%d %H:%M} {entry.direction:8} {shown(entry.number):16} "
            f"{entry.department or '-':12} {entry.agent_name or entry.agent_endpoint or '-':16} "
            f"{entry.outcome or '-'}"
        )
    return "\n".join(lines)
