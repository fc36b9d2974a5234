"""An attended transfer done in the workspace, between two browser agents on the sandbox
Asterisk: Ayla (PJSIP/8101, her fake microphone a 1 kHz tone) answers a caller, consults Emre
in the back office from the page (PJSIP/8102, a second Chromium whose microphone says 1.5 kHz),
Emre answers in his page, Ayla completes; the caller then talks to Emre, which the stored
recording of that conversation shows (Emre's tone in the agent channel), and the timeline has
the transfer. Every transfer phase the pages show is pushed on their event streams: neither
page reads the transfer state by polling."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from zentrale.calls.models import Outcome
from zentrale.config.settings import AgentSettings, ApiSettings
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript
from zentrale.testing.recordings import decrypt

from .conftest import ARGS, CHROMIUM, SCREENSHOTS, fake_microphone, workspace
from .test_agent_workspace import PASSWORD, _level, _online, flow_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
announcements: {}
departments:
  desk:
    agents: [{endpoint: "PJSIP/8101", name: Ayla}]
    ring_timeout: 20s
    max_wait: 25s
    on_max_wait: {play_and_hangup: bye}
    recording: true
  backoffice:
    agents: [{endpoint: "PJSIP/8102", name: Emre}]
    ring_timeout: 20s
    max_wait: 25s
    on_max_wait: {play_and_hangup: bye}
    recording: true
menus:
  main:
    prompt: menu
    options: {"1": {department: desk}}
    timeout: 3s
    retries: 0
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - {name: everyone, action: {menu: main}}
"""


@pytest_asyncio.fixture
async def office(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon with two browser agents' accounts: ayla (desk) and emre (back office)."""
    settings = flow_fixtures.daemon_settings(tmp_path, RULES, two_party=True).model_copy(
        update={
            "api": ApiSettings(cookie_secure=False),
            "agents": AgentSettings(
                websocket_url=asterisk.websocket_url, sip_password=asterisk.phone_password
            ),
        }
    )
    now = flow_fixtures.MONDAY_10
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: now
    ) as running:
        await running.ari.wait_resynced(max_wait=10)
        users = UserStore(running.db)
        for name, department, endpoint in (
            ("ayla", "desk", "PJSIP/8101"),
            ("emre", "backoffice", "PJSIP/8102"),
        ):
            await users.add(
                NewUser(
                    username=name,
                    display_name=name.title(),
                    password=PASSWORD,
                    role=Role.AGENT,
                    departments=(department,),
                    agent_endpoint=endpoint,
                )
            )
        yield flow_fixtures.Flows(running, asterisk)


def _tone(path: Path, freq: int) -> Path:
    argv = ["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path)]
    subprocess.run([*argv, "synth", "90", "sine", str(freq), "vol", "0.5"], check=True)
    return path


@pytest_asyncio.fixture
async def browsers(tmp_path: Path) -> AsyncIterator[tuple[Browser, Browser]]:
    """Two Chromiums, each with a fake microphone of its own tone (1 kHz and 1.5 kHz)."""
    async with async_playwright() as playwright:
        started = []
        try:
            for freq in (1000, 1500):
                media = fake_microphone(_tone(tmp_path / f"{freq}.wav", freq))
                started.append(
                    await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS + media)
                )
            yield started[0], started[1]
        finally:
            for browser in started:
                await browser.close()


async def _recordings(flows: Any, call_id: str, tmp_path: Path) -> list[audio.AudioSegment]:
    import asyncio

    async with asyncio.timeout(90):
        while True:
            async with flows.daemon.db.read() as session:
                query = select(Recording).where(Recording.call_id == call_id)
                rows = list(await session.scalars(query.order_by(Recording.created_at)))
            if len(rows) == 3 and all(r.state != RecordingState.FINISHED for r in rows):
                break
            await asyncio.sleep(0.3)
    keyring = Keyring.load(tmp_path / "keyring.json")
    found = []
    for row in rows:
        assert row.state == RecordingState.STORED
        plain = decrypt(LocalStore(tmp_path / "recordings"), row, [LocalKeyProvider(keyring)])
        check = tmp_path / f"{row.id}.{row.format}"
        check.write_bytes(plain)
        found.append(audio.decode(check))
    return found


def _agent_levels(segment: audio.AudioSegment) -> tuple[float, float]:
    """The agent channel's level of Ayla's 1 kHz and of Emre's 1.5 kHz."""
    _customer, agent = (
        list(part.set_frame_rate(8000).get_array_of_samples()) for part in segment.split_to_mono()
    )
    return _level(agent, 1000), _level(agent, 1500)


async def test_an_attended_transfer_between_two_browser_agents_in_the_page(
    office: Any, browsers: tuple[Browser, Browser], tmp_path: Path
) -> None:
    url = office.daemon.http_url
    (ayla_context, ayla), (emre_context, emre) = [
        await workspace(browser, url, user, PASSWORD)
        for browser, user in zip(browsers, ("ayla", "emre"), strict=True)
    ]
    # The transfer state is pushed on the workspace's event stream: the pages never poll it.
    polls: list[str] = []
    for page in (ayla, emre):
        page.on(
            "request",
            lambda r: (
                polls.append(r.url)
                if r.method == "GET" and urlsplit(r.url).path == "/api/agent/transfer"
                else None
            ),
        )
    await _online(office, "PJSIP/8101")
    await _online(office, "PJSIP/8102")
    status = ayla.locator("#transfer-status")
    await expect(status).to_have_attribute("data-phase", "none")
    await expect(ayla.locator("#transfer-consult")).to_be_disabled()

    await office.call(CustomerScript(digits="1", digit_delay=0.5, talk=45))
    await expect(ayla.locator("#answer")).to_be_enabled(timeout=30_000)
    await ayla.locator("#answer").click()
    await expect(status).to_have_attribute("data-phase", "talking", timeout=15_000)
    await ayla.wait_for_timeout(3_000)  # Ayla talks to the caller
    await ayla.locator("#transfer-target").select_option("department:backoffice")
    await ayla.locator("#transfer-consult").click()
    await expect(status).to_have_attribute("data-phase", "ringing", timeout=10_000)
    await expect(ayla.locator("#transfer-complete")).to_be_disabled()
    await expect(emre.locator("#answer")).to_be_enabled(timeout=20_000)
    await emre.locator("#answer").click()
    await expect(status).to_have_attribute("data-phase", "consulting", timeout=15_000)
    await expect(status).to_contain_text("PJSIP/8102")
    await ayla.screenshot(path=str(SCREENSHOTS / "agent-consulting.png"))
    await ayla.wait_for_timeout(3_000)  # Ayla and Emre talk; the caller hears music
    await ayla.locator("#transfer-complete").click()
    await expect(ayla.locator("#call-status")).to_have_attribute(
        "data-status", "ended", timeout=15_000
    )
    await expect(status).to_have_attribute("data-phase", "none", timeout=10_000)
    # Emre's softphone stays in the call: now with the caller, his own transfer panel ready.
    await expect(emre.locator("#call-status")).to_have_attribute("data-status", "talking")
    await expect(emre.locator("#transfer-status")).to_have_attribute(
        "data-phase", "talking", timeout=10_000
    )
    await emre.wait_for_timeout(6_000)  # Emre talks to the caller
    await emre.locator("#hangup").click()
    assert polls == []  # every phase above came as a pushed `transfer` event

    (call,) = await office.finished_calls(1, max_wait=60)
    assert (call.agent_endpoint, call.department, call.outcome) == (
        "PJSIP/8102",
        "backoffice",
        Outcome.ANSWERED,
    )
    assert call.transfers == 1
    # Each agent wraps the call up in their page: Emre's is his own, not refused as done.
    for page, notes in ((ayla, "passed on"), (emre, "sorted out")):
        await expect(page.locator("#wrapup-call")).to_have_text(call.id)
        await page.locator("#wrapup-notes").fill(notes)
        await page.locator("#wrapup-save").click()
        await expect(page.locator("#wrapup-status")).to_have_attribute("data-status", "saved")
    await expect(emre.locator("#wrapup-list li")).to_have_count(2)  # the call is his: both
    await expect(ayla.locator("#wrapup-list li")).to_have_count(1)  # hers only
    listed = await emre.context.request.get(f"{url}/api/calls/{call.id}/wrapups")
    assert [(w["agent_endpoint"], w["notes"]) for w in await listed.json()] == [
        ("PJSIP/8101", ["passed on"]),
        ("PJSIP/8102", ["sorted out"]),
    ]
    own = await emre.context.request.get(f"{url}/api/calls/{call.id}/wrapup")
    assert (await own.json())["agent_endpoint"] == "PJSIP/8102"  # his, of the two he may read
    async with office.daemon.db.read() as session:
        reads = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["call.wrapup_read", "call.wrapups_read"]))
            .order_by(AuditEntry.seq)
        )
        audited = [(r.action, r.detail["agents"]) for r in reads if r.actor_name == "emre"]
    assert audited[-2:] == [  # what each read returned, no more (the page's own reads before)
        ("call.wrapups_read", ["PJSIP/8101", "PJSIP/8102"]),
        ("call.wrapup_read", ["PJSIP/8102"]),
    ]
    transfers = [dict(e.detail) for e in await office.events(call.id) if e.kind == "transfer"]
    assert transfers[-1] == {
        "mode": "attended",
        "by": "PJSIP/8101",
        "to": "department:backoffice",
        "outcome": "completed",
    }
    first, consult, second = await _recordings(office, call.id, tmp_path)
    levels = [_agent_levels(part) for part in (first, consult, second)]
    print("agent channel (1 kHz Ayla, 1.5 kHz Emre):", levels)
    assert levels[0][0] > 300  # Ayla with the caller
    assert levels[1][1] > 300  # Emre in the consultation
    assert levels[2][1] > 300  # Emre with the caller, after the transfer
    assert levels[2][0] < levels[2][1] / 30  # Ayla is not in it
    for context in (ayla_context, emre_context):
        await context.close()
