"""Outbound survey campaigns on the real sandbox, with the daemon's clock moved by the test.

Simulated numbers (`Local/<number>@sim-number`) answer and key in their answers, are busy or
do not answer; the campaign's calling hours (09:00-18:00 Berlin, the rules' zone) and its
retry delay are driven by a FakeClock, so nothing waits for real hours to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from zentrale.calls.models import Direction, Outcome
from zentrale.config.settings import (
    Settings,
)
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import PartyScript, script_party
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.models import CampaignState, TargetState
from zentrale.surveys.setup import CampaignRequest, prepare
from zentrale.surveys.store import CampaignStore
from zentrale.testing.clocks import FakeClock

from .conftest import Flows, daemon_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

RULES = """
version: 1
timezone: Europe/Berlin
languages: {available: [de], default: de}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
  frage: sound:beep
  danke: sound:auth-thankyou
announcements:
  consent: {outbound: consent}
departments:
  service:
    agents: [{endpoint: "Local/K1@sim-agent/n", name: Kai}]
    on_max_wait: {play_and_hangup: bye}
surveys:
  umfrage:
    questions:
      - {id: zufrieden, prompt: frage, scale: 1-5, timeout: 6s, retries: 0}
      - {id: wieder, prompt: frage, scale: yes/no, timeout: 6s, retries: 0}
    thanks: danke
entry_rules:
  - {name: all, action: {department: service}}
"""

# Monday 2 March 2026, 07:00 in Berlin: two hours before the campaign may call.
EARLY = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
NINE = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
ANSWERS = PartyScript(answer_after=0.5, digits="ww4ww1")  # 4 on 1-5, then yes


def _settings(tmp_path: Path) -> Settings:
    return daemon_settings(tmp_path, RULES)


@contextlib.asynccontextmanager
async def _daemon(
    asterisk: SandboxInstance, settings: Settings, clock: FakeClock
) -> AsyncIterator[Flows]:
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=10, clock=clock
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        yield Flows(daemon, asterisk)


async def _campaign(flows: Flows, name: str, numbers: list[str], **options: object) -> str:
    csv = "name,number\n" + "".join(f"Kunde {n},{number}\n" for n, number in enumerate(numbers))
    request = CampaignRequest(name=name, survey="umfrage", numbers_csv=csv, ring="5s", **options)  # type: ignore[arg-type]
    new, listed = prepare(request, flows.daemon.rules.current)
    store = CampaignStore(flows.daemon.db)
    created = await store.create(new, listed)
    await store.start(name)
    return created.id


async def _ticks(flows: Flows, rounds: int = 2) -> None:
    """Wait until the campaign runner has scheduled ROUNDS more times."""
    runner = flows.daemon.campaigns
    assert runner is not None
    target = runner.ticks + rounds
    async with asyncio.timeout(30):
        while runner.ticks < target:  # noqa: ASYNC110 - the runner's rounds, seen from outside
            await asyncio.sleep(0.1)


async def _until(check: Callable[[], Awaitable[bool]], what: str, max_wait: float = 90) -> None:
    try:
        async with asyncio.timeout(max_wait):
            while not await check():  # noqa: ASYNC110 - database state, polled
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _states(flows: Flows, campaign_id: str) -> dict[str, str]:
    numbers = await CampaignStore(flows.daemon.db).numbers(campaign_id)
    return {target.number: str(target.state) for target in numbers}


async def _results(flows: Flows, campaign_id: str) -> dict[str, list[str]]:
    store = CampaignStore(flows.daemon.db)
    numbers = {t.id: t.number for t in await store.numbers(campaign_id)}
    found: dict[str, list[str]] = {number: [] for number in numbers.values()}
    for attempt in await store.attempts(campaign_id):
        found[numbers[attempt.target_id]].append(str(attempt.result))
    return found


async def _idle(flows: Flows, campaign_id: str) -> bool:
    runner = flows.daemon.campaigns
    await flows.daemon.journal.flush()
    return runner is not None and not runner.calling[campaign_id]


async def test_campaign_calls_within_hours_retries_busy_and_no_answer_and_resumes(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    settings, clock = _settings(tmp_path), FakeClock(EARLY)
    numbers = ["+4930100", "+4930200", "+4930300"]
    await script_party(asterisk.ari, "number", numbers[0], ANSWERS)
    await script_party(asterisk.ari, "number", numbers[1], PartyScript(mode="busy"))
    await script_party(asterisk.ari, "number", numbers[2], PartyScript(mode="noanswer"))
    async with _daemon(asterisk, settings, clock) as flows:
        campaign = await _campaign(flows, "fruehjahr", numbers, concurrency=2, retries=2)
        await _ticks(flows, 3)
        assert await CampaignStore(flows.daemon.db).attempts(campaign) == []  # 07:00: too early

        clock.now = NINE
        settled = {numbers[0]: "done", numbers[1]: "retry", numbers[2]: "retry"}

        async def first_round() -> bool:
            return await _states(flows, campaign) == settled and await _idle(flows, campaign)

        await _until(first_round, "the first round of calls")
        runner = flows.daemon.campaigns
        assert runner is not None
        assert runner.peak[campaign] == 2
    # A new daemon on the same database: answered numbers are not called again.
    await script_party(asterisk.ari, "number", numbers[1], ANSWERS)
    await script_party(asterisk.ari, "number", numbers[2], ANSWERS)
    async with _daemon(asterisk, settings, clock) as flows:
        clock.advance(29 * 60)
        await _ticks(flows, 3)
        assert len(await CampaignStore(flows.daemon.db).attempts(campaign)) == 3  # not yet
        clock.advance(60)

        async def finished() -> bool:
            found = await CampaignStore(flows.daemon.db).get("fruehjahr")
            return found.state == CampaignState.FINISHED and await _idle(flows, campaign)

        await _until(finished, "the retries")
        assert await _results(flows, campaign) == {
            numbers[0]: ["answered"],
            numbers[1]: ["busy", "answered"],
            numbers[2]: ["no_answer", "answered"],
        }
        calls = await flows.finished_calls(5)
        # An answered campaign call is a survey call: its outcome says so.
        assert sorted(str(c.outcome) for c in calls) == sorted(
            ["survey", "busy", "no_answer", "survey", "survey"]
        )
        assert {c.direction for c in calls} == {Direction.OUTBOUND}
        answers = await AnswerStore(flows.daemon.db).for_campaign(campaign)
        assert sorted((a.question, a.answer, str(a.status)) for a in answers) == sorted(
            [("zufrieden", 4, "answered"), ("wieder", 1, "answered")] * 3
        )
        answered = [c for c in calls if c.outcome == Outcome.SURVEY]
        assert {a.call_id for a in answers} == {c.id for c in answered}
        for call in answered:
            kinds = await flows.kinds(call.id)
            assert kinds.index("consent_played") < kinds.index("survey_answer")
        assert await flows.asterisk_empty()


async def test_stopping_lets_the_call_in_progress_finish_and_dials_no_more(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    settings, clock = _settings(tmp_path), FakeClock(NINE)
    numbers = ["+4930400", "+4930500"]
    slow = PartyScript(answer_after=0.5, digits="wwwwwwww3wwww2")
    for number in numbers:
        await script_party(asterisk.ari, "number", number, slow)
    async with _daemon(asterisk, settings, clock) as flows:
        campaign = await _campaign(flows, "stopp", numbers, concurrency=1)

        async def first_answered() -> bool:
            return (await _states(flows, campaign))[numbers[0]] == TargetState.DONE

        await _until(first_answered, "the first number to answer")
        await CampaignStore(flows.daemon.db).stop("stopp")
        await _until(lambda: _idle(flows, campaign), "the call in progress to end")
        await _ticks(flows, 3)
        assert await _states(flows, campaign) == {numbers[0]: "done", numbers[1]: "pending"}
        (call,) = await flows.finished_calls(1)
        answers = await AnswerStore(flows.daemon.db).for_call(call.id)
        assert [(a.answer, str(a.status)) for a in answers] == [(3, "answered"), (2, "answered")]
        assert await _results(flows, campaign) == {numbers[0]: ["answered"], numbers[1]: []}


async def test_supervisors_run_campaigns_through_the_api(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    settings, clock = _settings(tmp_path), FakeClock(EARLY)
    async with _daemon(asterisk, settings, clock) as flows:
        users = UserStore(flows.daemon.db)
        tokens = {}
        for name, role in (("sabine", Role.SUPERVISOR), ("ayse", Role.AGENT)):
            user = await users.add(
                NewUser(
                    username=name,
                    display_name=name.title(),
                    password="a long password 1",
                    role=role,
                    departments=("service",),
                    agent_endpoint=None,
                )
            )
            tokens[role] = (await users.issue_token(user.id, "test", 1)).secret

        def client(role: Role) -> httpx.AsyncClient:
            auth = {"Authorization": f"Bearer {tokens[role]}"}
            return httpx.AsyncClient(base_url=flows.daemon.http_url, timeout=30, headers=auth)

        body = {
            "name": "herbst",
            "survey": "umfrage",
            "numbers_csv": "number\n+493060012\n",
            "from": "09:00",
            "to": "17:00",
            "days": "mon-fri",
            "concurrency": 1,
        }
        async with client(Role.AGENT) as agent:
            assert (await agent.post("/api/campaigns", json=body)).status_code == 403
            assert (await agent.get("/api/campaigns")).status_code == 403
        async with client(Role.SUPERVISOR) as api:
            bad = await api.post("/api/campaigns", json={**body, "numbers_csv": "number\nabc\n"})
            assert bad.status_code == 422
            assert "numbers_csv line 2, column 1 (number)" in bad.json()["error"]["message"]
            unknown = await api.post("/api/campaigns", json={**body, "survey": "nope"})
            assert unknown.status_code == 422
            created = await api.post("/api/campaigns", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["numbers"]["pending"] == 1
            assert (await api.post("/api/campaigns", json=body)).status_code == 409
            started = await api.post("/api/campaigns/herbst/start")
            assert started.json()["state"] == "active"
            shown = await api.get("/api/campaigns/herbst")
            assert shown.json()["targets"][0]["number"] == "+49306**12"
            assert shown.json()["results"] == []  # nobody called yet
            stopped = await api.post("/api/campaigns/herbst/stop")
            assert stopped.json()["state"] == "stopped"
            assert [c["name"] for c in (await api.get("/api/campaigns")).json()] == ["herbst"]
            assert (await api.get("/api/campaigns/nichts")).status_code == 404
        from sqlalchemy import select

        async with flows.daemon.db.read() as session:
            actions = list(await session.scalars(select(AuditEntry.action)))
        assert [a for a in actions if a.startswith("campaign.")] == [
            "campaign.create",
            "campaign.start",
            "campaign.show",
            "campaign.stop",
        ]
        assert (
            await CampaignStore(flows.daemon.db).attempts(
                (await CampaignStore(flows.daemon.db).get("herbst")).id
            )
            == []
        )  # 07:00 in Berlin: nothing was dialled
