"""Fixtures for the browser tests: the QA service over a socket (SQLite, the same recordings
and users as the API tests) and Debian's Chromium driven by Playwright.

Chromium comes from Debian (`apt-get install chromium`), not from `playwright install`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from zentrale.api import Deps, create_app
from zentrale.api.server import bind, serving
from zentrale.config.settings import ApiSettings, Settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.qa.scorecards import load_scorecards
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.memory import MemoryStore

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
REPO = Path(__file__).resolve().parents[2]
# Chromium pairs only loopback candidates: the host's other addresses stay out of the SDP.
LOOPBACK_ONLY = """
(() => {
  const field = Object.getOwnPropertyDescriptor(RTCPeerConnection.prototype, "localDescription");
  Object.defineProperty(RTCPeerConnection.prototype, "localDescription", {
    get() {
      const d = field.get.call(this);
      if (!d) { return d; }
      const sdp = d.sdp.split("\\r\\n").filter(
        (line) => !line.startsWith("a=candidate") || line.includes(" 127.0.0.1 ")).join("\\r\\n");
      return new RTCSessionDescription({ type: d.type, sdp });
    },
  });
})();
"""
# Screenshots go to a scratch folder; ZENTRALE_SCREENSHOTS=docs/screenshots refreshes the
# README's copies (a plain test run must not rewrite tracked files).
SCREENSHOTS = Path(os.environ.get("ZENTRALE_SCREENSHOTS") or tempfile.mkdtemp(prefix="shots-"))


def _load_api_fixtures() -> ModuleType:
    path = REPO / "tests" / "integration" / "api" / "conftest.py"
    spec = importlib.util.spec_from_file_location("qa_api_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


api = _load_api_fixtures()


@pytest_asyncio.fixture
async def service(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The QA service on 127.0.0.1 with three recordings; yields its URL, the world and what
    a test needs to add more (database, object store, keyring, clock)."""
    clock = api.FakeClock()
    keyring, store = Keyring.generate("test"), MemoryStore()
    async with Database.open(f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}") as db:
        await upgrade_engine(db.engine)
        world = await api.build_world(db, store, keyring, clock)
        settings = Settings(state_dir=tmp_path, api=ApiSettings(cookie_secure=False))
        deps = Deps(
            db=db,
            store=store,
            unwrappers=[LocalKeyProvider(keyring)],
            settings=settings,
            scorecards=load_scorecards(REPO / "config" / "scorecards.yaml"),
            session_secret=b"browser-test",
            clock=clock,
        )
        sock = bind("127.0.0.1", 0)
        async with serving(create_app(deps), sock):
            yield {
                "url": f"http://127.0.0.1:{sock.getsockname()[1]}",
                "world": world,
                "db": db,
                "store": store,
                "keyring": keyring,
                "clock": clock,
            }


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def password() -> str:
    """Every test user's password."""
    return str(api.PASSWORD)


def fake_microphone(sound: Path) -> list[str]:
    """Chromium's arguments for a fake microphone that plays SOUND (looped), with loopback ICE."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={sound}",
        "--allow-loopback-in-peer-connection",
    ]


async def sign_in(page: Page, url: str, user: str, password: str) -> None:
    """Sign USER in on the sign-in page of the service at URL (English)."""
    await page.goto(f"{url}/login?lang=en")
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(password)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/")


async def workspace(
    browser: Browser, url: str, user: str, password: str, *, via_link: bool = False
) -> tuple[BrowserContext, Page]:
    """A new context of BROWSER with USER signed in on the agent's workspace, its softphone
    registered; VIA_LINK follows the start page's link there instead of opening it."""
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    await context.add_init_script(LOOPBACK_ONLY)
    page = await context.new_page()
    await sign_in(page, url, user, password)
    if via_link:  # the daemon serves the workspace, so the signed-in agent's pages link to it
        await page.get_by_role("link", name="Workspace").click()
        await page.wait_for_url(f"{url}/agent")
    else:
        await page.goto(f"{url}/agent")
    await expect(page.locator("#softphone-status")).to_have_attribute(
        "data-status", "registered", timeout=20_000
    )
    return context, page
