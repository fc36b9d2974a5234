"""The pure part of callbacks: calling hours, whom a due callback rings, when it is tried again,
and the wrap-up's checks of codes and callback times."""

from __future__ import annotations

import datetime as dt

import pytest

from zentrale.api.routes_wrapup import callback_time, check_disposition
from zentrale.config.settings import CallbackSettings
from zentrale.customers.errors import InvalidCallbackError, UnknownDispositionError
from zentrale.routing.load import parse_rules
from zentrale.telephony.callbacks import CallingHours, Decision, decide, owner_id, retry_at

# Monday 2 March 2026, 10:00 in Istanbul (UTC+3).
MONDAY_10 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
HOURS = CallingHours.of(CallbackSettings(hours="09:00-18:00", days="mon-fri"), "Europe/Istanbul")
WAIT = dt.timedelta(minutes=10)
RULES = parse_rules(
    """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en}
prompts: {bye: sound:vm-goodbye}
departments:
  sales:
    agents: [{endpoint: PJSIP/8101, name: Ayla}]
    on_max_wait: {play_and_hangup: bye}
    dispositions: [{code: sale, label: Sale}, {code: no_interest, label: No interest}]
  plain:
    agents: [{endpoint: PJSIP/8102, name: Can}]
    on_max_wait: {play_and_hangup: bye}
entry_rules: [{name: all, action: {department: sales}}]
""",
    "routing.yaml",
)


def _decide(now: dt.datetime, own_free: bool, others: list[str], late: float = 0) -> Decision:
    return decide(
        now=now,
        due_at=now - dt.timedelta(seconds=late),
        own_free=own_free,
        own="PJSIP/8101",
        others_free=others,
        agent_wait=WAIT,
        hours=HOURS,
    )


def test_a_due_callback_rings_its_own_agent_when_free() -> None:
    assert _decide(MONDAY_10, True, ["PJSIP/8102"]) == Decision("agent", "PJSIP/8101")


def test_it_waits_for_its_agent_then_goes_to_the_department() -> None:
    assert _decide(MONDAY_10, False, ["PJSIP/8102"], late=599) == Decision("wait")
    assert _decide(MONDAY_10, False, ["PJSIP/8102"], late=600) == Decision(
        "department", "PJSIP/8102"
    )
    assert _decide(MONDAY_10, False, [], late=3600) == Decision("wait")


def test_nothing_rings_outside_the_calling_hours() -> None:
    evening = MONDAY_10 + dt.timedelta(hours=8)  # 18:00 local: closed
    saturday = MONDAY_10 + dt.timedelta(days=5)
    for now in (evening, saturday):
        assert _decide(now, True, ["PJSIP/8102"]) == Decision("closed")
    assert _decide(evening - dt.timedelta(minutes=1), True, []) == Decision("agent", "PJSIP/8101")


def test_calling_hours_check_a_callback_time() -> None:
    assert HOURS.check(MONDAY_10 + dt.timedelta(hours=1), MONDAY_10) is None
    assert HOURS.check(MONDAY_10, MONDAY_10) == "the time is not in the future"
    problem = HOURS.check(MONDAY_10 + dt.timedelta(hours=12), MONDAY_10)
    assert (
        problem == "the time is outside the calling hours "
        "(09:00-18:00 mon,tue,wed,thu,fri, Europe/Istanbul)"
    )


def test_bad_calling_hours_in_the_settings_name_the_setting() -> None:
    with pytest.raises(ValueError, match=r"agents.callbacks: .*sun-mon"):
        CallingHours.of(CallbackSettings(days="sun-mon"), "UTC")


def test_an_attempt_is_retried_until_the_retries_are_used() -> None:
    settings = CallbackSettings(retries=2, retry_after=900)
    later = MONDAY_10 + dt.timedelta(minutes=15)
    assert retry_at("answered", 1, MONDAY_10, settings) is None
    assert retry_at("no_answer", 1, MONDAY_10, settings) == later
    assert retry_at("agent_no_answer", 2, MONDAY_10, settings) == later
    assert retry_at("busy", 3, MONDAY_10, settings) is None  # the first try and 2 retries


def test_a_code_must_be_one_of_the_calls_department() -> None:
    check_disposition(RULES, "sales", "sale")
    check_disposition(RULES, "plain", None)
    with pytest.raises(UnknownDispositionError, match="'won' is not a code of department sales"):
        check_disposition(RULES, "sales", "won")
    with pytest.raises(UnknownDispositionError, match="pick one of sale, no_interest"):
        check_disposition(RULES, "sales", None)
    with pytest.raises(UnknownDispositionError, match=r"its codes: none"):
        check_disposition(RULES, "plain", "sale")


def test_a_callback_time_without_zone_is_local_to_the_rules() -> None:
    local = dt.datetime(2026, 3, 2, 15, 30)  # 15:30 in Istanbul
    at = callback_time(local, RULES, HOURS, MONDAY_10)
    assert at == dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.UTC)
    with pytest.raises(InvalidCallbackError, match="callback_at: the time is outside"):
        callback_time(dt.datetime(2026, 3, 2, 19, 0), RULES, HOURS, MONDAY_10)
    with pytest.raises(InvalidCallbackError, match="not in the future"):
        callback_time(dt.datetime(2026, 3, 2, 9, 30), RULES, HOURS, MONDAY_10)


def test_a_lease_shorter_than_two_looks_is_refused() -> None:
    assert CallbackSettings(check_every=10, lease=21).lease == 21
    with pytest.raises(ValueError, match="more than twice check_every"):
        CallbackSettings(check_every=10, lease=20)


def test_a_daemons_lease_name_says_its_node_and_is_its_own() -> None:
    first, second = owner_id("node1"), owner_id("node1")
    assert first.startswith("node1:")
    assert first != second
