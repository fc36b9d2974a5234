"""Outside opening hours, callers hear the closed message (the clock says Sunday 03:00)."""

from __future__ import annotations

import datetime as dt

import pytest

from zentrale.calls.models import Outcome
from zentrale.sandbox.simulate import CustomerScript

from .conftest import SUNDAY_03

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


@pytest.fixture
def flows_clock() -> dt.datetime:
    return SUNDAY_03


async def test_closed_department_plays_closed_message(flows) -> None:  # type: ignore[no-untyped-def]
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    (call,) = await flows.finished_calls(1)
    assert call.outcome == Outcome.CLOSED
    kinds = await flows.kinds(call.id)
    assert "queued" not in kinds
    assert "agent_rung" not in kinds
    assert await flows.asterisk_empty()


async def test_closed_department_with_voicemail_records_a_message(flows) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from sqlalchemy import select

    from zentrale.recording.models import Recording, RecordingState

    # The greeting (vm-intro) takes about 6 s; the caller then speaks and hangs up.
    await flows.call(CustomerScript(digits="6", digit_delay=0.5, talk=12))
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert call.outcome == Outcome.VOICEMAIL
    assert "voicemail" in await flows.kinds(call.id)
    async with asyncio.timeout(60):
        while True:
            async with flows.daemon.db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call.id))
            if row is not None and row.state != RecordingState.FINISHED:
                break
            await asyncio.sleep(0.3)
    assert row.state == RecordingState.STORED  # the message went through the pipeline
    assert row.duration_s is not None
    assert row.duration_s > 2  # the caller's words after the beep
    assert await flows.asterisk_empty()


async def test_caller_hanging_up_during_the_voicemail_greeting_leaves_no_recording(  # type: ignore[no-untyped-def]
    flows,
) -> None:
    from sqlalchemy import func, select

    from zentrale.recording.models import Recording

    await flows.call(CustomerScript(digits="6", digit_delay=0.5, talk=1))
    (call,) = await flows.finished_calls(1, max_wait=40)
    assert call.outcome == Outcome.VOICEMAIL
    assert "recording_started" not in await flows.kinds(call.id)
    async with flows.daemon.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Recording)) == 0
    assert await flows.asterisk_empty()
