"""Pure parts of the statistics: request validation, score summaries, zone offsets, charts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.stats import charts
from zentrale.stats.report import StatsRow
from zentrale.stats.scores import scale_scores
from zentrale.stats.spec import ReportSpec, SpecError, parse_day, parse_thresholds, parse_zone
from zentrale.stats.sql import offsets
from zentrale.stats.zone import rules_zone

IST, BERLIN = ZoneInfo("Europe/Istanbul"), ZoneInfo("Europe/Berlin")


def test_range_is_local_midnight_to_midnight_in_utc() -> None:
    spec = ReportSpec(
        group="department",
        period="day",
        first_day=dt.date(2026, 3, 2),
        last_day=dt.date(2026, 3, 3),
        zone=IST,
    )
    assert spec.start == dt.datetime(2026, 3, 1, 21, tzinfo=dt.UTC)
    assert spec.end == dt.datetime(2026, 3, 3, 21, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("team", "day", 1, 2), "group: 'team'"),
        (("agent", "month", 1, 2), "period: 'month'"),
        (("agent", "day", 3, 2), "to: 2026-01-02 is before from"),
        (("agent", "day", 1, 500), "from/to: at most 400 days"),
    ],
)
def test_bad_requests_name_the_field(args: tuple[str, str, int, int], message: str) -> None:
    group, period, first, last = args
    start = dt.date(2026, 1, 1)
    with pytest.raises(SpecError, match=message):
        ReportSpec(
            group=group,
            period=period,
            first_day=start + dt.timedelta(days=first - 1),  # type: ignore[arg-type]
            last_day=start + dt.timedelta(days=last - 1),
            zone=IST,
        )


def test_parsers() -> None:
    assert parse_thresholds(["sales:30,support=12.5", " vip:5 "]) == {
        "sales": 30.0,
        "support": 12.5,
        "vip": 5.0,
    }
    with pytest.raises(SpecError, match="service_level: 'sales' is not like sales:30"):
        parse_thresholds(["sales"])
    with pytest.raises(SpecError, match="from: '2026-13-01'"):
        parse_day("from", "2026-13-01")
    with pytest.raises(SpecError, match="tz: unknown time zone"):
        parse_zone("Europe/Atlantis")


def test_scores() -> None:
    five = scale_scores("1-5", {5: 3, 4: 1, 1: 1})
    assert (five.count, five.mean, five.csat, five.nps) == (5, 4.0, 0.8, None)  # (15 + 4 + 1) / 5
    assert list(five.distribution) == [1, 4, 5]
    eleven = scale_scores("0-10", {10: 5, 8: 3, 3: 2})
    assert (eleven.nps, eleven.csat) == (30.0, None)  # 50 % promoters - 20 % detractors


def test_offsets_follow_daylight_saving_changes() -> None:
    start = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)
    end = dt.datetime(2026, 3, 30, tzinfo=dt.UTC)
    change = dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)  # 02:00 CET becomes 03:00 CEST
    assert offsets(BERLIN, start, end) == [
        (change, dt.timedelta(hours=1)),
        (end, dt.timedelta(hours=2)),
    ]
    assert offsets(IST, start, end) == [(end, dt.timedelta(hours=3))]


def test_rules_zone(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    rules = folder / "routing.yaml"
    rules.write_text("version: 1\ntimezone: Europe/Istanbul\n")
    assert rules_zone(rules) == IST
    assert rules_zone(folder / "missing.yaml") == ZoneInfo("UTC")


def test_chart_totals_and_bars() -> None:
    monday = dt.datetime(2026, 3, 2, tzinfo=IST)
    rows = [
        StatsRow("sales", monday, offered=4, answered=3, abandoned=1, answered_in_service_level=2),
        StatsRow("support", monday, offered=4, answered=4, answered_in_service_level=4),
        StatsRow("sales", monday + dt.timedelta(days=1), offered=2, answered=1, abandoned=1),
    ]
    totals = charts.totals(rows, "day")
    assert [(t.label, t.answered, t.abandoned) for t in totals] == [
        ("2026-03-02", 7, 1),
        ("2026-03-03", 1, 1),
    ]
    assert totals[0].service_level == 0.75
    bars = charts.call_bars(totals)
    tallest = max(bars, key=lambda bar: bar.height)
    assert (tallest.value, tallest.height, tallest.y) == (7, charts.HEIGHT - 20, 20)
    levels = charts.level_bars(totals)
    assert [bar.value for bar in levels] == [75.0, 0.0]
