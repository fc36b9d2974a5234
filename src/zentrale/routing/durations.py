"""Durations and clock times as supervisors write them (`20s`, `2m`, `09:00-18:00`).

The schema uses these parsers as pydantic validators, so a bad value becomes an ordinary
validation error with a location instead of an exception deep inside the engine.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h))")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_duration(value: object) -> float:
    """Return seconds for `20s`, `2m`, `1m30s`, `500ms` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is written like 20s, 2m or 1h")
    if isinstance(value, int | float):
        return _non_negative(float(value))
    if not isinstance(value, str):
        raise ValueError("a duration is written like 20s, 2m or 1h")
    text = value.strip().replace(" ", "")
    parts = _DURATION.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"'{value}' is not a duration; write it like 20s, 2m or 1h30m")
    return _non_negative(sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_time_range(value: object) -> tuple[int, int]:
    """Return (start, end) minutes after midnight for `09:00-18:00`; `24:00` ends a day."""
    match = _TIME_RANGE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"'{value}' is not a time range; write it like 09:00-18:00")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or start_m > 59 or end_m > 59 or end > 24 * 60:
        raise ValueError(f"'{value}' contains an impossible clock time")
    if start >= end:
        raise ValueError(
            f"'{value}' ends before it starts; split a range over midnight into two ranges"
        )
    return start, end


def format_minutes(minutes: int) -> str:
    """Return `HH:MM` for minutes after midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


Seconds = Annotated[float, BeforeValidator(parse_duration)]
TimeRange = Annotated[tuple[int, int], BeforeValidator(parse_time_range)]
