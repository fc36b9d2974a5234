"""Who may use the supervisors' page and monitor calls, on the real sandbox Asterisk.

A simulated customer talks with the sales agent (Local/A1); supervisors' phones are simulated
parties too (Local/S1 answers, Local/S2 never does). Agents and QA are refused every route;
a supervisor of another department sees only their agents and is refused the sales call (403,
entered as `access.denied`); a phone that does not answer leaves nothing in Asterisk; sessions
are switched and stopped by their supervisor or an administrator only, each step audited. The
audio of each mode is measured with real SIP phones in test_sip_monitor.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.sandbox.simulate import CustomerScript, PartyScript

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
SUPERVISOR_PHONE = "Local/S1@sim-agent/n"


async def _token(  # type: ignore[no-untyped-def]
    flows, username: str, role: Role, departments: tuple[str, ...], phone: str | None = None
) -> str:
    users = UserStore(flows.daemon.db)
    user = await users.add(
        NewUser(
            username=username,
            display_name=username.title(),
            password="a long password 1",
            role=role,
            departments=departments,
            agent_endpoint=phone,
        )
    )
    return (await users.issue_token(user.id, "test", 1)).secret


def _client(flows, token: str | None = None) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=flows.daemon.http_url, headers=headers, timeout=60)


async def _connected_call(flows, max_wait: float = 30) -> str:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(max_wait):
        while True:
            for call_id, inbound in flows.daemon.center.active.items():
                if inbound.connected_at is not None:
                    return str(call_id)
            await asyncio.sleep(0.1)


async def _monitor_leftovers(flows) -> list[str]:  # type: ignore[no-untyped-def]
    creds = flows.asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    found: list[str] = []
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:
        for _ in range(50):
            channels = [c["id"] for c in (await http.get("/channels")).json()]
            bridges = [b["id"] for b in (await http.get("/bridges")).json()]
            found = [i for i in channels + bridges if i.startswith("monitor-")]
            if not found:
                return []
            await asyncio.sleep(0.1)
    return found


async def _audit(flows) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    async with flows.daemon.db.read() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


async def test_agents_and_other_departments_are_refused_and_audited(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.3, talk=30, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=40))
    call_id = await _connected_call(flows)
    monitor = f"/api/supervise/calls/{call_id}/monitor"
    routes = (
        ("GET", "/supervise"),
        ("GET", "/api/supervise"),
        ("GET", "/api/supervise/events"),
        ("POST", monitor),
        ("PUT", "/api/supervise/monitors/0123456789abcdef"),
        ("DELETE", "/api/supervise/monitors/0123456789abcdef"),
    )
    async with _client(flows) as anonymous:
        for method, path in routes:
            answer = await anonymous.request(method, path, json={"mode": "listen"})
            assert answer.status_code in (401, 303, 307), (method, path)
    agent = await _token(flows, "ayla", Role.AGENT, ("sales",), "Local/A1@sim-agent/n")
    qa = await _token(flows, "quinn", Role.QA, ("sales",))
    for token in (agent, qa):
        async with _client(flows, token) as api:
            for method, path in routes:
                answer = await api.request(method, path, json={"mode": "listen"})
                assert answer.status_code == 403, (method, path, answer.status_code)
    other = await _token(flows, "otto", Role.SUPERVISOR, ("support",), SUPERVISOR_PHONE)
    async with _client(flows, other) as api:
        shown = (await api.get("/api/supervise")).json()
        assert [a["endpoint"] for a in shown["agents"]] == ["Local/B1@sim-agent/n"]
        assert [q["department"] for q in shown["queues"]] == ["support"]
        refused = await api.post(monitor, json={"mode": "listen"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert "not in your departments" in refused.json()["error"]["message"]
    phoneless = await _token(flows, "pia", Role.SUPERVISOR, ("sales",))
    async with _client(flows, phoneless) as api:
        shown = (await api.get("/api/supervise")).json()
        (row,) = [a for a in shown["agents"] if a["endpoint"] == "Local/A1@sim-agent/n"]
        assert (row["state"], row["call"]["call_id"]) == ("on_call", call_id)
        refused = await api.post(monitor, json={"mode": "listen"})
        assert refused.status_code == 403
        assert "agent_endpoint" in refused.json()["error"]["message"]
    assert flows.daemon.center.monitors.sessions == {}
    denied = [e for e in await _audit(flows) if e.action == "access.denied"]
    routes_denied = [e.detail["route"] for e in denied]
    assert routes_denied.count("supervise.monitor") == 4  # agent, QA, other department, no phone
    assert routes_denied.count("supervise.show") == 2
    assert {e.actor_name for e in denied if e.detail["route"] == "supervise.monitor"} == {
        "ayla",
        "quinn",
        "otto",
        "pia",
    }


async def test_sessions_start_switch_and_stop_by_their_owner_or_an_admin(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.3, talk=40, then="hangup"))
    await flows.agent("S1", PartyScript(answer_after=0.3))
    await flows.agent("S2", PartyScript(mode="noanswer"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=50))
    call_id = await _connected_call(flows)
    monitor = f"/api/supervise/calls/{call_id}/monitor"
    flows.daemon.center.monitors.ring_seconds = 2.0
    deaf = await _token(flows, "dora", Role.SUPERVISOR, ("sales",), "Local/S2@sim-agent/n")
    async with _client(flows, deaf) as api:
        failed = await api.post(monitor, json={"mode": "listen"})
        assert (failed.status_code, failed.json()["error"]["code"]) == (409, "monitor-failed")
        assert "did not answer" in failed.json()["error"]["message"]
    assert await _monitor_leftovers(flows) == []
    flows.daemon.center.monitors.ring_seconds = 15.0
    sue = await _token(flows, "sue", Role.SUPERVISOR, ("sales",), SUPERVISOR_PHONE)
    otto = await _token(flows, "otto", Role.SUPERVISOR, ("sales", "support"))
    admin = await _token(flows, "adam", Role.ADMIN, ())
    async with _client(flows, sue) as api:
        started = await api.post(monitor, json={"mode": "listen"})
        assert started.status_code == 201, started.text
        session = started.json()
        assert (session["mode"], session["recorded"], session["supervisor"]) == (
            "listen",
            False,
            "sue",
        )
        bad = await api.put(f"/api/supervise/monitors/{session['id']}", json={"mode": "shout"})
        assert bad.status_code == 422
    async with _client(flows, otto) as api:
        refused = await api.delete(f"/api/supervise/monitors/{session['id']}")
        assert refused.status_code == 403
    async with _client(flows, admin) as api:
        switched = await api.put(f"/api/supervise/monitors/{session['id']}", json={"mode": "barge"})
        assert (switched.json()["mode"], switched.json()["recorded"]) == ("barge", True)
        shown = (await api.get("/api/supervise")).json()
        (row,) = [a for a in shown["agents"] if a["endpoint"] == "Local/A1@sim-agent/n"]
        assert row["call"]["monitor"]["mode"] == "barge"
    async with _client(flows, sue) as api:
        stopped = await api.delete(f"/api/supervise/monitors/{session['id']}")
        assert stopped.status_code == 200
        gone = await api.delete(f"/api/supervise/monitors/{session['id']}")
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "monitor-not-found")
    assert await _monitor_leftovers(flows) == []
    entries = [e for e in await _audit(flows) if e.action.startswith("monitor.")]
    assert [(e.action, e.actor_name, e.detail["mode"]) for e in entries] == [
        ("monitor.start", "dora", "listen"),
        ("monitor.start", "sue", "listen"),
        ("monitor.switch", "adam", "barge"),
        ("monitor.stop", "sue", "barge"),
        ("monitor.ended", "sue", "barge"),
    ]
    assert {e.target for e in entries} == {f"call:{call_id}"}
    assert entries[-1].detail["reason"] == "stopped"
    assert entries[0].detail["agent"] == "Local/A1@sim-agent/n"


async def test_a_supervisor_who_hangs_up_ends_the_session(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.agent("A1", PartyScript(answer_after=0.3, talk=30, then="hangup"))
    await flows.agent("S1", PartyScript(answer_after=0.3, talk=2, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=40))
    call_id = await _connected_call(flows)
    sue = await _token(flows, "sue", Role.SUPERVISOR, ("sales",), SUPERVISOR_PHONE)
    async with _client(flows, sue) as api:
        started = await api.post(
            f"/api/supervise/calls/{call_id}/monitor", json={"mode": "whisper"}
        )
        assert started.status_code == 201, started.text
    (session,) = flows.daemon.center.monitors.sessions.values()
    await asyncio.wait_for(session.ended.wait(), 15)
    assert session.end_reason == "supervisor_hung_up"
    assert await _monitor_leftovers(flows) == []
    assert flows.daemon.center.active[call_id].agent_leg is not None  # the call goes on
    (ended,) = [e for e in await _audit(flows) if e.action == "monitor.ended"]
    assert (ended.actor_name, ended.detail["reason"]) == ("sue", "supervisor_hung_up")
