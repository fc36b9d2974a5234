"""The clock the stores read (injected, so tests move time instead of sleeping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def in_utc(value: dt.datetime) -> dt.datetime:
    """Return VALUE as an aware UTC time (no zone: taken as UTC); ValueError if none exists.

    A time at the edge of the calendar with an offset (`0001-01-01T00:00+14:00`,
    `9999-12-31T23:59-01:00`) has no UTC equivalent in Python's range: a client sending one
    gets a validation error naming the parameter, not a failure deep in a database driver.
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    try:
        return aware.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the time is outside the range of dates that can be stored") from None


ClientTime = Annotated[dt.datetime, AfterValidator(in_utc)]
"""A time from a client, normalised to aware UTC by `in_utc` (pydantic field type)."""
