"""Logs during an outage: one warning when the database goes, one when it returns, no tracebacks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from zentrale.base.outage import Outage
from zentrale.surveys.store import CampaignStore
from zentrale.telephony.campaigns import CampaignRunner, Legs
from zentrale.telephony.context import Services


class AwayStore:
    """A campaign store whose database is away until told otherwise."""

    def __init__(self) -> None:
        self.away = True
        self.asked = 0

    async def active(self) -> list[Any]:
        self.asked += 1
        if self.away:
            raise ConnectionRefusedError("database is away")
        return []


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - state of another task, no event to wait on
            await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_the_campaign_scheduler_logs_a_database_outage_twice_not_every_tick() -> None:
    store = AwayStore()
    runner = CampaignRunner(
        cast(Services, None), cast(CampaignStore, store), lambda: None, Legs(), poll=0.01
    )  # type: ignore[arg-type]
    with capture_logs() as logs:
        runner.start()
        await _until(lambda: store.asked >= 50)
        store.away = False
        await _until(lambda: not runner.outage.away)
        await runner.close(0)
    events = [entry["event"] for entry in logs if entry["log_level"] != "debug"]
    assert events == ["campaign.database.unavailable", "campaign.database.returned"]
    assert not any("exc_info" in entry or "exception" in entry for entry in logs)
    (back,) = [entry for entry in logs if entry["event"] == "campaign.database.returned"]
    assert back["failures"] >= 49


def test_an_outage_counts_its_failures_and_forgets_them_when_it_ends() -> None:
    outage = Outage("thing")
    with capture_logs() as logs:
        for _ in range(3):
            outage.failed(OSError("gone"))
        outage.ok()
        outage.ok()
    assert [entry["event"] for entry in logs] == [
        "thing.unavailable",
        "thing.still_unavailable",
        "thing.still_unavailable",
        "thing.returned",
    ]
    assert (outage.failures, outage.total, outage.away) == (0, 3, False)
