"""Opening hours: weekly ranges, public holidays, closed days, half days, time zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.routing.schedule import holiday_name, opening
from zentrale.routing.schema import HolidaySource, Schedule

from .support import ISTANBUL

OFFICE = Schedule.model_validate(
    {
        "weekly": {"mon": ["08:00-12:30", "13:30-19:00"], "sat": ["10:00-14:00"]},
        "holidays": [{"country": "TR"}, {"country": "DE", "subdiv": "BY"}],
        "closed": ["2026-12-31", "2026-08-03..2026-08-07"],
        "half_days": {"2026-12-28": ["08:00-13:00"]},
    }
)


def at(day: str, time: str, zone: ZoneInfo = ISTANBUL) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day} {time}").replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("day", "time", "is_open"),
    [
        ("2026-03-02", "08:00", True),  # Monday, first minute
        ("2026-03-02", "12:30", False),  # lunch break starts
        ("2026-03-02", "13:30", True),
        ("2026-03-02", "19:00", False),  # end is exclusive
        ("2026-03-03", "10:00", False),  # Tuesday has no hours
        ("2026-03-07", "11:00", True),  # Saturday
    ],
)
def test_weekly_hours_with_several_ranges(day: str, time: str, is_open: bool) -> None:
    assert opening(OFFICE, ISTANBUL, at(day, time)).is_open is is_open


WEEKDAYS = Schedule.model_validate(
    {
        "weekly": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": [{"country": "TR"}, {"country": "DE", "subdiv": "BY"}],
    }
)


def test_turkish_moving_religious_holiday_closes() -> None:
    assert opening(WEEKDAYS, ISTANBUL, at("2026-05-26", "10:00")).is_open
    result = opening(WEEKDAYS, ISTANBUL, at("2026-05-27", "10:00"))  # Wednesday
    assert (result.is_open, result.reason) == (
        False,
        "closed: public holiday Eid al-Adha (TR) on 2026-05-27",
    )


def test_german_state_holiday_closes() -> None:
    result = opening(WEEKDAYS, ISTANBUL, at("2026-05-25", "10:00"))
    assert (result.is_open, result.reason) == (
        False,
        "closed: public holiday Pentecost Monday (DE-BY) on 2026-05-25",
    )


def test_state_holiday_of_bavaria_is_not_one_of_berlin() -> None:
    epiphany = dt.date(2026, 1, 6)
    assert holiday_name(OFFICE.holidays, epiphany) == "Epiphany (DE-BY)"
    assert holiday_name((HolidaySource(country="DE", subdiv="BE"),), epiphany) is None


def test_closed_days_and_ranges() -> None:
    result = opening(OFFICE, ISTANBUL, at("2026-08-03", "09:00"))
    assert (result.is_open, result.reason) == (False, "closed: 2026-08-03 is a closed day")


def test_half_day_replaces_the_weekly_hours() -> None:
    assert opening(OFFICE, ISTANBUL, at("2026-12-28", "12:00")).is_open
    result = opening(OFFICE, ISTANBUL, at("2026-12-28", "14:00"))
    assert result == type(result)(False, "closed at 14:00 (half day 2026-12-28 hours: 08:00-13:00)")


def test_time_zone_of_the_schedule_is_used() -> None:
    berlin = at("2026-03-02", "07:30", ZoneInfo("Europe/Berlin"))  # 09:30 in Istanbul
    assert opening(OFFICE, ISTANBUL, berlin).is_open
    assert not opening(OFFICE, ZoneInfo("Europe/Berlin"), berlin).is_open
