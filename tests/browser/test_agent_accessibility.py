"""Accessibility of the agent's workspace and the supervisors' page, in Chromium against the
sandbox Asterisk and the real daemon.

axe-core (pinned in web/package-lock.json, installed by scripts/setup.sh) checks `/agent` idle
and with a call ringing (screen pop, record completion and wrap-up shown) and `/supervise` with
that call on the board (its monitor buttons reached by Tab): no serious or critical violation
of WCAG 2.1 A/AA or axe's best practices; no rule is switched off. Then an agent works a whole
call with the keyboard only: signs in, opens the workspace, pauses with a reason and comes
back, answers the ringing call, completes the caller's record in the pop, hangs up and saves
the wrap-up; every focused control shows its focus, and the API shows what the keys did.
The German pages (sign-in, start page, workspace with a call ringing, supervise, dashboard,
wallboard) get the same axe check.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from zentrale.sandbox.simulate import CustomerScript

from .conftest import LOOPBACK_ONLY, REPO
from .test_agent_workspace import CALLER, PASSWORD, _online
from .test_agent_workspace import phone_browser as phone_browser
from .test_agent_workspace import tone as tone
from .test_agent_wrapup import desk as desk

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.asyncio]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# The element that has the keyboard focus, and whether it shows it (an outline at least 2px wide).
FOCUSED = """selector => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {id: el.id, tag: el.tagName.toLowerCase(), text: (el.textContent || "").trim(),
          matches: el.matches(selector), outline: style.outline,
          visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
}"""


async def _context(browser: Browser) -> BrowserContext:
    """A context whose pages have axe-core loaded: as an init script, since the pages' CSP
    (script-src 'self') refuses the inline script that `add_script_tag` would insert."""
    assert AXE.is_file(), "axe-core is missing: run scripts/setup.sh (npm ci in web/)"
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    await context.add_init_script(LOOPBACK_ONLY)
    await context.add_init_script(path=str(AXE))
    return context


async def _axe(page: Page, what: str) -> None:
    """Run axe-core on PAGE; fail naming each serious or critical violation."""
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    bad = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [node["target"] for node in v["nodes"]],
            "why": [node["failureSummary"] for node in v["nodes"]][:3],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    minor = sorted({v["id"] for v in result["violations"]} - {v["id"] for v in bad})
    print(f"axe on {what}: {len(result['passes'])} rules pass; moderate or minor: {minor}")
    assert bad == [], f"axe on {what}:\n" + json.dumps(bad, indent=1, ensure_ascii=False)
    assert result["passes"], f"axe ran no check on {what}"


async def _sign_in_by_keyboard(page: Page, url: str, user: str) -> None:
    """Sign USER in using the keyboard only (the user name field has the focus on load)."""
    await page.goto(f"{url}/login?lang=en")
    await expect(page.get_by_label("User name")).to_be_focused()
    await page.keyboard.type(user)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/")


async def _focused(page: Page, selector: str) -> bool:
    """Whether the focused element matches SELECTOR; it must show its focus either way."""
    focused: dict[str, Any] = await page.evaluate(FOCUSED, selector)
    assert focused["visible"], f"the focus is not visible on {focused}"
    return bool(focused["matches"])


async def _tab(page: Page, selector: str, *, back: bool = False) -> None:
    """Press Tab (Shift+Tab when BACK) once: the control of SELECTOR has the focus."""
    await page.keyboard.press("Shift+Tab" if back else "Tab")
    assert await _focused(page, selector), f"Tab did not move the focus to {selector}"


async def _tab_to(page: Page, selector: str, *, back: bool = False, most: int = 40) -> int:
    """Press Tab (Shift+Tab) until the control of SELECTOR has the focus; every control passed
    on the way shows its focus. Returns how many presses it took."""
    for presses in range(1, most + 1):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        if await _focused(page, selector):
            return presses
    raise AssertionError(f"{selector} not reached with {most} presses of Tab")


async def test_the_pages_have_no_serious_accessibility_violations(
    desk: Any, phone_browser: Browser
) -> None:
    url = desk.daemon.http_url
    context = await _context(phone_browser)
    page = await context.new_page()
    await _sign_in_by_keyboard(page, url, "ayla")
    await page.goto(f"{url}/agent")
    await expect(page.locator("#softphone-status")).to_have_attribute(
        "data-status", "registered", timeout=20_000
    )
    await _online(desk, "PJSIP/8101")
    await _axe(page, "/agent (idle)")

    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=20), caller=CALLER)
    await expect(page.locator("#complete")).to_be_visible(timeout=30_000)
    await expect(page.locator("#wrapup")).to_be_visible()
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await expect(page.locator("#pop-announce")).to_have_text(  # a live region reads it out
        f"Caller: Zeynep Kaya, {CALLER}, desk"
    )
    await _axe(page, "/agent (a call ringing, the screen pop shown)")

    await page.locator("#answer").press("Enter")  # a call on the board has monitor buttons
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "on_call", timeout=10_000
    )

    boss = await (await _context(phone_browser)).new_page()
    await _sign_in_by_keyboard(boss, url, "selin")
    await boss.goto(f"{url}/supervise")
    row = boss.locator('#agents tr[data-endpoint="PJSIP/8101"]')
    await expect(row.locator('button[data-mode="listen"]')).to_be_visible(timeout=10_000)
    await _axe(boss, "/supervise (an agent on a call)")
    await _tab_to(boss, 'button[data-mode="listen"]')  # the monitor buttons take the focus
    await page.locator("#hangup").press("Enter")  # the keyboard, not the mouse, ends the call
    await desk.finished_calls(1, max_wait=60)
    await context.close()


async def test_an_agent_works_a_call_with_the_keyboard_only(
    desk: Any, phone_browser: Browser
) -> None:
    url = desk.daemon.http_url
    context = await _context(phone_browser)
    page = await context.new_page()
    await _sign_in_by_keyboard(page, url, "ayla")
    await _tab_to(page, 'header a[href="/agent"]')
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/agent")
    await expect(page.locator("#softphone-status")).to_have_attribute(
        "data-status", "registered", timeout=20_000
    )
    await _online(desk, "PJSIP/8101")
    state = page.locator("#agent-state")
    await expect(state).to_have_attribute("data-state", "available")

    # Pause with a reason (the list's second one, by arrow key), then back to available.
    await _tab_to(page, "#go-available")
    await _tab(page, "#pause-reason")
    await page.keyboard.press("ArrowDown")
    await expect(page.locator("#pause-reason")).to_have_value("training")
    await _tab(page, "#go-paused")
    await page.keyboard.press("Enter")
    await expect(state).to_have_attribute("data-state", "paused")
    await expect(page.locator("#agent-reason")).to_have_text("training")
    shown = await (await page.request.get(f"{url}/api/agent/state")).json()
    assert (shown["state"], shown["reason"]) == ("paused", "training")
    await _tab(page, "#pause-reason", back=True)
    await _tab(page, "#go-available", back=True)
    await page.keyboard.press("Space")
    await expect(state).to_have_attribute("data-state", "available")

    # A call rings: Answer follows the state's controls in the tab order.
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=30), caller=CALLER)
    await expect(page.locator("#answer")).to_be_enabled(timeout=30_000)
    await _tab(page, "#pause-reason")
    await _tab(page, "#go-paused")
    await _tab(page, "#answer")
    await page.keyboard.press("Enter")
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking")
    await expect(state).to_have_attribute("data-state", "on_call", timeout=10_000)

    # The caller's record in the pop: the missing customer number, saved with Enter.
    await _tab_to(page, "#complete-customer_number")
    await page.keyboard.type("K-1001")
    await page.keyboard.press("Enter")
    await expect(page.locator("#complete-status")).to_have_text("Saved")
    await expect(page.locator('#screen-pop [data-field="customer_number"]')).to_have_text("K-1001")

    await _tab_to(page, "#hangup", back=True)
    await page.keyboard.press("Enter")
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "ended")
    (call,) = await desk.finished_calls(1, max_wait=60)
    await expect(state).to_have_attribute("data-state", "after_call_work", timeout=10_000)

    # The wrap-up: a disposition by arrow key, a note, saved with the form's button.
    await _tab_to(page, "#wrapup-disposition")
    await page.keyboard.press("ArrowDown")
    await expect(page.locator("#wrapup-disposition")).to_have_value("sale")
    await _tab(page, "#wrapup-notes")
    await page.keyboard.type("Wants the blue model")
    await _tab_to(page, "#wrapup-save")
    await page.keyboard.press("Enter")
    await expect(page.locator("#wrapup-status")).to_have_attribute("data-status", "saved")
    await expect(state).to_have_attribute("data-state", "available", timeout=10_000)

    auth = {"Authorization": f"Bearer {desk.supervisor_token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth) as api:
        body = (await api.get(f"/api/calls/{call.id}/wrapup")).json()
    assert (body["disposition"], body["notes"]) == ("sale", ["Wants the blue model"])
    await context.close()


async def test_the_german_pages_have_no_serious_accessibility_violations(
    desk: Any, phone_browser: Browser
) -> None:
    """The same check on the pages in German (the language cookie set by `?lang=de`): the sign-in
    page, the start page, the workspace with a call ringing, and the supervisors' pages."""
    url = desk.daemon.http_url
    context = await _context(phone_browser)
    page = await context.new_page()
    await page.goto(f"{url}/login?lang=de")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_label("Benutzername")).to_be_focused()
    await _axe(page, "/login (de)")
    await page.get_by_label("Benutzername").fill("ayla")
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/")
    await _axe(page, "/ (de, agent)")
    await page.goto(f"{url}/agent")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("#softphone-status")).to_have_attribute(
        "data-status", "registered", timeout=20_000
    )
    await _online(desk, "PJSIP/8101")
    await desk.call(CustomerScript(digits="1", digit_delay=0.5, talk=15), caller=CALLER)
    await expect(page.locator("#complete")).to_be_visible(timeout=30_000)
    await expect(page.locator("#answer")).to_be_enabled(timeout=20_000)
    await _axe(page, "/agent (de, a call ringing, the screen pop shown)")

    boss = await (await _context(phone_browser)).new_page()
    await boss.goto(f"{url}/login?lang=de")
    await boss.get_by_label("Benutzername").fill("selin")
    await boss.get_by_label("Passwort").fill(PASSWORD)
    await boss.keyboard.press("Enter")
    await boss.wait_for_url(f"{url}/")
    for path in ("/supervise", "/dashboard", "/wallboard"):
        response = await boss.goto(f"{url}{path}")
        assert response is not None, path
        assert response.status == 200, path
        await expect(boss.locator("html")).to_have_attribute("lang", "de")
        await _axe(boss, f"{path} (de, supervisor)")
    await page.locator("#answer").click()
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking")
    await page.locator("#hangup").click()
    await desk.finished_calls(1, max_wait=60)
    await context.close()
