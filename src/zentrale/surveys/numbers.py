"""The numbers of an outbound campaign, read from CSV; every error names its line and column.

The file has a header row with a `number` column (`nummer`/`telefon` work too); other columns
are ignored. Spaces, dashes, dots, slashes and brackets inside a number are dropped; what is
left must be digits with an optional leading `+`. A number listed twice is an error.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from zentrale.base.errors import ZentraleError

NUMBER_COLUMNS = ("number", "nummer", "telefon", "phone")
_DIALABLE = re.compile(r"^\+?[0-9]{3,20}$")
_FILLER = re.compile(r"[\s\-./()]")


class NumbersError(ZentraleError, ValueError):
    """A campaign's CSV cannot be used; the message names file, line and column."""

    code = "numbers"


@dataclass(frozen=True, slots=True)
class Listed:
    """A number to call and the CSV line it came from."""

    line: int
    number: str


def read_numbers(text: str, source: str = "numbers.csv") -> list[Listed]:
    """Return the numbers of a campaign CSV, or raise NumbersError listing every problem."""
    rows = list(csv.reader(io.StringIO(text, newline=""), _dialect(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise NumbersError(f"{source} line 1: empty file; the first row names the columns")
    column = _number_column(rows[0], source)
    problems: list[str] = []
    seen: dict[str, int] = {}
    listed: list[Listed] = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{source} line {line}, column {column + 1} ({rows[0][column].strip()})"
        number = _FILLER.sub("", row[column]) if column < len(row) else ""
        if not _DIALABLE.match(number):
            shown = row[column][:40] if column < len(row) else ""
            problems.append(f"{where}: '{shown}' is not a phone number like +4930123456")
        elif number in seen:
            problems.append(f"{where}: {number} is already on line {seen[number]}")
        else:
            seen[number] = line
            listed.append(Listed(line, number))
    if problems:
        raise NumbersError("\n".join(problems[:20]))
    if not listed:
        raise NumbersError(f"{source}: no numbers below the header row")
    return listed


def _dialect(text: str) -> type[csv.Dialect]:
    first = text.split("\n", 1)[0]
    return _Semicolon if first.count(";") > first.count(",") else csv.excel


class _Semicolon(csv.excel):
    delimiter = ";"


def _number_column(header: list[str], source: str) -> int:
    names = [cell.strip().lower() for cell in header]
    for index, name in enumerate(names):
        if name in NUMBER_COLUMNS:
            return index
    raise NumbersError(
        f"{source} line 1: no 'number' column in the header (found: {', '.join(names)[:80]})"
    )
