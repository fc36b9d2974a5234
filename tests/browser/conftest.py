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
from playwright.async_api import Browser, async_playwright

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
