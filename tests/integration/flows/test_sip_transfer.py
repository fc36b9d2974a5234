"""Transfers through the agent's API on real SIP: a caller from the carrier (SIPp, 440 Hz)
reaches Deniz at the desk (baresip 8001, 1000 Hz); Deniz consults Emre in the back office
(baresip 8002, 1500 Hz) and completes or cancels, or blind-transfers to the back office.

The requests go over HTTP to the daemon's `/api/agent/...` routes with Deniz's token; the
daemon carries them out over ARI. What the caller hears and says is measured in the stored
two-party recordings: each party's tone in its own channel, as the two-party tests measure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.stats.agent_store import agent_figures
from zentrale.stats.spec import ReportSpec
from zentrale.testing.sip import CarrierScript, Key, agent_phone, have_tools

from .conftest import MONDAY_10, daemon_settings
from .test_sip_calls import SipFlows, _registered
from .test_sip_more import RULES, _audio_of, _connected, _party_levels, _recordings

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]


@pytest_asyncio.fixture
async def sip(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[SipFlows]:
    settings = daemon_settings(tmp_path, RULES, two_party=True)
    recording = settings.recording.model_copy(update={"format": "wav"})
    settings = settings.model_copy(update={"recording": recording})
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield SipFlows(daemon, asterisk, tmp_path)


async def _agent_api(sip: SipFlows, endpoint: str) -> httpx.AsyncClient:
    users = UserStore(sip.daemon.db)
    user = await users.add(
        NewUser(
            username=f"agent{endpoint[-4:]}",
            display_name="Deniz",
            password="a long password 1",
            role=Role.AGENT,
            departments=("desk",),
            agent_endpoint=endpoint,
        )
    )
    token = (await users.issue_token(user.id, "test", 1)).secret
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=sip.daemon.http_url, headers=headers, timeout=30)


async def _phase(api: httpx.AsyncClient, phase: str, max_wait: float = 20) -> dict[str, str]:
    """Wait until the agent's transfer state reaches PHASE; return it."""
    async with asyncio.timeout(max_wait):
        while True:
            state = (await api.get("/api/agent/transfer")).json()
            if state.get("phase") == phase:
                return dict(state)
            await asyncio.sleep(0.2)


def _transfers(events: list) -> list[dict[str, object]]:  # type: ignore[type-arg]
    return [dict(e.detail) for e in events if e.kind == "transfer"]


async def test_sip_attended_transfer_consult_then_complete_through_the_api(
    sip: SipFlows,
) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1") as desk,
        agent_phone(
            "8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500
        ) as office,
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=30)))
        call_id = await _connected(sip)
        early = await api.post("/api/agent/consult/complete", json={})
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "transfer-wrong-state"
        assert "consult first" in early.json()["error"]["message"]
        unknown = await api.post("/api/agent/consult", json={"to": "department", "target": "x"})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (
            404,
            "transfer-target-unknown",
        )
        await asyncio.sleep(3)  # Deniz talks to the caller
        asked = await api.post(
            "/api/agent/consult", json={"to": "department", "target": "backoffice"}
        )
        assert asked.status_code == 202, asked.text
        assert asked.json()["call_id"] == call_id
        consulting = await _phase(api, "consulting")
        assert consulting["consulted"] == "PJSIP/8002"
        await asyncio.sleep(3)  # Deniz and Emre talk; the caller hears music
        done = await api.post("/api/agent/consult/complete", json={})
        assert done.status_code == 202, done.text
        await asyncio.sleep(1)
        gone = await api.get("/api/agent/transfer")
        # Deniz is off the call (after-call work), the caller talks to Emre until 30 s.
        assert (gone.status_code, gone.json()["error"]["code"]) == (409, "agent-not-on-call")
        assert sip.daemon.board.view("PJSIP/8001").state.value in ("wrap_up", "idle")
        await caller
        call = await sip.finished_call()
        logs = desk.log()[-1500:] + office.log()[-1500:]
    events = await sip.events(call.id)
    assert _transfers(events) == [
        {"mode": "attended", "by": "PJSIP/8001", "consult": "department:backoffice"},
        {
            "mode": "attended",
            "by": "PJSIP/8001",
            "consult": "department:backoffice",
            "agent": "PJSIP/8002",
            "outcome": "answered",
        },
        {
            "mode": "attended",
            "by": "PJSIP/8001",
            "to": "department:backoffice",
            "outcome": "completed",
        },
    ], logs
    answered = [e.detail["agent"] for e in events if e.kind == "agent_answered"]
    assert answered == ["PJSIP/8001", "PJSIP/8002"]
    assert (call.agent_endpoint, call.agent_name, call.department) == (
        "PJSIP/8002",
        "Emre",
        "backoffice",
    )
    assert call.transfers == 1
    # Deniz with the caller; Deniz with Emre (the consultation, recorded: the back office
    # records); the caller with Emre.
    first, consult, second = (_audio_of(sip, row) for row in await _recordings(sip, call.id, 3))
    one, two = _party_levels(first, 1000), _party_levels(consult, 1500)
    three = _party_levels(second, 1500)
    print("attended levels", one, two, three)
    assert one["customer"][0] > 500
    assert one["agent"][0] > 500
    assert three["customer"][0] > 500, three  # the caller's speech, after the transfer
    assert three["agent"][0] > 500, three  # Emre's, in the same call's recording
    assert _party_levels(second, 1000)["agent"][0] < 50  # Deniz has left
    assert two["agent"][0] > 500, two  # Emre in the consultation's recording
    assert _party_levels(consult, 1000)["customer"][1] > 500  # and Deniz (left channel)
    assert max(two["customer"][0], two["agent"][1]) < 50, two  # the caller (440 Hz) is not
    async with sip.daemon.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert {"call.consult", "call.complete"} <= set(actions)
    assert await sip.daemon.ari.channels.list() == []


async def test_sip_consultation_cancelled_brings_the_agent_back_to_the_caller(
    sip: SipFlows,
) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1"),
        agent_phone("8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500),
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=24)))
        await _connected(sip)
        await asyncio.sleep(2)
        asked = await api.post("/api/agent/consult", json={"to": "agent", "target": "PJSIP/8002"})
        assert asked.status_code == 202, asked.text
        await _phase(api, "consulting")
        await asyncio.sleep(2)
        back = await api.post("/api/agent/consult/cancel", json={})
        assert back.status_code == 202, back.text
        state = await _phase(api, "talking")
        async with asyncio.timeout(10):
            while state["last"] != "cancelled":
                await asyncio.sleep(0.2)
                state = (await api.get("/api/agent/transfer")).json()
        assert sip.daemon.board.view("PJSIP/8002").state.value == "idle"  # Emre is free again
        await caller
        call = await sip.finished_call()
    events = await sip.events(call.id)
    assert [t.get("outcome") for t in _transfers(events)] == [None, "answered", "cancelled"]
    assert call.transfers == 0
    assert (call.agent_endpoint, call.department) == ("PJSIP/8001", "desk")
    # Deniz with the caller, then with the caller again. The consultation is not recorded:
    # PJSIP/8002's first department in the rules is `pair`, which does not record.
    rows = await _recordings(sip, call.id, 2)
    assert len(rows) == 2, rows
    back_again = _party_levels(_audio_of(sip, rows[1]), 1000)
    print("after cancel", back_again)
    assert min(back_again["customer"][0], back_again["agent"][0]) > 500
    assert _party_levels(_audio_of(sip, rows[1]), 1500)["agent"][0] < 50  # Emre is gone


async def test_sip_consulted_agent_not_answering_brings_the_agent_back(sip: SipFlows) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1"),
        agent_phone("8002", password=password, sip_port=port, workdir=sip.tmp / "p2", answer=False),
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=22)))
        await _connected(sip)
        asked = await api.post(
            "/api/agent/consult", json={"to": "department", "target": "backoffice"}
        )
        assert asked.status_code == 202, asked.text
        assert (await _phase(api, "ringing"))["target"] == "department:backoffice"
        state = await _phase(api, "talking", max_wait=15)  # 8 s ring timeout
        assert state["last"] == "no_answer"
        await caller
        call = await sip.finished_call()
    outcomes = [t.get("outcome") for t in _transfers(await sip.events(call.id))]
    assert outcomes == [None, "no_answer"]
    assert call.agent_endpoint == "PJSIP/8001"


async def test_sip_blind_transfer_to_a_department_through_the_agent_api(sip: SipFlows) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1"),
        agent_phone("8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500),
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=18)))
        await _connected(sip)
        await asyncio.sleep(3)
        moved = await api.post(
            "/api/agent/transfer", json={"to": "department", "target": "backoffice"}
        )
        assert moved.status_code == 202, moved.text
        await caller
        call = await sip.finished_call()
        # Both agents wrap the call up, each once, each in the department they took it in.
        async with await _agent_api(sip, "PJSIP/8002") as emre:
            for agent, notes in ((api, "passed on"), (emre, "sorted out")):
                saved = await agent.put(f"/api/calls/{call.id}/wrapup", json={"notes": notes})
                assert saved.status_code == 200, saved.text
            again = await emre.put(f"/api/calls/{call.id}/wrapup", json={"notes": "twice"})
            assert (again.status_code, again.json()["error"]["code"]) == (409, "wrapup-done")
            listed = (await emre.get(f"/api/calls/{call.id}/wrapups")).json()
            mine = (await api.get(f"/api/calls/{call.id}/wrapups")).json()
    assert [(w["agent_endpoint"], w["department"], w["notes"]) for w in listed] == [
        ("PJSIP/8001", "desk", ["passed on"]),
        ("PJSIP/8002", "backoffice", ["sorted out"]),
    ]
    assert [w["agent_endpoint"] for w in mine] == ["PJSIP/8001"]  # Deniz handed the call on
    # Each agent's talk is their own conversation: Deniz's ~3 s before the transfer, Emre's after.
    day = call.arrived_at.date()
    spec = ReportSpec(
        group="agent", period="day", first_day=day, last_day=day, zone=ZoneInfo("UTC")
    )
    async with sip.daemon.db.read() as session:
        rows = await agent_figures(session, spec, None, dt.datetime.now(dt.UTC))
    talk = {row.endpoint: (round(row.talk, 1), row.calls) for row in rows}
    print("talk per agent", talk)
    assert set(talk) == {"PJSIP/8001", "PJSIP/8002"}
    assert [calls for _seconds, calls in talk.values()] == [1, 1]
    assert 2 < talk["PJSIP/8001"][0] < 8, talk
    assert talk["PJSIP/8002"][0] > 3, talk
    events = await sip.events(call.id)
    assert _transfers(events) == [
        {"mode": "blind", "by": "PJSIP/8001", "to": "department:backoffice"}
    ]
    assert (call.agent_endpoint, call.transfers) == ("PJSIP/8002", 1)
    second = _party_levels(_audio_of(sip, (await _recordings(sip, call.id, 2))[1]), 1500)
    assert min(second["customer"][0], second["agent"][0]) > 500, second


async def test_sip_caller_hanging_up_during_the_consultation_frees_both_agents(
    sip: SipFlows,
) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1"),
        agent_phone("8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500),
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        # The caller hangs up at 14 s, on hold while Deniz and Emre talk.
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=14)))
        await _connected(sip)
        asked = await api.post(
            "/api/agent/consult", json={"to": "department", "target": "backoffice"}
        )
        assert asked.status_code == 202, asked.text
        await _phase(api, "consulting")
        await caller
        call = await sip.finished_call()
        late = await api.post("/api/agent/consult/complete", json={})
        channels = await sip.daemon.ari.channels.list()
    assert (late.status_code, late.json()["error"]["code"]) == (409, "agent-not-on-call")
    outcomes = [t.get("outcome") for t in _transfers(await sip.events(call.id))]
    assert outcomes == [None, "answered", "caller_gone"]
    assert call.transfers == 0
    assert channels == []  # neither agent's leg nor the consultation's bridge members are left
    for endpoint in ("PJSIP/8001", "PJSIP/8002"):
        assert sip.daemon.board.view(endpoint).state.value != "on_call", endpoint


async def test_transfer_routes_act_only_on_the_agents_own_call(sip: SipFlows) -> None:
    users = UserStore(sip.daemon.db)

    async def client(name: str, role: Role, endpoint: str | None = None) -> httpx.AsyncClient:
        user = await users.add(
            NewUser(
                username=name,
                display_name=name,
                password="a long password 1",
                role=role,
                departments=("desk",),
                agent_endpoint=endpoint,
            )
        )
        token = (await users.issue_token(user.id, "t", 1)).secret
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=sip.daemon.http_url, headers=headers, timeout=30)

    body = {"to": "department", "target": "backoffice"}
    async with await client("q", Role.QA) as qa:
        assert (await qa.post("/api/agent/consult", json=body)).status_code == 403
    async with await client("a", Role.AGENT, "PJSIP/8001") as agent:
        idle = await agent.post("/api/agent/consult", json=body)
        assert (idle.status_code, idle.json()["error"]["code"]) == (409, "agent-not-on-call")
        bad = await agent.post("/api/agent/transfer", json={"to": "menu", "target": "main"})
        assert bad.status_code == 422  # only a department or an agent
        targets = (await agent.get("/api/agent/transfer/targets")).json()
        assert targets["departments"] == ["backoffice", "desk", "pair"]
        assert {"endpoint": "PJSIP/8002", "name": "Offline"} in targets["agents"]
        assert all(a["endpoint"] != "PJSIP/8001" for a in targets["agents"])  # not oneself
    async with await client("s", Role.SUPERVISOR) as supervisor:
        unnamed = await supervisor.post("/api/agent/consult/cancel", json={})
        assert unnamed.status_code == 422
        assert "call_id" in unnamed.json()["error"]["message"]
        other = await supervisor.post("/api/agent/consult/cancel", json={"call_id": "a" * 32})
        assert other.json()["error"]["code"] == "agent-not-on-call"


async def test_sip_blind_transfer_to_a_named_agent_through_the_agent_api(sip: SipFlows) -> None:
    password = sip.asterisk.phone_password.get_secret_value()
    port = sip.asterisk.sip_port
    async with (
        agent_phone("8001", password=password, sip_port=port, workdir=sip.tmp / "p1"),
        agent_phone("8002", password=password, sip_port=port, workdir=sip.tmp / "p2", freq=1500),
        await _agent_api(sip, "PJSIP/8001") as api,
    ):
        await _registered(sip, "PJSIP/8001")
        await _registered(sip, "PJSIP/8002")
        caller = asyncio.create_task(sip.call(CarrierScript(keys=[Key("2", 2.0)], hold=18)))
        await _connected(sip)
        await asyncio.sleep(3)
        moved = await api.post("/api/agent/transfer", json={"to": "agent", "target": "PJSIP/8002"})
        assert moved.status_code == 202, moved.text
        await asyncio.sleep(1)
        assert (await api.get("/api/agent/transfer")).status_code == 409  # Deniz is free
        await caller
        call = await sip.finished_call()
    events = await sip.events(call.id)
    assert _transfers(events) == [{"mode": "blind", "by": "PJSIP/8001", "to": "agent:PJSIP/8002"}]
    # PJSIP/8002's first department (pair) does not record: only Deniz's conversation is.
    assert (call.agent_endpoint, call.department, call.transfers) == ("PJSIP/8002", "pair", 1)
    rows = await _recordings(sip, call.id, 1)
    assert len(rows) == 1
    assert _party_levels(_audio_of(sip, rows[0]), 1000)["agent"][0] > 500  # Deniz recorded
