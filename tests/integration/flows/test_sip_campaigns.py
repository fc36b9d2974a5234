"""Survey campaigns through the SIP trunk, with SIPp as the carrier and its customers.

The sandbox's carrier trunk is set up as a German trunk (national numbers, prefix 9) with a
caller ID for the campaign and one channel. SIPp on the carrier's port answers and keys in the
survey's answers as RFC 4733 events (`testing.sip.carrier_answering`), or refuses the call
(`carrier_refusing`), or is not there at all. Each number's end is stored with its Q.850 cause
on the call and the number, and the campaign's retry rules follow from it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zentrale.calls.models import Call, Direction, Outcome
from zentrale.cli.ops import figures
from zentrale.config.settings import Settings, TrunkSettings
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon.ops import metrics_token
from zentrale.ops.process import parse_metrics, sample
from zentrale.sandbox import SandboxInstance
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.models import CampaignTarget
from zentrale.surveys.store import CampaignStore
from zentrale.testing.clocks import FakeClock
from zentrale.testing.sip import (
    Key,
    carrier_answering,
    carrier_refusing,
    have_tools,
    messages_of,
)
from zentrale.testing.trunk import invites

from .conftest import Flows, daemon_settings
from .test_campaigns import NINE, RULES, _campaign, _daemon, _idle, _until

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

CAMPAIGN_CALLER_ID = "+49301234562"


def _settings(tmp_path: Path) -> Settings:
    trunk = {
        "endpoint": "carrier",
        "country": "DE",
        "outbound": {
            "format": "national",
            "prefix": "9",
            "caller_id": "+49301234560",
            "campaign_caller_id": {"fruehjahr": CAMPAIGN_CALLER_ID},
            "max_channels": 1,
        },
    }
    settings = daemon_settings(tmp_path, RULES)
    return settings.model_copy(
        update={"trunks": {"carrier-de": TrunkSettings.model_validate(trunk)}}
    )


@contextlib.asynccontextmanager
async def _running(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Flows]:
    async with _daemon(asterisk, _settings(tmp_path), FakeClock(NINE)) as flows:
        yield flows


async def _targets(flows: Flows, campaign_id: str) -> list[CampaignTarget]:
    return sorted(await CampaignStore(flows.daemon.db).numbers(campaign_id), key=lambda t: t.line)


async def _settled(flows: Flows, campaign_id: str, count: int) -> list[CampaignTarget]:
    """Wait until COUNT attempts of the campaign ended and no call runs; return its numbers."""
    store = CampaignStore(flows.daemon.db)

    async def ended() -> bool:
        attempts = await store.attempts(campaign_id)
        done = [a for a in attempts if a.result is not None]
        return len(done) >= count and await _idle(flows, campaign_id)

    await _until(ended, f"{count} attempts", max_wait=120)
    return await _targets(flows, campaign_id)


async def _rtp_counts(flows: Flows, seen: dict[str, tuple[int, int]]) -> None:
    """Keep the RTP packet counts (received, sent) Asterisk reports for campaign channels."""
    ari = flows.daemon.ari
    while True:
        for channel in await ari.channels.list():
            if not channel.id.startswith("campaign-"):
                continue
            with contextlib.suppress(Exception):  # the channel may end between list and read
                stats = await ari.channels.get_variable(channel.id, "CHANNEL(rtcp,all)")
                fields = dict(part.split("=", 1) for part in stats.split(";") if "=" in part)
                seen[channel.id] = (int(fields["rxcount"]), int(fields["txcount"]))
        await asyncio.sleep(0.5)


async def test_sip_campaign_through_the_trunk_puts_the_survey_one_line_at_a_time(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    # Two numbers, two calls at once allowed by the campaign, one channel on the trunk. Each
    # customer answers after 1 s, presses 4 (first question, 1-5), then 1 (yes) and waits for
    # zentrale to hang up after the thanks.
    numbers = ["+4930666001", "+4930666002"]
    keys = [Key("4", 4.5), Key("1", 8.5)]
    rtp: dict[str, tuple[int, int]] = {}
    async with (
        _running(asterisk, tmp_path) as flows,
        carrier_answering(
            carrier_port=asterisk.carrier_port, workdir=tmp_path / "uas", hold=30, keys=keys
        ) as sipp_errors,
    ):
        campaign = await _campaign(flows, "fruehjahr", numbers, concurrency=2, retries=1)
        watcher = asyncio.create_task(_rtp_counts(flows, rtp))
        try:
            targets = await _settled(flows, campaign, 2)
        finally:
            watcher.cancel()
        calls = await flows.finished_calls(2)
        runner = flows.daemon.campaigns
        assert runner is not None
        peak = runner.peak[campaign]
        scraped = await _metrics(flows)
        timelines = [await flows.kinds(call.id) for call in calls]
        assert await flows.asterisk_empty()
    why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
    # The carrier saw the number as the trunk dials it (9 + national) from the campaign's ID.
    seen = invites(messages_of(tmp_path / "uas"))
    assert sorted(i.user for i in seen) == ["9030666001", "9030666002"], why
    assert {(i.from_user, i.asserted) for i in seen} == {(CAMPAIGN_CALLER_ID, CAMPAIGN_CALLER_ID)}
    # The trunk's one channel paced the campaign: one call at a time, nobody failed for it.
    assert peak == 1
    assert [(str(t.state), t.attempts, str(t.last_result)) for t in targets] == [
        ("done", 1, "answered"),
        ("done", 1, "answered"),
    ]
    # Each answered call heard the survey; its RFC 4733 keys are its answers.
    answers = await AnswerStore(flows.daemon.db).for_campaign(campaign)
    by_call = {
        call.id: sorted(
            (a.position, a.answer, str(a.status)) for a in answers if a.call_id == call.id
        )
        for call in calls
    }
    assert list(by_call.values()) == [[(1, 4, "answered"), (2, 1, "answered")]] * 2, why
    for kinds in timelines:  # the outbound consent notice first, then the questions
        assert kinds.index("consent_played") < kinds.index("survey_answer"), kinds
    # RTP both ways on each call: the customer's tone and keys in, the prompts out.
    assert len(rtp) == 2, rtp
    assert all(rx > 100 and tx > 100 for rx, tx in rtp.values()), rtp
    # A call that ended in the survey says so, in the database, the metrics and the status.
    assert [(c.direction, c.outcome) for c in calls] == [(Direction.OUTBOUND, Outcome.SURVEY)] * 2
    assert {(c.hangup_cause_code, c.hangup_cause_text) for c in calls} == {(16, "Normal Clearing")}
    # An answered number is settled at the answer, before its call ends: it keeps no cause.
    assert {t.last_cause_code for t in targets} == {None}
    assert sample(scraped, "zentrale_calls_total", direction="outbound", outcome="survey") == 2
    assert figures(scraped)["calls_ended"] == {"survey": 2}


async def _metrics(flows: Flows) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    daemon = flows.daemon
    assert daemon.http_url is not None
    token = metrics_token(daemon.settings)
    async with httpx.AsyncClient(base_url=daemon.http_url, timeout=30) as http:
        reply = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return parse_metrics(reply.text)


@pytest.mark.parametrize(
    ("status", "result", "outcome", "cause", "state"),
    [
        # Busy and no answer are tried again after the campaign's delay; so is congestion.
        ("486 Busy Here", "busy", Outcome.BUSY, 17, "retry"),
        ("480 Temporarily Unavailable", "no_answer", Outcome.NO_ANSWER, 19, "retry"),
        ("503 Service Unavailable", "unavailable", Outcome.FAILED, 34, "retry"),
        # A number that does not exist is never called again.
        ("404 Not Found", "unavailable", Outcome.FAILED, 1, "exhausted"),
    ],
)
async def test_sip_campaign_number_refused_by_the_carrier_keeps_its_cause(
    asterisk: SandboxInstance,
    tmp_path: Path,
    status: str,
    result: str,
    outcome: Outcome,
    cause: int,
    state: str,
) -> None:
    async with (
        _running(asterisk, tmp_path) as flows,
        carrier_refusing(
            carrier_port=asterisk.carrier_port, status=status, workdir=tmp_path / "uas"
        ) as sipp_errors,
    ):
        campaign = await _campaign(flows, "fruehjahr", ["+4930666003"], retries=2)
        (target,) = await _settled(flows, campaign, 1)
        (call,) = await flows.finished_calls(1)
        shown = await _shown(flows, "fruehjahr")
    why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
    (invite,) = invites(messages_of(tmp_path / "uas"))
    assert (invite.user, invite.from_user) == ("9030666003", CAMPAIGN_CALLER_ID)
    _assert_ended(target, call, result, outcome, cause, state, why)
    # The supervisor sees the number (masked) with its cause.
    (listed,) = shown["targets"]
    assert listed["number"] == "+49306***03"
    assert (listed["state"], listed["last_result"]) == (state, result)
    assert (listed["last_cause_code"], listed["last_cause_text"]) == (cause, call.hangup_cause_text)


async def _shown(flows: Flows, name: str) -> dict[str, Any]:
    """Return GET /api/campaigns/NAME as a supervisor sees it."""
    users = UserStore(flows.daemon.db)
    user = await users.add(
        NewUser(
            username="sabine",
            display_name="Sabine",
            password="a long password 1",
            role=Role.SUPERVISOR,
            departments=("service",),
        )
    )
    token = (await users.issue_token(user.id, "test", 1)).secret
    auth = {"Authorization": f"Bearer {token}"}
    assert flows.daemon.http_url is not None
    async with httpx.AsyncClient(base_url=flows.daemon.http_url, headers=auth, timeout=30) as api:
        reply = await api.get(f"/api/campaigns/{name}")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_sip_campaign_number_not_answered_or_unreachable_keeps_its_cause(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    # First the customer's phone rings through the campaign's 5 s; then no carrier listens.
    async with _running(asterisk, tmp_path) as flows:
        async with carrier_answering(
            carrier_port=asterisk.carrier_port, workdir=tmp_path / "uas", answer=False
        ) as sipp_errors:
            campaign = await _campaign(flows, "fruehjahr", ["+4930666004"], retries=2)
            (target,) = await _settled(flows, campaign, 1)
        (call,) = await flows.finished_calls(1)
        why = sipp_errors.read_text() if sipp_errors.exists() else "SIPp logged no error"
        _assert_ended(target, call, "no_answer", Outcome.NO_ANSWER, 19, "retry", why)

        # Nobody on the carrier's address: the INVITE goes unanswered, nothing ever rings. That
        # is no "no answer" but an unreachable line: Q.850 18 (no user responding), retried.
        other = await _campaign(flows, "herbst", ["+4930666005"], retries=2)
        (target,) = await _settled(flows, other, 1)
        calls = await flows.finished_calls(2)
        assert await flows.asterisk_empty()
        # Asterisk retransmits the unanswered INVITE after the hangup (SIP timer B, 32 s): a
        # carrier back on its address gets it, and Asterisk cancels it at the first answer
        # (100 Trying), which ends the transaction and leaves the next test a quiet address.
        late = tmp_path / "late"
        async with carrier_answering(
            carrier_port=asterisk.carrier_port, workdir=late, answer=False
        ):
            await _until(lambda: _acked(messages_of(late)), "the late INVITE", max_wait=40)
        assert [i.user for i in invites(messages_of(late))] == ["9030666005"]
    (call,) = [c for c in calls if c.called_number == "+4930666005"]
    _assert_ended(target, call, "unavailable", Outcome.FAILED, 18, "retry", "no carrier")


async def _acked(trace: Path) -> bool:
    """Tell whether the carrier's trace holds the ACK that ends a cancelled INVITE."""

    def read() -> str:
        return trace.read_text(errors="replace") if trace.exists() else ""

    return "\nACK sip:" in await asyncio.to_thread(read)


def _assert_ended(
    target: CampaignTarget,
    call: Call,
    result: str,
    outcome: Outcome,
    cause: int,
    state: str,
    why: str,
) -> None:
    assert (str(target.last_result), target.last_cause_code) == (result, cause), why
    assert (str(target.state), target.attempts) == (state, 1)
    assert (target.next_attempt_at is not None) == (state == "retry")
    assert (call.direction, call.outcome) == (Direction.OUTBOUND, outcome)
    # The same cause on the call (with Asterisk's words for it when the channel's end said them).
    assert (call.hangup_cause_code, call.hangup_cause_text) == (cause, target.last_cause_text)
