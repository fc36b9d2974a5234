"""The campaign scheduler: calling hours in the rules' zone, free lines, retry timing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.surveys.models import AttemptResult, TargetState
from zentrale.surveys.schedule import (
    Pace,
    TargetView,
    Window,
    after_attempt,
    due,
    parse_days,
)

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2 March 2026, 10:00 in Berlin (09:00 UTC).
MONDAY_10 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PACE = Pace(
    Window.parse("09:00", "18:00", "mon-fri"),
    BERLIN,
    concurrency=2,
    retries=2,
    retry_after=dt.timedelta(minutes=30),
)


def _targets(*states: TargetState, next_at: dt.datetime | None = None) -> list[TargetView]:
    return [
        TargetView(id=f"t{n}", line=n, state=state, next_attempt_at=next_at)
        for n, state in enumerate(states, 2)
    ]


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat-sun", {5, 6}),
        ("mon,wed,fri", {0, 2, 4}),
        ("Mon - Tue, Fri", {0, 1, 4}),
        ("sun", {6}),
    ],
)
def test_days_as_written(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["fri-mon", "montag", "", "mon-"])
def test_bad_days_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"days|backwards"):
        parse_days(text)


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (MONDAY_10, True),
        (dt.datetime(2026, 3, 2, 7, 59, tzinfo=dt.UTC), False),  # 08:59 Berlin
        (dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), True),  # 09:00 Berlin
        (dt.datetime(2026, 3, 2, 16, 59, tzinfo=dt.UTC), True),  # 17:59
        (dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC), False),  # 18:00: the end is excluded
        (dt.datetime(2026, 3, 7, 9, 0, tzinfo=dt.UTC), False),  # Saturday
        (dt.datetime(2026, 7, 6, 7, 30, tzinfo=dt.UTC), True),
    ],  # summer time: 09:30 Berlin
)
def test_calling_hours_are_local_to_the_rules_zone(at: dt.datetime, open_: bool) -> None:
    assert PACE.window.is_open(at, BERLIN) is open_


def test_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        Window.parse("18:00", "09:00", "mon-fri")


def test_nothing_is_due_outside_the_hours() -> None:
    evening = dt.datetime(2026, 3, 2, 19, 0, tzinfo=dt.UTC)
    assert due(evening, PACE, 0, _targets(TargetState.PENDING)) == []


def test_no_more_than_the_free_lines_in_list_order() -> None:
    targets = _targets(*[TargetState.PENDING] * 4)
    assert due(MONDAY_10, PACE, 0, targets) == ["t2", "t3"]
    assert due(MONDAY_10, PACE, 1, targets) == ["t2"]
    assert due(MONDAY_10, PACE, 2, targets) == []
    assert due(MONDAY_10, PACE, 3, targets) == []


def test_only_pending_and_retries_whose_time_has_come() -> None:
    later = MONDAY_10 + dt.timedelta(minutes=5)
    targets = [
        TargetView(id="done", line=2, state=TargetState.DONE, next_attempt_at=None),
        TargetView(id="calling", line=3, state=TargetState.CALLING, next_attempt_at=None),
        TargetView(id="later", line=4, state=TargetState.RETRY, next_attempt_at=later),
        TargetView(id="now", line=5, state=TargetState.RETRY, next_attempt_at=MONDAY_10),
        TargetView(id="gone", line=6, state=TargetState.EXHAUSTED, next_attempt_at=None),
    ]
    assert due(MONDAY_10, PACE, 0, targets) == ["now"]
    assert due(later, PACE, 0, targets) == ["now", "later"]


def test_new_numbers_go_before_retries() -> None:
    targets = [
        TargetView(id="retry", line=2, state=TargetState.RETRY, next_attempt_at=MONDAY_10),
        TargetView(id="new", line=3, state=TargetState.PENDING, next_attempt_at=None),
    ]
    assert due(MONDAY_10, PACE, 1, targets) == ["new"]


@pytest.mark.parametrize(
    ("result", "attempts", "state", "wait"),
    [
        (AttemptResult.ANSWERED, 1, TargetState.DONE, None),
        (AttemptResult.ANSWERED, 3, TargetState.DONE, None),
        (AttemptResult.BUSY, 1, TargetState.RETRY, 30),
        (AttemptResult.NO_ANSWER, 2, TargetState.RETRY, 30),
        (AttemptResult.FAILED, 2, TargetState.RETRY, 30),
        (AttemptResult.INTERRUPTED, 1, TargetState.RETRY, 30),
        (AttemptResult.BUSY, 3, TargetState.EXHAUSTED, None),  # the first call and 2 retries
        (AttemptResult.UNAVAILABLE, 4, TargetState.EXHAUSTED, None),
    ],
)
def test_after_an_attempt(
    result: AttemptResult, attempts: int, state: TargetState, wait: int | None
) -> None:
    expected = None if wait is None else MONDAY_10 + dt.timedelta(minutes=wait)
    assert after_attempt(result, attempts, PACE, MONDAY_10) == (state, expected)


@pytest.mark.parametrize(
    ("result", "cause", "state"),
    [
        # What a carrier answers, as Asterisk turns it into a Q.850 cause (docs/operator.md).
        (AttemptResult.BUSY, 17, TargetState.RETRY),  # SIP 486 Busy Here, 600 Busy Everywhere
        (AttemptResult.NO_ANSWER, 19, TargetState.RETRY),  # 480, or our ring time ran out
        (AttemptResult.UNAVAILABLE, 18, TargetState.RETRY),  # 408, or a carrier never answering
        (AttemptResult.UNAVAILABLE, 34, TargetState.RETRY),  # 503 congestion
        (AttemptResult.NO_ANSWER, 21, TargetState.RETRY),  # 603 Decline, 403
        (AttemptResult.UNAVAILABLE, 1, TargetState.EXHAUSTED),  # 404: no such number
        (AttemptResult.UNAVAILABLE, 3, TargetState.EXHAUSTED),  # no route to it
        (AttemptResult.UNAVAILABLE, 22, TargetState.EXHAUSTED),  # 410: the number changed
        (AttemptResult.UNAVAILABLE, 28, TargetState.EXHAUSTED),  # 484: invalid number format
        (AttemptResult.ERROR, None, TargetState.FAILED),  # zentrale's own error: not again
        (AttemptResult.ANSWERED, 16, TargetState.DONE),
    ],
)
def test_whether_a_number_is_called_again_follows_the_cause(
    result: AttemptResult, cause: int | None, state: TargetState
) -> None:
    found, next_at = after_attempt(result, 1, PACE, MONDAY_10, cause)
    assert found == state
    assert (next_at is not None) == (state is TargetState.RETRY)


def test_a_wrong_number_is_not_called_again_even_with_retries_left() -> None:
    many = Pace(PACE.window, BERLIN, concurrency=1, retries=9, retry_after=PACE.retry_after)
    assert after_attempt(AttemptResult.UNAVAILABLE, 1, many, MONDAY_10, 1)[0] == (
        TargetState.EXHAUSTED
    )
    assert after_attempt(AttemptResult.UNAVAILABLE, 1, many, MONDAY_10, 34)[0] == TargetState.RETRY
