"""Campaigns on SQLite and PostgreSQL: creation, states, claiming a number once, retries,
recovery after a restart; and the `zentrale campaign` commands on the same databases."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from zentrale.calls.store import CallStore
from zentrale.cli import main
from zentrale.config.settings import Settings
from zentrale.db.session import Database
from zentrale.routing.load import parse_rules
from zentrale.surveys.answers import AnswerStore, NewAnswer
from zentrale.surveys.models import AnswerStatus, AttemptResult, CampaignState, TargetState
from zentrale.surveys.numbers import Listed
from zentrale.surveys.schedule import Window
from zentrale.surveys.store import (
    AttemptEnd,
    CampaignError,
    CampaignExistsError,
    CampaignNotFoundError,
    CampaignStore,
    NewCampaign,
)
from zentrale.telephony.campaigns import CampaignRunner, Legs
from zentrale.telephony.trunks import Lines, TrunkPlan
from zentrale.testing.clocks import START, FakeClock

from .conftest import inbound

pytestmark = pytest.mark.asyncio

NEW = NewCampaign(
    name="fruehjahr",
    survey="umfrage",
    window=Window.parse("09:00", "18:00", "mon-fri"),
    concurrency=2,
    retries=1,
    retry_after=dt.timedelta(minutes=30),
)
NUMBERS = [Listed(2, "+4930100"), Listed(3, "+4930200"), Listed(5, "+4930300")]


@pytest.fixture
def store(db: Database, clock: FakeClock) -> CampaignStore:
    return CampaignStore(db, clock)


async def test_created_as_draft_with_its_numbers_in_file_order(store: CampaignStore) -> None:
    created = await store.create(NEW, NUMBERS)
    assert (created.state, created.window_from, created.window_to, created.days) == (
        CampaignState.DRAFT,
        "09:00",
        "18:00",
        "mon,tue,wed,thu,fri",
    )
    targets = await store.numbers(created.id)
    assert [(t.line, t.number, t.state, t.attempts) for t in targets] == [
        (2, "+4930100", TargetState.PENDING, 0),
        (3, "+4930200", TargetState.PENDING, 0),
        (5, "+4930300", TargetState.PENDING, 0),
    ]
    with pytest.raises(CampaignExistsError):
        await store.create(NEW, NUMBERS)
    with pytest.raises(CampaignNotFoundError):
        await store.get("nichts")


async def test_start_stop_and_finish(store: CampaignStore) -> None:
    created = await store.create(NEW, NUMBERS)
    assert (await store.start("fruehjahr")).state == CampaignState.ACTIVE
    assert [c.name for c in await store.active()] == ["fruehjahr"]
    assert (await store.stop("fruehjahr")).state == CampaignState.STOPPED
    assert await store.active() == []
    assert (await store.start("fruehjahr")).state == CampaignState.ACTIVE
    await store.finish(created.id)
    assert (await store.get("fruehjahr")).state == CampaignState.FINISHED
    with pytest.raises(CampaignError, match="finished; it cannot become active"):
        await store.start("fruehjahr")


async def test_a_number_is_claimed_once_and_settled(store: CampaignStore, clock: FakeClock) -> None:
    created = await store.create(NEW, NUMBERS)
    (first, *_) = await store.targets(created.id)
    claims = await asyncio.gather(*(store.claim(created.id, first.id, START) for _ in range(4)))
    won = [claim for claim in claims if claim is not None]
    assert len(won) == 1
    assert (won[0].number, won[0].attempt) == ("+4930100", 1)
    retry_at = START + dt.timedelta(minutes=30)
    await store.settle(won[0], AttemptResult.BUSY, TargetState.RETRY, retry_at, START)
    (target, *_) = await store.numbers(created.id)
    assert (target.state, target.attempts, target.last_result, target.next_attempt_at) == (
        TargetState.RETRY,
        1,
        AttemptResult.BUSY,
        retry_at,
    )
    again = await store.claim(created.id, first.id, retry_at)
    assert again is not None
    assert again.attempt == 2
    await store.settle(again, AttemptResult.ANSWERED, TargetState.DONE, None, retry_at)
    assert await store.claim(created.id, first.id, retry_at) is None  # done: never again
    attempts = await store.attempts(created.id)
    assert [(a.attempt, a.result) for a in attempts] == [
        (1, AttemptResult.BUSY),
        (2, AttemptResult.ANSWERED),
    ]
    progress = await store.progress("fruehjahr")
    assert (progress.counts["done"], progress.counts["pending"], progress.attempts) == (1, 2, 2)


async def test_attempts_left_ringing_are_found_after_a_restart(store: CampaignStore) -> None:
    created = await store.create(NEW, NUMBERS)
    targets = await store.targets(created.id)
    ringing = await store.claim(created.id, targets[1].id, START)
    finished = await store.claim(created.id, targets[2].id, START)
    assert ringing is not None
    assert finished is not None
    await store.settle(finished, AttemptResult.ANSWERED, TargetState.DONE, None, START)
    assert await store.interrupted(created.id) == [ringing]


def _cli(tmp_path: Path, database_url: str, *args: str) -> tuple[int, str]:
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    env = {"ZENTRALE_DATABASE__URL": database_url, "ZENTRALE_ROUTING__FILE": str(rules)}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


async def test_campaign_commands(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "kunden.csv"
    csv.write_text("Name;Telefon\nAnna;+49 30 100\nBen;keine\n")
    run = lambda *args: asyncio.to_thread(_cli, tmp_path, database_url, *args)  # noqa: E731
    code, out = await run(
        "campaign", "create", "herbst", "--survey", "umfrage", "--numbers", str(csv)
    )
    assert code == 1
    assert f"{csv} line 3, column 2 (Telefon): 'keine' is not a phone number" in out
    csv.write_text("Name;Telefon\nAnna;+49 30 100\nBen;+49 30 200\n")
    code, out = await run("campaign", "create", "herbst", "--survey", "nope", "--numbers", str(csv))
    assert (code, "no survey 'nope' in the routing rules (known: umfrage)" in out) == (1, True)
    options = [
        "--from",
        "10:00",
        "--to",
        "16:30",
        "--days",
        "mon,wed",
        "--concurrency",
        "3",
        "--retries",
        "4",
        "--retry-after",
        "1h",
    ]
    code, out = await run(
        "campaign", "create", "herbst", "--survey", "umfrage", "--numbers", str(csv), *options
    )
    assert code == 0, out
    assert "campaign herbst: 2 numbers, 10:00-16:30 mon,wed" in out
    code, out = await run("campaign", "start", "herbst")
    assert (code, out.splitlines()[-1]) == (0, "campaign herbst: active")
    code, out = await run("campaign", "status", "herbst")
    assert "hours 10:00-16:30 mon,wed, 3 at once, 4 retries after 60 min" in out
    assert "pending 2" in out
    code, out = await run("campaign", "stop", "herbst")
    assert out.splitlines()[-1] == "campaign herbst: stopped"
    code, out = await run("campaign", "list")
    assert out.splitlines()[-1].split("\t") == ["herbst", "stopped", "umfrage", "0/2 done"]
    code, out = await run("campaign", "start", "nichts")
    assert (code, "no campaign named 'nichts'" in out) == (1, True)
    code, out = await run("survey", "list")
    assert "  2. wieder (yes/no, prompt frage)" in out
    code, out = await run("campaign", "results", "herbst")
    assert out.splitlines()[-1] == "campaign herbst: no answers yet"
    async with Database.open(database_url) as db:
        herbst = await CampaignStore(db).get("herbst")
        await CallStore(db).create(inbound("call-1"))
        for position, answer, status in (
            (1, 4, AnswerStatus.ANSWERED),
            (2, None, AnswerStatus.ABANDONED),
        ):
            question, scale = ("zufrieden", "1-5") if position == 1 else ("wieder", "yes/no")
            row = NewAnswer(
                call_id="call-1",
                survey="umfrage",
                question=question,
                position=position,
                answer=answer,
                status=status,
                scale=scale,
                answered_at=START,
                campaign_id=herbst.id,
            )
            await AnswerStore(db).record(row)
    code, out = await run("campaign", "results", "herbst")
    assert out.splitlines()[-2:] == [
        "1. zufrieden (1-5): 1 answered, 0 unanswered, 0 abandoned; mean 4; 4:1",
        "2. wieder (yes/no): 0 answered, 0 unanswered, 1 abandoned; mean -; -",
    ]


RULES = """
version: 1
timezone: Europe/Berlin
languages: {available: [de], default: de}
prompts: {frage: sound:beep, bye: sound:vm-goodbye}
departments:
  service:
    agents: [{endpoint: "PJSIP/1001", name: Kai}]
    on_max_wait: {play_and_hangup: bye}
surveys:
  umfrage:
    questions:
      - {id: zufrieden, prompt: frage, scale: 1-5}
      - {id: wieder, prompt: frage, scale: yes/no}
entry_rules:
  - {name: all, action: {department: service}}
"""


async def test_candidates_are_new_numbers_in_file_order_then_retries_by_time(
    store: CampaignStore,
) -> None:
    created = await store.create(NEW, [*NUMBERS, Listed(7, "+4930400")])
    ids = {t.line: t.id for t in await store.targets(created.id)}
    later, soon = START + dt.timedelta(minutes=20), START + dt.timedelta(minutes=10)
    for line, result, state, when in (
        (2, AttemptResult.BUSY, TargetState.RETRY, later),
        (3, AttemptResult.BUSY, TargetState.RETRY, soon),
        (5, AttemptResult.ANSWERED, TargetState.DONE, None),
    ):
        claim = await store.claim(created.id, ids[line], START)
        assert claim is not None
        await store.settle(claim, result, state, when, START)
    lines = {t.id: t.line for t in await store.targets(created.id)}

    async def due_lines(at: dt.datetime, limit: int = 10) -> list[int]:
        return [lines[t.id] for t in await store.candidates(created.id, at, limit)]

    assert await due_lines(START) == [7]
    assert await due_lines(soon) == [7, 3]
    assert await due_lines(later) == [7, 3, 2]
    assert await due_lines(later, limit=2) == [7, 3]
    assert await store.has_open_numbers(created.id)
    for target in await store.candidates(created.id, later, 10):
        claim = await store.claim(created.id, target.id, later)
        assert claim is not None
        assert await store.has_open_numbers(created.id)  # one is being called
        await store.settle(claim, AttemptResult.BUSY, TargetState.EXHAUSTED, None, later)
    assert not await store.has_open_numbers(created.id)


async def test_a_restarted_runner_settles_what_was_left_ringing(store: CampaignStore) -> None:
    night = FakeClock(dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC))  # closed: nothing is dialled
    created = await store.create(NEW, NUMBERS)
    await store.start("fruehjahr")
    (first, *_) = await store.targets(created.id)
    assert await store.claim(created.id, first.id, START) is not None  # then the daemon died
    rules = parse_rules(RULES)
    runner = CampaignRunner(
        services=SimpleNamespace(clock=night, trunks=Lines(TrunkPlan.of(Settings()))),
        store=store,
        rules=lambda: rules,
        legs=Legs(),  # type: ignore[arg-type]
        poll=0.01,
    )
    runner.start()
    async with asyncio.timeout(10):
        while runner.ticks < 2:  # noqa: ASYNC110 - the runner's rounds
            await asyncio.sleep(0.01)
    await runner.close(1)
    (target, *_) = await store.numbers(created.id)
    retry_at = night.now + dt.timedelta(minutes=30)
    assert (target.state, target.last_result, target.next_attempt_at) == (
        TargetState.RETRY,
        AttemptResult.INTERRUPTED,
        retry_at,
    )
    assert [a.result for a in await store.attempts(created.id)] == [AttemptResult.INTERRUPTED]
    assert await store.interrupted(created.id) == []


async def test_an_idle_runner_looks_at_once_when_a_store_here_starts_a_campaign(
    db: Database, store: CampaignStore
) -> None:
    night = FakeClock(dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC))  # closed: nothing is dialled
    await store.create(NEW, NUMBERS)
    rules = parse_rules(RULES)
    runner = CampaignRunner(
        services=SimpleNamespace(clock=night, trunks=Lines(TrunkPlan.of(Settings()))),
        store=store,
        rules=lambda: rules,
        legs=Legs(),  # type: ignore[arg-type]
        poll=0.01,
        idle_poll=30,  # longer than the test: a look before it came from the wake
    )
    runner.start()
    try:
        async with asyncio.timeout(10):
            while runner.ticks < 1:  # noqa: ASYNC110 - the runner's rounds
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert runner.ticks == 1  # no campaign active: it waits for idle_poll
        await CampaignStore(db).start("fruehjahr")  # e.g. the API's store, in this process
        async with asyncio.timeout(5):
            while runner.ticks < 3:  # noqa: ASYNC110 - the runner's rounds, now every poll
                await asyncio.sleep(0.01)
    finally:
        await runner.close(1)


async def test_an_attempts_cause_and_reason_are_kept_on_it_and_its_number(
    store: CampaignStore,
) -> None:
    created = await store.create(NEW, NUMBERS)
    busy_id, broken_id, _ = [t.id for t in await store.targets(created.id)]
    busy = await store.claim(created.id, busy_id, START)
    broken = await store.claim(created.id, broken_id, START)
    assert busy is not None
    assert broken is not None
    retry_at = START + dt.timedelta(minutes=30)
    await store.settle(
        busy, AttemptResult.BUSY, TargetState.RETRY, retry_at, START, AttemptEnd(17, "User busy")
    )
    reason = "KeyError: 'trunk table' " + "x" * 400  # cut to the column's 300 characters
    await store.settle(
        broken, AttemptResult.ERROR, TargetState.FAILED, None, START, AttemptEnd(reason=reason)
    )
    targets = {t.id: t for t in await store.numbers(created.id)}
    assert (targets[busy_id].last_cause_code, targets[busy_id].last_cause_text) == (17, "User busy")
    assert targets[busy_id].last_reason is None
    assert targets[broken_id].state == TargetState.FAILED
    assert targets[broken_id].last_reason == reason[:300]
    assert targets[broken_id].last_cause_code is None
    attempts = {a.target_id: a for a in await store.attempts(created.id)}
    assert (attempts[busy_id].cause_code, attempts[busy_id].cause_text) == (17, "User busy")
    assert attempts[broken_id].result == AttemptResult.ERROR
    # A failed number is closed: with the third still pending the campaign is open, then not.
    assert await store.has_open_numbers(created.id)
    (last,) = await store.candidates(created.id, START, 10)
    claim = await store.claim(created.id, last.id, START)
    assert claim is not None
    await store.settle(claim, AttemptResult.ANSWERED, TargetState.DONE, None, START)
    assert await store.has_open_numbers(created.id)  # the busy one waits for its retry
    progress = await store.progress("fruehjahr")
    counts = progress.counts
    assert (counts["failed"], counts["retry"], counts["done"]) == (1, 1, 1)
