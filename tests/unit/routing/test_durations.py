"""Durations and clock-time ranges as supervisors write them."""

from __future__ import annotations

import pytest

from zentrale.routing.durations import parse_duration, parse_time_range


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20.0), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0), ("500ms", 0.5), (15, 15.0)],
)
def test_durations_are_read_as_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["20", "2 minutes", "s", "", "-5s", True, None, "1x"])
def test_bad_durations_say_how_to_write_one(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_negative_number_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)


def test_time_range_is_minutes_after_midnight_and_may_end_at_24() -> None:
    assert parse_time_range("09:30-24:00") == (570, 1440)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-18", "not a time range"),
        ("25:00-26:00", "impossible"),
        ("09:61-10:00", "impossible"),
        ("18:00-09:00", "split a range over midnight"),
    ],
)
def test_bad_time_ranges_explain_themselves(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_range(text)
