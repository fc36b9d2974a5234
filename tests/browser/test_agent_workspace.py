"""The agent's workspace in Chromium against the sandbox Asterisk and the real daemon: the page
registers a JsSIP softphone (WebRTC over Asterisk's WebSocket transport, DTLS-SRTP, ICE on
loopback) as PJSIP/8101, a caller's call pops up the customer, the agent answers and hangs up
in the page, and the stored two-party recording has the browser's microphone (a 1 kHz tone) in
the agent's channel. A paused agent is not rung."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import select

from zentrale.calls.models import Outcome
from zentrale.config.settings import AgentSettings, ApiSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers import store as customers
from zentrale.daemon import Daemon
from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript
from zentrale.telephony.ari.events import ChannelDtmfReceived
from zentrale.testing.recordings import decrypt

from .conftest import ARGS, CHROMIUM, REPO, SCREENSHOTS, fake_microphone, workspace

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
CALLER = "+905551112233"
PASSWORD = "a long password 1"
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
    strategy: in_order
    ring_timeout: 20s
    max_wait: 25s
    on_max_wait: {play_and_hangup: bye}
    wrap_up: 0s
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


def _load(name: str, relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


flow_fixtures = _load("agent_flow_fixtures", "tests/integration/flows/conftest.py")


@pytest_asyncio.fixture
async def desk(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon on the sandbox with one browser agent (PJSIP/8101) and their account."""
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
        await UserStore(running.db).add(
            NewUser(
                username="ayla",
                display_name="Ayla",
                password=PASSWORD,
                role=Role.AGENT,
                departments=("desk",),
                agent_endpoint="PJSIP/8101",
            )
        )
        async with running.db.write() as session:
            new = customers.NewCustomer(numbers=[CALLER], name="Zeynep Kaya", language="tr")
            await customers.create(session, new, now)
        yield flow_fixtures.Flows(running, asterisk)


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    """A minute of a 1 kHz tone: what the browser agent's fake microphone says."""
    path = tmp_path / "tone.wav"
    argv = ["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path)]
    subprocess.run([*argv, "synth", "60", "sine", "1000", "vol", "0.5"], check=True)
    return path


@pytest_asyncio.fixture
async def phone_browser(tone: Path) -> AsyncIterator[Browser]:
    """Chromium with a fake microphone that plays TONE, allowed to use loopback ICE."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS + fake_microphone(tone)
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def _online(flows: Any, endpoint: str) -> None:
    board = flows.daemon.center.services.queues.board
    async with asyncio.timeout(20):
        while str(board.view(endpoint).state) == "offline":  # noqa: ASYNC110 (the board's view)
            await asyncio.sleep(0.2)


async def _stored(flows: Any, call_id: str, tmp_path: Path) -> audio.AudioSegment:
    async with asyncio.timeout(90):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call_id))
            if row is not None and row.state != RecordingState.FINISHED:
                break
            await asyncio.sleep(0.3)
    assert row.state == RecordingState.STORED
    keyring = Keyring.load(tmp_path / "keyring.json")
    plain = decrypt(LocalStore(tmp_path / "recordings"), row, [LocalKeyProvider(keyring)])
    check = tmp_path / f"check.{row.format}"
    check.write_bytes(plain)
    return audio.decode(check)


def _level(samples: list[int], freq: float, rate: int = 8000) -> float:
    """Level of one frequency in SAMPLES (Goertzel), in the samples' units."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    prev = prev2 = 0.0
    for sample in samples:
        prev, prev2 = sample + coeff * prev - prev2, prev
    power = prev2**2 + prev**2 - coeff * prev * prev2
    return math.sqrt(max(power, 0.0)) / max(len(samples), 1) * math.sqrt(2)


async def test_a_call_rings_the_browser_agent_who_answers_and_hangs_up(
    desk: Any, phone_browser: Browser, tmp_path: Path
) -> None:
    url = desk.daemon.http_url
    keys: list[str] = []

    async def key(event: ChannelDtmfReceived) -> None:
        if event.channel.name.startswith("PJSIP/8101-"):
            keys.append(event.digit)

    desk.daemon.ari.on(ChannelDtmfReceived, key)
    context, page = await workspace(phone_browser, url, "ayla", PASSWORD, via_link=True)
    await _online(desk, "PJSIP/8101")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=20), caller=CALLER)
    pop = page.locator("#screen-pop")
    await expect(pop).to_be_visible(timeout=30_000)
    await expect(pop.locator('[data-field="caller"]')).to_have_text(CALLER)
    await expect(pop.locator('[data-field="name"]')).to_have_text("Zeynep Kaya")
    await expect(pop.locator('[data-field="missing"]')).to_have_text("customer_number")
    await expect(pop.locator('[data-field="path"]')).to_have_text("main 1")
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await page.screenshot(path=str(SCREENSHOTS / "agent-ringing.png"))
    await page.locator("#answer").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking")
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "on_call", timeout=10_000
    )
    await page.wait_for_timeout(6_000)  # let both parties talk into the recording
    await page.screenshot(path=str(SCREENSHOTS / "agent-on-call.png"))
    await page.locator("#keys").fill("42#")
    await page.locator("#send-keys").click()  # RFC 4733 events on the agent's channel
    async with asyncio.timeout(20):
        while "".join(keys) != "42#":  # noqa: ASYNC110 (filled by the ARI handler)
            await asyncio.sleep(0.1)
    await page.locator("#mute").click()
    await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    await page.locator("#mute").click()
    await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
    await page.locator("#hangup").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")

    (call,) = await desk.finished_calls(1, max_wait=60)
    assert (call.agent_endpoint, call.outcome) == ("PJSIP/8101", Outcome.ANSWERED)
    segment = await _stored(desk, call.id, tmp_path)
    assert segment.channels == 2
    _customer, agent = (
        list(part.set_frame_rate(8000).get_array_of_samples()) for part in segment.split_to_mono()
    )
    level = _level(agent, 1000)
    print(f"browser agent's 1 kHz tone in the agent channel: level {level:.0f}")
    assert level > 300  # the browser's microphone reached the agent's channel
    await context.close()


async def test_a_paused_agent_is_not_rung(desk: Any, phone_browser: Browser) -> None:
    url = desk.daemon.http_url
    context, page = await workspace(phone_browser, url, "ayla", PASSWORD, via_link=True)
    await _online(desk, "PJSIP/8101")
    await page.locator("#pause-reason").select_option("training")
    await page.locator("#go-paused").click()
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused")
    await expect(page.locator("#agent-reason")).to_have_text("training")

    await desk.call(CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=8))
    (call,) = await desk.finished_calls(1, max_wait=60)
    assert call.agent_endpoint is None
    assert "agent_rung" not in await desk.kinds(call.id)
    assert await page.locator("#screen-pop").is_hidden()
    assert await page.locator("#call-status").get_attribute("data-status") == "idle"
    await context.close()
