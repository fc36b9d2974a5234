"""The README's main job: `zentrale demo` against a fresh sandbox Asterisk."""

from __future__ import annotations

import os

import pytest

from zentrale.config.settings import Settings
from zentrale.demo import run_demo
from zentrale.sandbox import SandboxInstance, ensure_root


@pytest.mark.asterisk
@pytest.mark.asyncio
async def test_demo_calls_are_answered_announced_and_recorded() -> None:
    lines: list[str] = []
    name = f"demo-test-{os.getpid()}"
    reports = await run_demo(Settings(), 3, lines.append, name=name)

    assert len(reports) == 3
    by_caller = {report.caller: report for report in reports}
    assert set(by_caller) == {"+905551112233", "+4915112345678", "+905329876543"}
    assert by_caller["+905551112233"].digits == "1"
    assert by_caller["+4915112345678"].digits == "2"
    assert by_caller["+905329876543"].digits == ""
    for report in reports:
        assert report.answered_after is not None
        assert report.consent_played
        assert report.recording is not None
        assert report.ended_by == "caller hung up"
    text = "\n".join(lines)
    assert "+905551112233" not in text  # numbers are masked in what the demo prints
    assert text.count("recorded ") == 3
    assert "sandbox stopped" in text
    leftover = SandboxInstance(ensure_root(), name=name)
    assert not leftover.home.exists()  # config, logs and plaintext recordings removed
