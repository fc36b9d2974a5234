"""The campaign runner tells a database outage from a mistake: an outage is waited out quietly,
an error of code or ARI is logged with its traceback, fails the number it broke (with the
reason) and leaves the runner and the other campaigns going. A store and a journal in memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import pytest
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from zentrale.config.settings import Settings
from zentrale.routing.load import parse_rules
from zentrale.routing.rules import Rules
from zentrale.surveys.models import AttemptResult, Campaign, CampaignState, TargetState
from zentrale.surveys.schedule import TargetView
from zentrale.surveys.store import AttemptEnd, CampaignStore, Claim
from zentrale.telephony.campaigns import CampaignRunner, Legs
from zentrale.telephony.context import Services
from zentrale.telephony.trunks import NotANumberError, Outbound

pytestmark = pytest.mark.asyncio

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # Monday 10:00 in Berlin
RULES = parse_rules("""
version: 1
timezone: Europe/Berlin
languages: {available: [de], default: de}
prompts: {frage: sound:beep, bye: sound:vm-goodbye}
departments:
  service:
    agents: [{endpoint: "Local/K1@sim-agent/n", name: Kai}]
    on_max_wait: {play_and_hangup: bye}
surveys:
  umfrage:
    questions: [{id: zufrieden, prompt: frage, scale: 1-5}]
entry_rules:
  - {name: all, action: {department: service}}
""")


def _campaign(name: str) -> Campaign:
    return Campaign(
        id=f"id-{name}",
        name=name,
        survey="umfrage",
        state=CampaignState.ACTIVE,
        window_from="00:00",
        window_to="23:59",
        days="mon-sun",
        concurrency=2,
        retries=2,
        retry_after_s=600,
        ring_s=5,
        language=None,
    )


class Store:
    """Campaigns and numbers in memory; FAULTS[(method, campaign id)] raises instead."""

    def __init__(self, numbers: dict[str, list[str]]) -> None:
        self.campaigns = [_campaign(name) for name in numbers]
        self.numbers = {f"id-{name}": list(found) for name, found in numbers.items()}
        self.settled: dict[str, tuple[AttemptResult, TargetState, AttemptEnd | None]] = {}
        self.finished: list[str] = []
        self.faults: dict[tuple[str, str], Exception] = {}

    def _fault(self, method: str, campaign_id: str) -> None:
        fault = self.faults.get((method, campaign_id))
        if fault is not None:
            raise fault

    async def active(self) -> list[Campaign]:
        return [c for c in self.campaigns if c.id not in self.finished]

    async def interrupted(self, campaign_id: str) -> list[Claim]:
        return []

    async def has_open_numbers(self, campaign_id: str) -> bool:
        self._fault("has_open_numbers", campaign_id)
        return bool(self.numbers[campaign_id])

    async def finish(self, campaign_id: str) -> None:
        self.finished.append(campaign_id)

    async def candidates(self, campaign_id: str, now: dt.datetime, limit: int) -> list[TargetView]:
        return [
            TargetView(id=number, line=n, state=TargetState.PENDING, next_attempt_at=None)
            for n, number in enumerate(self.numbers[campaign_id][:limit])
        ]

    async def claim(self, campaign_id: str, target_id: str, now: dt.datetime) -> Claim | None:
        self.numbers[campaign_id].remove(target_id)
        return Claim(f"a-{target_id}", target_id, target_id, 1, f"call-{target_id}")

    async def settle(
        self,
        claim: Claim,
        result: AttemptResult,
        state: TargetState,
        next_at: dt.datetime | None,
        now: dt.datetime,
        end: AttemptEnd | None = None,
    ) -> None:
        self.settled[claim.target_id] = (result, state, end)


class Journal:
    """Takes what the attempts write about their calls."""

    def __init__(self) -> None:
        self.ended: dict[str, str] = {}

    def arrived(self, call: Any) -> None:
        pass

    def event(self, call_id: str, *args: Any) -> None:
        pass

    def update(self, call_id: str, update: Any) -> None:
        pass

    def finished(self, call_id: str, hangup: Any) -> None:
        self.ended[call_id] = str(hangup.outcome)


def _runner(store: Store, journal: Journal, rules: Callable[[], Rules] = lambda: RULES) -> Any:
    services = Services(
        ari=cast(Any, None),  # never reached: every call breaks before it rings
        journal=cast(Any, journal),
        queues=cast(Any, None),
        settings=Settings(),
        clock=lambda: NOW,
    )
    return CampaignRunner(services, cast(CampaignStore, store), rules, Legs(), poll=0.01)


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - state of another task, no event to wait on
            await asyncio.sleep(0.01)


def _not_debug(logs: list[dict[str, Any]]) -> list[str]:
    return [entry["event"] for entry in logs if entry["log_level"] != "debug"]


async def test_an_error_in_one_attempt_fails_that_number_with_its_reason_and_runs_on() -> None:
    store, journal = Store({"fruehjahr": ["+4930100", "+4930200"]}), Journal()
    runner = _runner(store, journal)
    plan = runner.services.trunks.plan

    def outbound(number: str, **_: Any) -> Outbound:
        if number == "+4930100":
            raise KeyError("trunk table")  # a bug, not the line
        raise NotANumberError("'+49******00' is not a phone number to dial out")

    object.__setattr__(plan, "outbound", outbound)  # the plan is frozen; this one is broken
    with capture_logs() as logs:
        runner.start()
        await _until(lambda: len(store.settled) == 2 and runner.ticks >= 3)
        await runner.close(0)
    result, state, end = store.settled["+4930100"]
    assert (result, state) == (AttemptResult.ERROR, TargetState.FAILED)
    assert end is not None
    assert end.reason == "KeyError: 'trunk table'"
    (failed,) = [e for e in logs if e["event"] == "campaign.attempt_failed"]
    assert failed["log_level"] == "error"
    assert isinstance(failed["exc_info"], KeyError)  # logged with its traceback
    # The runner went on with the next number, which cannot be dialled: failed, with why.
    result, state, end = store.settled["+4930200"]
    assert (result, state) == (AttemptResult.ERROR, TargetState.FAILED)
    assert end is not None
    assert end.reason == "'+49******00' is not a phone number to dial out"
    # Both calls are closed as failed.
    assert journal.ended == {"call-+4930100": "failed", "call-+4930200": "failed"}
    assert "campaign.database.unavailable" not in _not_debug(logs)
    assert not runner.outage.away


async def test_an_error_in_one_campaigns_round_is_logged_once_and_the_others_run() -> None:
    store, journal = Store({"kaputt": ["+4930100"], "leer": []}), Journal()
    store.faults[("has_open_numbers", "id-kaputt")] = ValueError("a bug in the round")
    runner = _runner(store, journal)
    with capture_logs() as logs:
        runner.start()
        await _until(lambda: runner.ticks >= 5)
        await runner.close(0)
    assert store.finished == ["id-leer"]  # the other campaign went on and finished
    failures = [e for e in logs if e["event"] == "campaign.round_failed"]
    assert len(failures) == 1  # once, not at every round
    assert failures[0]["log_level"] == "error"
    assert failures[0]["campaign"] == "kaputt"
    assert isinstance(failures[0]["exc_info"], ValueError)
    assert any(e["event"] == "campaign.round_failed_again" for e in logs)
    assert "campaign.database.unavailable" not in _not_debug(logs)


async def test_a_database_outage_in_a_round_is_one_warning_not_an_error() -> None:
    store, journal = Store({"fruehjahr": ["+4930100"]}), Journal()
    away = OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
    store.faults[("has_open_numbers", "id-fruehjahr")] = away
    runner = _runner(store, journal)
    with capture_logs() as logs:
        runner.start()
        await _until(lambda: runner.outage.failures >= 5)
        del store.faults[("has_open_numbers", "id-fruehjahr")]
        await _until(lambda: not runner.outage.away)
        await runner.close(0)
    assert _not_debug(logs)[:2] == ["campaign.database.unavailable", "campaign.database.returned"]
    assert not any(e["event"] == "campaign.round_failed" for e in logs)
    assert not any("exc_info" in e for e in logs if e["event"].startswith("campaign.database"))


async def test_a_mistake_reading_the_campaigns_is_logged_once_and_the_runner_goes_on() -> None:
    store, journal = Store({"fruehjahr": []}), Journal()
    real, asked = store.active, []

    async def broken() -> list[Campaign]:
        asked.append(1)
        raise TypeError("active() got an unexpected keyword")

    store.active = broken  # type: ignore[method-assign]
    runner = _runner(store, journal)
    with capture_logs() as logs:
        runner.start()
        await _until(lambda: len(asked) >= 5)  # several rounds, each failing the same way
        store.active = real  # type: ignore[method-assign]
        await _until(lambda: store.finished == ["id-fruehjahr"])
        await runner.close(0)
    failures = [e for e in logs if e["event"] == "campaign.round_failed"]
    assert len(failures) == 1
    assert isinstance(failures[0]["exc_info"], TypeError)
    assert "campaign.database.unavailable" not in _not_debug(logs)
