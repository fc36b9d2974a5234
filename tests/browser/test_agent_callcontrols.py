"""The workspace's call controls in Chromium against the sandbox Asterisk and the real daemon:
the microphone and speaker lists (Chromium's fake devices) and the choice kept across a reload;
the agent answers a call, holds and resumes it (the call's timeline gets `hold` / `unhold`),
pauses and resumes the recording (the stored recording has the pause marker), hangs up; then
places a click-to-call from the page, which rings the page first and, once answered, reaches
the simulated number, recorded like an inbound call."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from zentrale.calls.models import Direction, Outcome
from zentrale.recording.models import Recording, RecordingState
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party

from .conftest import workspace
from .test_agent_workspace import CALLER, PASSWORD, _online
from .test_agent_workspace import desk as desk
from .test_agent_workspace import phone_browser as phone_browser
from .test_agent_workspace import tone as tone

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
NUMBER = "+4930999"


async def _until_kinds(flows: Any, call_id: str, *wanted: str) -> list[str]:
    """Wait until the call's timeline has each of WANTED; return the timeline's kinds."""
    async with asyncio.timeout(15):
        while True:
            await flows.daemon.journal.flush()
            kinds = await flows.kinds(call_id)
            if all(kind in kinds for kind in wanted):
                return kinds
            await asyncio.sleep(0.2)


async def _stored_row(flows: Any, call_id: str) -> Recording:
    """Wait until the call's recording is stored; return its row."""
    async with asyncio.timeout(90):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call_id))
            if row is not None and row.state not in (RecordingState.FINISHED,):
                return row
            await asyncio.sleep(0.3)


async def _choose_devices(page: Page) -> str:
    """Pick the last fake microphone and speaker; return the microphone's device id."""
    mics, speakers = page.locator("#mic-select option"), page.locator("#speaker-select option")
    await expect(mics.first).to_have_attribute("value", re.compile(".+"))
    assert await mics.count() >= 2  # Chromium's fake devices, named once the mic is allowed
    assert await speakers.count() >= 1
    mic = await mics.last.get_attribute("value")
    assert mic
    await page.locator("#mic-select").select_option(mic)
    speaker = await speakers.last.get_attribute("value")
    assert speaker
    await page.locator("#speaker-select").select_option(speaker)
    return mic


async def test_hold_recording_pause_devices_and_click_to_call(
    desk: Any, phone_browser: Browser
) -> None:
    url = desk.daemon.http_url
    context, page = await workspace(phone_browser, url, "ayla", PASSWORD, via_link=True)
    await _online(desk, "PJSIP/8101")
    mic = await _choose_devices(page)
    await page.reload()
    await expect(page.locator("#softphone-status")).to_have_attribute(
        "data-status", "registered", timeout=20_000
    )
    await expect(page.locator("#mic-select")).to_have_value(mic)

    # An inbound call: answer, hold and resume, pause and resume the recording.
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=40), caller=CALLER)
    await expect(page.locator("#answer")).to_be_enabled(timeout=30_000)
    await expect(page.locator("#screen-pop")).to_be_visible(timeout=10_000)
    call_id = await page.locator("#screen-pop").get_attribute("data-call-id")
    assert call_id
    await page.locator("#answer").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking")
    hold = page.locator("#hold")
    await hold.click()
    await expect(hold).to_have_attribute("aria-pressed", "true")
    await _until_kinds(desk, call_id, "hold")
    await hold.click()
    await expect(hold).to_have_attribute("aria-pressed", "false")
    kinds = await _until_kinds(desk, call_id, "hold", "unhold")
    assert kinds.index("hold") < kinds.index("unhold")
    hold_event = next(e for e in await desk.events(call_id) if str(e.kind) == "hold")
    assert hold_event.detail == {"party": "agent"}

    status = page.locator("#record-status")
    await expect(status).to_have_attribute("data-state", "recording", timeout=10_000)
    await page.locator("#record-pause").click()
    await expect(status).to_have_attribute("data-state", "paused")
    await page.wait_for_timeout(2_000)
    await page.locator("#record-pause").click()
    await expect(status).to_have_attribute("data-state", "recording")
    await page.locator("#hangup").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    await _until_kinds(desk, call_id, "recording_paused", "recording_resumed")
    row = await _stored_row(desk, call_id)
    assert row.state == RecordingState.STORED
    ((paused_at, resumed_at),) = row.pause_markers
    assert 1.5 < resumed_at - paused_at < 6

    # Click-to-call from the page: the page rings first, then the simulated number answers.
    await script_party(desk.asterisk.ari, "number", NUMBER, PartyScript(answer_after=0.5))
    await page.locator("#dial-number").fill(NUMBER)
    await page.locator("#dial-call").click()
    await expect(page.locator("#dial-status")).to_have_attribute("data-status", "dialling")
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await page.locator("#answer").click()
    await expect(page.locator("#dial-status")).to_have_attribute(
        "data-status", "answered", timeout=30_000
    )
    await expect(page.locator("#record-status")).to_have_attribute(
        "data-state", "recording", timeout=10_000
    )
    await page.locator("#hangup").click()
    first, second = await desk.finished_calls(2, max_wait=60)
    assert first.id == call_id
    assert (second.direction, second.outcome) == (Direction.OUTBOUND, Outcome.ANSWERED)
    assert (second.agent_endpoint, second.called_number) == ("PJSIP/8101", NUMBER)
    assert "recording_started" in await desk.kinds(second.id)
    await context.close()
