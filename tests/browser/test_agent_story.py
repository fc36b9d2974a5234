"""The agents' story end to end, in Chromium against the sandbox Asterisk and the real daemon: a
caller from the carrier (SIPp on the sandbox's trunk, a 440 Hz voice in RTP) rings Ayla's
softphone in her workspace (JsSIP, WebRTC); the screen pop shows the known caller with the
customer number missing; Ayla answers, fills it in (the API then has it), opens the desk's script
(the caller's record in it), consults Emre in the back office (a second signed-in workspace),
Emre answers, Ayla completes (the caller now talks to Emre) and wraps the call up with a
disposition and a suggestion. The API then shows the record, the wrap-up, the suggestions report
and the transfer on the call's timeline; the stored recording of Ayla's conversation has her
microphone's speech (a prompt spoken by a person) in the agent channel and the caller's voice in
the customer channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from zentrale.config.settings import AgentSettings, ApiSettings, KnowledgeSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers import store as customers
from zentrale.daemon import Daemon
from zentrale.recording import audio, talk
from zentrale.sandbox import SandboxInstance
from zentrale.testing.sip import CarrierScript, carrier_call, have_tools

from .conftest import ARGS, CHROMIUM, fake_microphone, workspace
from .test_agent_workspace import CALLER, PASSWORD, _level, _online, _stored, flow_fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asterisk,
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]
RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  bye: sound:vm-goodbye
announcements: {}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8101", name: Ayla}]
    ring_timeout: 20s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 5m
    recording: true
    dispositions:
      - {code: solved, label: Solved}
      - {code: passed_on, label: Passed on}
  backoffice:
    agents: [{endpoint: "PJSIP/8102", name: Emre}]
    ring_timeout: 20s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
    recording: false
entry_rules:
  - {name: everyone, action: {department: desk}}
"""
SCRIPT = """---
title: Desk script
departments: [desk]
---
Good day, am I speaking with **{customer.name}**? Your customer number: {customer.customer_number}
"""
SUGGESTION = "Put the back office's hours on the website"
# Prompts a person speaks in the sandbox's sounds: what Ayla's fake microphone says, looped.
SPEECH = ("hello-world", "conf-now-recording", "auth-thankyou", "vm-goodbye")


@pytest_asyncio.fixture
async def story(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon with Ayla (desk) and Emre (back office), a supervisor's API client, the desk's
    script and the caller's record without a customer number."""
    knowledge = tmp_path / "knowledge"
    (knowledge / "scripts").mkdir(parents=True)
    (knowledge / "scripts" / "desk.md").write_text(SCRIPT)
    settings = flow_fixtures.daemon_settings(tmp_path, RULES, two_party=True)
    settings = settings.model_copy(
        update={
            "api": ApiSettings(cookie_secure=False),
            "agents": AgentSettings(
                websocket_url=asterisk.websocket_url, sip_password=asterisk.phone_password
            ),
            "knowledge": KnowledgeSettings(dir=knowledge, history_dir=tmp_path / "kb-history"),
            "recording": settings.recording.model_copy(update={"format": "wav"}),
        }
    )
    now = flow_fixtures.MONDAY_10
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        users = UserStore(running.db)
        for name, role, departments, endpoint in (
            ("ayla", Role.AGENT, ("desk",), "PJSIP/8101"),
            ("emre", Role.AGENT, ("backoffice",), "PJSIP/8102"),
            ("selin", Role.SUPERVISOR, ("desk", "backoffice"), None),
        ):
            user = await users.add(
                NewUser(
                    username=name,
                    display_name=name.title(),
                    password=PASSWORD,
                    role=role,
                    departments=departments,
                    agent_endpoint=endpoint,
                )
            )
        token = (await users.issue_token(user.id, "test", 1)).secret
        async with running.db.write() as session:
            new = customers.NewCustomer(numbers=[CALLER], name="Zeynep Kaya", language="tr")
            await customers.create(session, new, now)
        flows = flow_fixtures.Flows(running, asterisk)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=running.http_url, headers=auth) as api:
            flows.api = api  # type: ignore[attr-defined]
            yield flows


@pytest_asyncio.fixture
async def speaking_browser(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium whose fake microphone speaks the sandbox's prompts (48 kHz WAV)."""
    sounds = asterisk.root / "usr/share/asterisk/sounds/en_US_f_Allison"
    parts = [audio.AudioSegment.from_file(str(sounds / f"{n}.gsm"), format="gsm") for n in SPEECH]
    speech = tmp_path / "speech.wav"
    joined = sum(parts[1:], parts[0]).set_frame_rate(48000).set_sample_width(2)
    joined.export(str(speech), format="wav").close()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS + fake_microphone(speech)
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _agent_state(api: httpx.AsyncClient, endpoint: str, state: str) -> None:
    async with asyncio.timeout(15):
        while True:
            agents = {a["endpoint"]: a["state"] for a in (await api.get("/api/agents")).json()}
            if agents.get(endpoint) == state:
                return
            await asyncio.sleep(0.2)


def _speech_seconds(samples: audio.AudioSegment) -> float:
    pcm = bytes(samples.set_sample_width(2).raw_data)
    return sum(s.seconds for s in talk.speech_segments(pcm, 8000, "agent"))


async def test_a_sip_caller_is_served_transferred_and_wrapped_up_in_the_workspace(
    story: Any, speaking_browser: Browser, tmp_path: Path
) -> None:
    url, api = story.daemon.http_url, story.api
    (ayla_context, ayla), (emre_context, emre) = [
        await workspace(speaking_browser, url, user, PASSWORD) for user in ("ayla", "emre")
    ]
    await _online(story, "PJSIP/8101")
    await _online(story, "PJSIP/8102")
    script = CarrierScript(caller=CALLER, hold=90)
    sandbox = story.asterisk
    caller = asyncio.create_task(
        carrier_call(
            sip_port=sandbox.sip_port,
            carrier_port=sandbox.carrier_port,
            script=script,
            workdir=tmp_path / "sipp",
        )
    )

    # 1-2. The SIP call rings Ayla's page; the pop shows the caller, the missing field marked.
    pop = ayla.locator("#screen-pop")
    await expect(pop).to_be_visible(timeout=30_000)
    await expect(pop.locator('[data-field="caller"]')).to_have_text(CALLER)
    await expect(pop.locator('[data-field="name"]')).to_have_text("Zeynep Kaya")
    number = pop.locator('[data-field="customer_number"]')
    await expect(number).to_have_class("missing-field")
    await expect(ayla.locator("#answer")).to_be_enabled(timeout=20_000)

    # 3. Ayla answers, completes the record inline and opens the desk's script.
    await ayla.locator("#answer").click()
    status = ayla.locator("#transfer-status")
    await expect(status).to_have_attribute("data-phase", "talking", timeout=15_000)
    await pop.get_by_label("Customer number").fill("K-1001")
    await pop.get_by_role("button", name="Save").click()
    await expect(pop.locator("#complete-status")).to_have_text("Saved")
    await expect(number).not_to_have_class("missing-field")
    (record,) = (await api.get("/api/customers", params={"number": CALLER})).json()
    assert (record["customer_number"], record["missing"]) == ("K-1001", [])
    await ayla.get_by_role("button", name="Open script").click()
    shown = ayla.locator("#call-script")
    await expect(shown.locator('[data-field="name"]')).to_have_text("Zeynep Kaya")
    await expect(shown.locator('[data-field="customer_number"]')).to_have_text("K-1001")
    await ayla.wait_for_timeout(2_000)  # Ayla and the caller talk: both into the recording

    # 4. Attended transfer: Ayla consults the back office, Emre answers, Ayla completes.
    await ayla.locator("#transfer-target").select_option("department:backoffice")
    await ayla.locator("#transfer-consult").click()
    await expect(emre.locator("#answer")).to_be_enabled(timeout=20_000)
    await emre.locator("#answer").click()
    await expect(status).to_have_attribute("data-phase", "consulting", timeout=15_000)
    await ayla.locator("#transfer-complete").click()
    await expect(ayla.locator("#call-status")).to_have_attribute(
        "data-status", "ended", timeout=15_000
    )
    await expect(emre.locator("#transfer-status")).to_have_attribute(
        "data-phase", "talking", timeout=15_000
    )
    await _agent_state(api, "PJSIP/8102", "on_call")  # the caller is with Emre now
    assert not caller.done()

    # 5. Ayla wraps up (after-call work) while Emre talks to the caller.
    await expect(ayla.locator("#agent-state")).to_have_attribute(
        "data-state", "after_call_work", timeout=10_000
    )
    await ayla.locator("#wrapup-disposition").select_option("passed_on")
    await ayla.locator("#wrapup-suggestion").fill(SUGGESTION)
    await ayla.locator("#wrapup-save").click()
    await expect(ayla.locator("#wrapup-status")).to_have_attribute("data-status", "saved")
    await emre.locator("#hangup").click()
    done = await asyncio.wait_for(caller, 30)
    assert done.returncode == 0, done.output

    # 6. What the API shows afterwards.
    (call,) = await story.finished_calls(1, max_wait=60)
    assert (call.agent_endpoint, call.transfers) == ("PJSIP/8102", 1)
    wrap = (await api.get(f"/api/calls/{call.id}/wrapup")).json()
    assert (wrap["agent_endpoint"], wrap["department"]) == ("PJSIP/8101", "desk")
    assert (wrap["disposition"], wrap["suggestion"]) == ("passed_on", SUGGESTION)
    # Ayla handed the call on, yet the wrap-up she wrote is hers to read.
    mine = await ayla.context.request.get(f"{url}/api/calls/{call.id}/wrapup")
    assert mine.status == 200, await mine.text()
    assert (await mine.json())["disposition"] == "passed_on"
    day = call.arrived_at.astimezone(ZoneInfo("Europe/Istanbul")).date().isoformat()
    report = await api.get("/api/stats/suggestions", params={"from": day, "to": day})
    (listed,) = report.json()["suggestions"]
    assert (listed["text"], listed["agent"], listed["department"], listed["call_id"]) == (
        SUGGESTION,
        "Ayla",
        "desk",
        call.id,
    )
    row = await _stored(story, call.id, tmp_path)  # Ayla's conversation (the back office does
    # not record)
    recordings = (await api.get("/api/recordings")).json()["items"]
    (item,) = [r for r in recordings if r["call_id"] == call.id]
    timeline = (await api.get(f"/api/recordings/{item['id']}")).json()["timeline"]
    transfers = [e["detail"] for e in timeline if e["kind"] == "transfer"]
    assert transfers[-1] == {
        "mode": "attended",
        "by": "PJSIP/8101",
        "to": "department:backoffice",
        "outcome": "completed",
    }

    # 7. Ayla's speech in the agent channel, the caller's voice in the customer channel.
    customer, agent = (part.set_frame_rate(8000) for part in row.split_to_mono())
    figures = {
        "agent speech s": _speech_seconds(agent),
        "agent 440 Hz": _level(list(agent.get_array_of_samples()), 440),
        "customer rms": customer.rms,
        "customer 440 Hz": _level(list(customer.get_array_of_samples()), 440),
    }
    print("Ayla's recording:", figures)
    # The speech detector of the talk figures finds Ayla speaking; the caller's steady voice
    # (a tone: no pauses for a speech detector) is far above its silence floor.
    assert figures["agent speech s"] > 1.0
    assert figures["customer rms"] > talk.VOICE_RMS
    assert figures["customer 440 Hz"] > 500
    assert figures["agent 440 Hz"] < figures["customer 440 Hz"] / 10  # not the caller's voice
    for context in (ayla_context, emre_context):
        await context.close()
