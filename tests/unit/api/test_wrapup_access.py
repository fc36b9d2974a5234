"""Who may read a call's wrap-up: after a transfer, the wrap-up's own department counts too."""

from __future__ import annotations

import datetime as dt

from zentrale.api.routes_wrapup import may_read
from zentrale.calls.models import Call
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.customers.models import CallWrapUp
from zentrale.customers.wrapup import WrapUpRecord, of_agent


def _user(role: Role, departments: tuple[str, ...] = (), endpoint: str | None = None) -> Principal:
    return Principal("u", "u", "U", role, departments, endpoint, "session", None)


def test_a_wrap_up_stored_under_an_earlier_department_is_read_by_its_supervisors() -> None:
    call = Call(id="c1", department="support", agent_endpoint="PJSIP/b")  # transferred on
    stored = CallWrapUp(
        call_id="c1",
        agent_endpoint="PJSIP/a",
        department="sales",
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    record = WrapUpRecord(stored, [], [])
    assert may_read(_user(Role.SUPERVISOR, ("sales",)), call, record)
    assert may_read(_user(Role.SUPERVISOR, ("support",)), call, record)
    assert not may_read(_user(Role.SUPERVISOR, ("billing",)), call, record)
    assert may_read(_user(Role.AGENT, endpoint="PJSIP/a"), call, record)
    assert not may_read(_user(Role.AGENT, endpoint="PJSIP/c"), call, record)
    assert not may_read(_user(Role.SUPERVISOR, ("sales",)), call, None)


def test_of_two_agents_wrap_ups_each_reader_sees_those_in_their_scope() -> None:
    call = Call(id="c1", department="support", agent_endpoint="PJSIP/b")  # a handed it to b
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    first = WrapUpRecord(
        CallWrapUp(call_id="c1", agent_endpoint="PJSIP/a", department="sales", created_at=at),
        [],
        [],
    )
    second = WrapUpRecord(
        CallWrapUp(call_id="c1", agent_endpoint="PJSIP/b", department="support", created_at=at),
        [],
        [],
    )

    def readable(user: Principal) -> list[str]:
        return [r.wrapup.agent_endpoint for r in (first, second) if may_read(user, call, r)]

    assert readable(_user(Role.AGENT, endpoint="PJSIP/a")) == ["PJSIP/a"]
    assert readable(_user(Role.AGENT, endpoint="PJSIP/b")) == ["PJSIP/a", "PJSIP/b"]
    assert readable(_user(Role.SUPERVISOR, ("sales",))) == ["PJSIP/a"]
    assert readable(_user(Role.SUPERVISOR, ("support",))) == ["PJSIP/a", "PJSIP/b"]
    assert of_agent([first, second], "PJSIP/b") is second
    assert of_agent([first, second], None) is None
