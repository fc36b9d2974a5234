"""Answer scales of survey questions and how keypad input maps onto them (pure, no I/O).

A scale is written in YAML as `1-5` (any `L-H` with single digits), `yes/no` (1 = yes,
2 = no), `0-9`, or `0-10` / `1-10` for NPS-style questions. Ten is the one answer that needs two
keys: after a `1` the caller has a moment to add a `0`; `#` or silence keeps the `1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"^([0-9]|10)-([0-9]|10)$")
YES_NO = "yes/no"
TEN = 10


@dataclass(frozen=True, slots=True)
class Scale:
    """The answers a question accepts: whole numbers from `low` to `high`."""

    text: str
    low: int
    high: int

    @property
    def two_keys(self) -> bool:
        """Tell whether an answer may take two keys (`10`)."""
        return self.high == TEN

    def needs_more(self, digits: str) -> bool:
        """Tell whether DIGITS could still grow into another valid answer (a `1` before `0`)."""
        return self.two_keys and digits == "1"

    def answer(self, digits: str) -> int | None:
        """Return the answer DIGITS stand for, or None when they are not on this scale."""
        if not digits.isdigit() or len(digits) > (2 if self.two_keys else 1):
            return None
        value = int(digits)
        if len(digits) == 2 and value != TEN:
            return None
        return value if self.low <= value <= self.high else None


def parse_scale(text: str) -> Scale:
    """Parse a scale as written in YAML; raise ValueError saying what is accepted."""
    cleaned = str(text).strip().lower().replace(" ", "")
    if cleaned in (YES_NO, "ja/nein"):
        return Scale(YES_NO, 1, 2)
    found = _RANGE.match(cleaned)
    if found is None:
        raise ValueError(f"'{text}' is not an answer scale; write 1-5, 0-9, 0-10 or yes/no")
    low, high = int(found.group(1)), int(found.group(2))
    if low > 1 or high <= low:
        raise ValueError(
            f"'{text}' is not an answer scale: it starts at 0 or 1 and ends above its start"
        )
    return Scale(f"{low}-{high}", low, high)
