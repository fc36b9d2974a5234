"""Who may wrap a call up: its last agent, or one who talked to the caller before a transfer."""

from __future__ import annotations

import pytest

from zentrale.calls.models import Call, CallEvent, EventKind
from zentrale.customers.errors import NotYourCallError
from zentrale.customers.wrapup import Taker, taker


def _event(seq: int, kind: EventKind, **detail: str) -> CallEvent:
    return CallEvent(call_id="c1", seq=seq, kind=kind, detail=detail)


# Ayla takes the caller at the desk, consults Emre in the back office and hands the call over.
CALL = Call(id="c1", agent_endpoint="PJSIP/8102", department="backoffice")
EVENTS = [
    _event(1, EventKind.QUEUED, department="desk"),
    _event(2, EventKind.AGENT_RUNG, agent="PJSIP/8101"),
    _event(3, EventKind.AGENT_ANSWERED, agent="PJSIP/8101"),
    _event(4, EventKind.TRANSFER, mode="attended", by="PJSIP/8101"),
    _event(5, EventKind.AGENT_ANSWERED, agent="PJSIP/8102"),
]


def test_the_last_agent_wraps_up_in_the_calls_department() -> None:
    assert taker(CALL, (), "PJSIP/8102") == Taker("PJSIP/8102", "backoffice")


def test_the_agent_before_an_attended_transfer_wraps_up_in_their_department() -> None:
    assert taker(CALL, EVENTS, "PJSIP/8101") == Taker("PJSIP/8101", "desk")


def test_an_agent_who_only_rang_or_never_took_the_call_may_not() -> None:
    rung = [*EVENTS[:2], _event(3, EventKind.AGENT_NO_ANSWER, agent="PJSIP/8101")]
    with pytest.raises(NotYourCallError, match="c1 was not taken by PJSIP/8101"):
        taker(CALL, rung, "PJSIP/8101")
    with pytest.raises(NotYourCallError, match="PJSIP/8103"):
        taker(CALL, EVENTS, "PJSIP/8103")
