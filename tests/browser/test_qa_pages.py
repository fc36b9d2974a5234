"""A QA reviewer in Chromium: sign in, filter, open a recording, play and seek, score it,
pin a comment; an administrator then sees it all in the audit log. Screenshots go to
docs/screenshots/ for the README."""

from __future__ import annotations

import math
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from zentrale.recording.store import RecordingStore

from .conftest import SCREENSHOTS, sign_in
from .test_talk_pages import figures

pytestmark = [pytest.mark.browser, pytest.mark.asyncio]


async def test_reviewer_finds_hears_scores_and_the_audit_shows_it(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    url = service["url"]
    talk = figures(6.0, 0.5, 0.0, 0.55)  # who spoke when, for the lanes in the screenshot
    await RecordingStore(service["db"]).set_talk(service["world"].recordings["sales1"], talk)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{url}/login?lang=en")
    await page.screenshot(path=str(SCREENSHOTS / "login.png"))
    await sign_in(page, url, "qa", password)

    await page.get_by_label("Direction").select_option("inbound")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.results tbody tr")
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(
        f"{url}/?since=&until=&department=&agent=&direction=inbound"
        "&caller=&min_duration=&max_duration=&tag=&min_score="
        "&max_score=&survey_max=&min_overtalk_pct=&min_dead_air=&min_agent_talk_pct="
        "&max_agent_talk_pct="
    )
    await page.screenshot(path=str(SCREENSHOTS / "search.png"))

    await rows.first.locator("a").click()
    # wavesurfer draws the stored peaks onto canvases in its (open) shadow root
    await expect(page.locator("#waveform canvas").first).to_be_attached()
    audio = page.locator("#audio")
    duration = await audio.evaluate(
        "a => new Promise(ok => a.readyState >= 1 ? ok(a.duration)"
        " : a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true}))"
    )
    assert math.isfinite(duration)
    assert abs(duration - 6.0) < 0.1
    position = await audio.evaluate(
        "a => new Promise(ok => { a.addEventListener('timeupdate', () => ok(a.currentTime),"
        " {once: true}); a.currentTime = 4.0; a.play(); })"
    )
    assert position >= 4.0
    await page.locator("body").press("Home")
    assert await audio.evaluate("a => a.currentTime") < 1.0

    for question in ("greeting", "consent", "price_clear", "no_pressure"):
        await page.locator(f'input[name="q.{question}"][value="yes"]').check()
    await page.locator('input[name="q.needs"][value="4"]').check()
    await page.locator('input[name="q.summary"][value="5"]').check()
    await page.get_by_role("button", name="Save evaluation").click()
    await expect(page.locator("ul.evaluations li").first).to_contain_text("93.8")

    await page.locator("#offset").fill("2.5")
    await page.get_by_label("Add comment").fill("Greeting could be warmer")
    await page.locator("#comment-form button[type=submit]").click()
    await expect(page.locator("ul.comments")).to_contain_text("Greeting could be warmer")
    await page.screenshot(path=str(SCREENSHOTS / "recording.png"), full_page=True)
    await page.context.close()

    admin = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await sign_in(admin, url, "admin", password)
    await admin.goto(f"{url}/audit")
    table = admin.locator("table.audit")
    for action in ("recording.search", "recording.listen", "evaluation.create", "comment.create"):
        await expect(table).to_contain_text(action)
    await admin.screenshot(path=str(SCREENSHOTS / "audit.png"))
    await admin.context.close()


async def test_the_pages_switch_to_german(
    service: dict[str, Any], browser: Browser, password: str
) -> None:
    context = await browser.new_context(locale="de-DE")
    page = await context.new_page()
    await page.goto(f"{service['url']}/login")
    await expect(page.get_by_role("heading")).to_have_text("Anmelden")
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading")).to_have_text("Sign in")
    await context.close()
