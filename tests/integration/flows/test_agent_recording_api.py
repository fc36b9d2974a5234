"""Pausing the recording of the agent's own call over the daemon's API, on the sandbox: only
the agent whose phone is on the call can pause it (supervisors, admins, QA 403, other agents
409), a call that is not recorded is a 409 `not-recording`, each change is audited, and the
stored recording has the pause marker."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from zentrale.core.models import AuditEntry, Role
from zentrale.recording.models import Recording, RecordingState
from zentrale.sandbox.simulate import PartyScript, script_party

from .test_call_api import _client, _token

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]
OTHER_ROLES = [("boss", Role.SUPERVISOR), ("root", Role.ADMIN), ("qa", Role.QA)]


async def _place(api: httpx.AsyncClient, number: str, department: str) -> str:
    placed = await api.post("/api/calls", json={"number": number, "department": department})
    assert placed.json()["result"] == "answered", placed.text
    return str(placed.json()["call_id"])


async def _connected(api: httpx.AsyncClient) -> httpx.Response:
    """Wait until the agent's conversation is open (just after the customer answered)."""
    async with asyncio.timeout(10):
        while (state := await api.get("/api/agent/recording")).status_code == 409:  # noqa: ASYNC110 - the daemon's state from outside
            await asyncio.sleep(0.1)
    return state


async def test_only_the_agent_on_the_call_pauses_its_recording(flows) -> None:  # type: ignore[no-untyped-def]
    ayse = await _token(flows, "ayse", Role.AGENT, "Local/A1@sim-agent/n")
    jonas = await _token(flows, "jonas", Role.AGENT, "Local/A2@sim-agent/n")
    others = [await _token(flows, name, role) for name, role in OTHER_ROLES]
    await flows.agent("A1", PartyScript(answer_after=0.2))
    await script_party(flows.asterisk.ari, "number", "+4930999", PartyScript(answer_after=0.2))
    async with _client(flows, ayse) as api, _client(flows, jonas) as other:
        idle = await api.post("/api/agent/recording", json={"paused": True})
        assert idle.status_code == 409
        assert idle.json()["error"]["code"] == "agent-not-on-call"
        call_id = await _place(api, "+4930999", "sales")
        assert (await _connected(api)).json() == {
            "call_id": call_id,
            "recording": True,
            "paused": False,
        }
        bad = await api.post("/api/agent/recording", json={"paused": "later"})
        assert bad.status_code == 422
        paused = await api.post("/api/agent/recording", json={"paused": True})
        assert paused.json() == {"call_id": call_id, "recording": True, "paused": True}
        mine = await other.post("/api/agent/recording", json={"paused": False})
        assert mine.status_code == 409  # Jonas has no call: Ayşe's is not his to touch
        for token in others:
            async with _client(flows, token) as staff:
                refused = await staff.post("/api/agent/recording", json={"paused": False})
                assert refused.status_code == 403
        await asyncio.sleep(1.0)
        resumed = await api.post("/api/agent/recording", json={"paused": False})
        assert resumed.json()["paused"] is False
        await flows.daemon.ari.channels.hangup(
            next(iter(flows.daemon.center.outgoing.values())).customer_leg
        )
    await flows.finished_calls(1)
    async with asyncio.timeout(60):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call_id))
                audits = list(await session.scalars(select(AuditEntry.action)))
            if row is not None and row.state == RecordingState.STORED:
                break
            await asyncio.sleep(0.3)
    ((start, end),) = row.pause_markers
    assert 0.8 < end - start < 4
    assert audits.count("call.recording_paused") == 1
    assert audits.count("call.recording_resumed") == 1


async def test_a_call_that_is_not_recorded_cannot_be_paused(flows) -> None:  # type: ignore[no-untyped-def]
    lena = await _token(flows, "lena", Role.AGENT, "Local/C1@sim-agent/n")
    await flows.agent("C1", PartyScript(answer_after=0.2))
    await script_party(
        flows.asterisk.ari,
        "number",
        "+4930888",
        PartyScript(answer_after=0.2, talk=3, then="hangup"),
    )
    async with _client(flows, lena) as api:
        await _place(api, "+4930888", "solo")  # the solo department records nothing
        assert (await _connected(api)).json()["recording"] is False
        refused = await api.post("/api/agent/recording", json={"paused": True})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "not-recording"
    await flows.finished_calls(1)
