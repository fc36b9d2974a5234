"""The README's main job: `zentrale demo` against a fresh sandbox Asterisk, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zentrale.calls.models import Outcome
from zentrale.config.settings import Settings
from zentrale.demo import run_demo
from zentrale.sandbox import SandboxInstance, ensure_root


@pytest.mark.asterisk
@pytest.mark.asyncio
async def test_demo_routes_connects_records_and_stores(tmp_path: Path) -> None:
    lines: list[str] = []
    name = f"demo-test-{os.getpid()}"
    calls = await run_demo(Settings(state_dir=tmp_path), 4, lines.append, name=name)

    by_caller = {call.caller_number: call for call in calls}
    assert set(by_caller) == {"+4915112345678", "+905551112233", "+447700900123", "+908500001234"}
    routed = {number: (call.department, call.outcome) for number, call in by_caller.items()}
    assert routed == {
        "+4915112345678": ("sales", Outcome.ANSWERED),
        "+905551112233": ("support", Outcome.ANSWERED),
        "+447700900123": ("billing", Outcome.ANSWERED),
        "+908500001234": (None, Outcome.MESSAGE),  # the blocked number heard its message
    }
    assert by_caller["+4915112345678"].language == "de"  # German mobile rule
    assert by_caller["+905551112233"].language == "tr"  # chose Türkçe
    text = "\n".join(lines)
    assert "card_payment, digits=***" in text  # the sensitive card number never shown
    assert "4111111111111111" not in text
    assert "+905551112233" not in text  # numbers are masked in what the demo prints
    assert "survey=after_call" in text
    # Each survey caller's key is the answer stored, however long their agent took to answer
    # (a key sent at a fixed time once fell into the conversation and the survey timed out).
    assert text.count("survey_answer(survey=after_call, answer=5)") == 1
    assert text.count("survey_answer(survey=after_call, answer=4)") == 1
    assert text.count("bytes encrypted in local storage") == 3
    assert "sandbox stopped" in text
    leftover = SandboxInstance(ensure_root(), name=name)
    assert not leftover.home.exists()  # config, logs and Asterisk's plaintext copies removed
