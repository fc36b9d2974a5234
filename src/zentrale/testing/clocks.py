"""A clock tests move by hand, for code that takes a `clock` callable."""

from __future__ import annotations

import datetime as dt

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
"""Monday 09:00 UTC: where test clocks start unless told otherwise."""


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += dt.timedelta(seconds=seconds)
