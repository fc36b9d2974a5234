"""The demo ends in the browser: after `zentrale demo --serve`, the printed sign-in opens the
QA pages on the calls just made, and a newcomer hears a real recording there."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from zentrale.config.settings import Settings
from zentrale.demo import DemoSignIn, run_demo, serve_demo

from .conftest import SCREENSHOTS
from .conftest import sign_in as sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]


async def test_the_demo_calls_are_heard_in_the_qa_pages_with_the_printed_sign_in(
    tmp_path: Path, browser: Browser
) -> None:
    settings = Settings(state_dir=tmp_path)
    name = f"demo-pages-{os.getpid()}"
    lines: list[str] = []
    calls = await run_demo(settings, 4, lines.append, name=name)
    stored = sum(1 for line in lines if "bytes encrypted in local storage" in line)
    assert stored == 3

    stop, ready = asyncio.Event(), asyncio.Future[DemoSignIn]()
    serving = asyncio.create_task(
        serve_demo(settings, lines.append, stop, port=0, name=name, ready=ready.set_result)
    )
    try:
        sign_in = await asyncio.wait_for(ready, 60)
        printed = "\n".join(lines)
        assert f"{sign_in.url}/" in printed
        assert f"sign in as {sign_in.username!r} with the password {sign_in.password!r}" in printed

        page = await (await browser.new_context(viewport={"width": 1366, "height": 900})).new_page()
        await sign_in_as(page, sign_in.url, sign_in.username, sign_in.password)
        rows = page.locator("table.results tbody tr")
        await expect(rows).to_have_count(stored)

        await rows.first.locator("a").click()
        await expect(page.locator("#waveform canvas").first).to_be_attached()
        duration = await page.locator("#audio").evaluate(
            "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration)"
            " : a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true}))"
        )
        assert math.isfinite(duration)
        assert duration > 3.0  # a real conversation with a simulated agent, decrypted
        # Each party in its own channel: who spoke when, in two lanes under the waveform.
        lanes = page.locator("#lanes .lane")
        await expect(lanes).to_have_count(3)  # agent, customer, dead air and overtalk
        assert await page.locator(".lane-agent .mark").count() >= 1
        assert await page.locator(".lane-customer .mark").count() >= 1
        await page.screenshot(path=str(SCREENSHOTS / "demo-recording.png"), full_page=True)
        await page.context.close()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(serving, 30)
    assert len(calls) == 4
