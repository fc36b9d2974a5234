"""Outside opening hours, callers hear the closed message (the clock says Sunday 03:00)."""

from __future__ import annotations

import datetime as dt

import pytest

from zentrale.db.models import Outcome
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
