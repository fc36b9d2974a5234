"""No translation between a caller and the agent rung for them, on real SIP.

A carrier (SIPp, PCMU) calls the sandbox's trunk, presses 1 and is put through to a simulated
agent (a Local channel). zentrale rings the agent for the caller (ARI `originator`), so Asterisk
asks the agent's channel for the caller's codec: both talk PCMU, and nothing is resampled.
Without it Asterisk offers every audio format it has, and the Local channel picks the widest
(`slin192`): every frame of the conversation was then resampled, which cost Asterisk four
times the CPU of the same call in dialplan (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from zentrale.config.settings import TrunkSettings
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import PartyScript, script_party
from zentrale.testing.sip import CarrierScript, Key, carrier_call, have_tools

from .conftest import MONDAY_10, daemon_settings

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:beep
  bye: sound:vm-goodbye
announcements: {}
departments:
  desk:
    agents: [{endpoint: "Local/C1@sim-agent/n", name: Cem}]
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
    recording: true
menus:
  main:
    prompt: menu
    options: {"1": {department: desk}}
    timeout: 5s
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - {name: everyone, action: {menu: main}}
"""
TRUNK = {"endpoint": "carrier", "country": "DE"}


@pytest_asyncio.fixture
async def daemon(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Daemon]:
    settings = daemon_settings(tmp_path, RULES).model_copy(
        update={"trunks": {"carrier-de": TrunkSettings.model_validate(TRUNK)}}
    )
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        yield running


async def _formats_while_connected(ari: httpx.AsyncClient) -> dict[str, str]:
    """Wait for the agent's leg in the conversation; return each channel's native format."""
    async with asyncio.timeout(30):
        while True:
            channels = (await ari.get("/channels")).json()
            agent = [c for c in channels if c["id"].startswith("agent-") and c["state"] == "Up"]
            caller = [c for c in channels if c["name"].startswith("PJSIP/carrier")]
            if agent and caller:
                found = {}
                for role, channel in (("agent", agent[0]), ("caller", caller[0])):
                    reply = await ari.get(
                        f"/channels/{channel['id']}/variable",
                        params={"variable": "CHANNEL(audionativeformat)"},
                    )
                    assert reply.status_code == 200, reply.text
                    found[role] = reply.json()["value"]
                return found
            await asyncio.sleep(0.1)


async def test_the_agent_is_rung_with_the_callers_codec(
    daemon: Daemon, asterisk: SandboxInstance, tmp_path: Path
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "C1", PartyScript(answer_after=0.3, talk=6, then="hangup"))
    call = asyncio.create_task(
        carrier_call(
            sip_port=asterisk.sip_port,
            carrier_port=asterisk.carrier_port,
            script=CarrierScript(did="0301234599", keys=(Key("1", 0.8),), hold=15),
            workdir=tmp_path / "carrier",
        )
    )
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth, timeout=10) as ari:
        formats = await _formats_while_connected(ari)
    assert formats == {"agent": "(ulaw)", "caller": "(ulaw)"}
    done = await call
    assert done.returncode == 0, done.output
