"""Shared fixtures: the real sandbox Asterisk for tests marked (automatically) `asterisk`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog

from zentrale.sandbox import SandboxInstance, ensure_root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the sandbox, so `-m "not asterisk"` runs the fast ones."""
    for item in items:
        if "asterisk" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asterisk)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Undo a test's logging set-up: it may point structlog at a capture stream now closed."""
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture(scope="session")
def _sandbox() -> Iterator[SandboxInstance]:
    """One sandbox Asterisk for the whole run, built on first use (about a minute when cold)."""
    instance = SandboxInstance(ensure_root(), name=f"pytest-{os.getpid()}")
    instance.start()
    yield instance
    instance.stop()
    instance.remove()


@pytest.fixture
def asterisk(_sandbox: SandboxInstance) -> Iterator[SandboxInstance]:
    """Give a test a running sandbox Asterisk; afterwards clear what the test left in it."""
    if not _sandbox.is_running():
        _sandbox.start()
    yield _sandbox
    if _sandbox.is_running():
        _sandbox.cli("channel request hangup all")
