"""The campaign runner inside the daemon: dials campaign numbers and puts the survey to them.

Every `poll` seconds it reads the active campaigns from the database (while none is active or
calling, only every `idle_poll` seconds, `telephony.campaign_idle_poll`, and at once when a
store of this process starts one), asks the scheduler
(`schedule.py`) which numbers are due (calling hours in the rules' time zone, free lines under
the concurrency limit, retry delays), claims each in the database and rings it through the
usual originate path (the outbound trunk of `trunks:`, with the campaign's caller ID, within
the trunk's channel limit; else `telephony.outbound_endpoint`); a full trunk makes the campaign
wait for the next round, it never fails a number. An answered number is marked done at once
(never called again, even after a restart); the call centre hands its channel to the attempt,
which plays the outbound consent notice if the rules have one, puts the survey and hangs up:
the call's outcome is `survey`. A number not reached keeps the Q.850 cause of its end (on the
call and the number); `schedule.after_attempt` decides from result and cause whether it is
tried again. Stopping a campaign only stops new calls. At start, attempts a previous daemon
left ringing are settled as interrupted (and retried).

A database outage is waited out quietly (one warning when it starts, one when it ends); any
other error (a bug, an unexpected ARI answer) is logged with its traceback, and the number
whose attempt it broke is marked `failed` with the reason, while the runner carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable

import structlog

from zentrale.base.clock import utcnow
from zentrale.base.outage import Outage
from zentrale.calls.models import Direction, EventKind, Outcome
from zentrale.calls.store import CallUpdate, Hangup, NewCall
from zentrale.config.logging import bind_call
from zentrale.db.errors import is_outage
from zentrale.routing.engine import consent_notice
from zentrale.routing.rules import Rules
from zentrale.routing.survey import plan_survey
from zentrale.surveys.models import AttemptResult, Campaign
from zentrale.surveys.schedule import Pace, after_attempt, due
from zentrale.surveys.store import (
    CAMPAIGN_STARTED,
    AttemptEnd,
    CampaignStore,
    Claim,
    window_of,
)
from zentrale.telephony.ari import AriError, Call, ChannelGoneError, Subscription
from zentrale.telephony.ari.primitives import HangupCause, cause_subscription, hangup_cause
from zentrale.telephony.context import Services
from zentrale.telephony.ringing import RingResult, ring
from zentrale.telephony.survey import Putting, journalled, put_survey
from zentrale.telephony.trunks import LEGACY, Line, NotANumberError, TrunkFullError

log = structlog.get_logger(__name__)

LEG_KIND = "campaign"
"""Stasis argument of campaign calls; the call centre hands them to `Legs`."""

_RESULTS = {
    RingResult.ANSWERED: AttemptResult.ANSWERED,
    RingResult.BUSY: AttemptResult.BUSY,
    RingResult.NO_ANSWER: AttemptResult.NO_ANSWER,
    RingResult.UNAVAILABLE: AttemptResult.UNAVAILABLE,
    RingResult.CANCELLED: AttemptResult.FAILED,
}
_OUTCOMES = {
    AttemptResult.BUSY: Outcome.BUSY,
    AttemptResult.NO_ANSWER: Outcome.NO_ANSWER,
}

HANDOVER_WAIT = 15.0
"""Seconds an answered channel has to reach its attempt through the call centre."""

LegFlow = Callable[[Call], Awaitable[None]]


class Legs:
    """Flows waiting for channels we originated, by the token in their Stasis arguments."""

    def __init__(self) -> None:
        self._waiting: dict[str, LegFlow] = {}
        self.active: set[str] = set()
        """Channel ids whose flow runs now (a resync must leave them alone)."""

    def expect(self, token: str, flow: LegFlow) -> None:
        """Run FLOW when the channel with TOKEN enters the app."""
        self._waiting[token] = flow

    def forget(self, token: str) -> None:
        """No channel with TOKEN is coming (it was not answered)."""
        self._waiting.pop(token, None)

    async def arrived(self, call: Call) -> None:
        """Run the flow waiting for CALL (hang up a channel nobody waits for)."""
        token = call.args[1] if len(call.args) > 1 else ""
        flow = self._waiting.pop(token, None)
        if flow is None:
            log.warning("campaign.unexpected_leg", channel_id=call.id)
            await call.hangup()
            return
        self.active.add(call.id)
        try:
            await flow(call)
        finally:
            self.active.discard(call.id)


class CampaignRunner:
    """Runs every active campaign of the database on this daemon."""

    def __init__(
        self,
        services: Services,
        store: CampaignStore,
        rules: Callable[[], Rules],
        legs: Legs,
        *,
        poll: float = 1.0,
        idle_poll: float | None = None,
    ) -> None:
        self.services, self.store, self._rules, self.legs = services, store, rules, legs
        self.poll = poll
        self.idle_poll = poll if idle_poll is None else max(poll, idle_poll)
        self._busy = True
        """Whether the last round saw an active campaign (or failed): look again after poll."""
        self._wake = asyncio.Event()
        self.outage = Outage("campaign.database", log)
        self.calling: dict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self.peak: dict[str, int] = defaultdict(int)
        """Most calls a campaign had at once (for status and tests)."""
        self.ticks = 0
        """Scheduling rounds done so far."""
        self._task: asyncio.Task[None] | None = None
        self._faults: dict[str, str] = {}
        """Per campaign, the error its last round failed with (logged in full only once)."""

    def start(self) -> None:
        """Start running campaigns in the background."""
        CAMPAIGN_STARTED.add(self._wake.set)
        self._task = asyncio.create_task(self._run(), name="campaigns")

    async def close(self, drain: float) -> None:
        """Stop dialling; give calls in progress up to DRAIN seconds, then end them."""
        CAMPAIGN_STARTED.discard(self._wake.set)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        calls = {task for tasks in self.calling.values() for task in tasks}
        if calls:
            _, late = await asyncio.wait(calls, timeout=drain)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        await self._recover()
        while True:
            try:
                await self.tick()
            except Exception as exc:
                if is_outage(exc):
                    self.outage.failed(exc)  # the database away: try again at the next tick
                else:  # a mistake reading the campaigns: say so, and keep trying
                    self._fault("", "*", exc)
            else:
                self.outage.ok()
                self._faults.pop("", None)
            await self._pause()

    async def _pause(self) -> None:
        """Wait `poll` seconds while campaigns run, else `idle_poll` or until one is started."""
        busy = self._busy or any(self.calling.values())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll if busy else self.idle_poll)
        self._wake.clear()

    async def _recover(self) -> None:
        try:
            for campaign in await self.store.active():
                for claim in await self.store.interrupted(campaign.id):
                    await self._settle(campaign, claim, AttemptResult.INTERRUPTED)
        except Exception as exc:  # the database away at start: those numbers stay 'calling'
            if is_outage(exc):
                self.outage.failed(exc, during="recovery")
            else:
                log.exception("campaign.recovery_failed", error=_error(exc))

    async def tick(self) -> None:
        """Start the calls that are due now in every active campaign.

        A database outage is raised (the loop waits it out); any other error of one campaign's
        round is logged (in full the first time) and the other campaigns still run.
        """
        self._busy = True
        active = await self.store.active()
        self._busy = bool(active)
        for campaign in active:
            try:
                await self._campaign(campaign)
            except Exception as exc:
                if is_outage(exc):
                    raise
                self._fault(campaign.id, campaign.name, exc)
            else:
                self._faults.pop(campaign.id, None)
        self.ticks += 1

    def _fault(self, key: str, campaign: str, exc: Exception) -> None:
        """Log a round's error in full, unless it is the same as the last round's for KEY."""
        error = _error(exc)
        if self._faults.get(key) == error:  # the same error as last round: once is enough
            log.debug("campaign.round_failed_again", campaign=campaign, error=error)
            return
        self._faults[key] = error
        log.error("campaign.round_failed", campaign=campaign, error=error, exc_info=exc)

    async def _campaign(self, campaign: Campaign) -> None:
        rules = self._rules()
        if campaign.survey not in rules.document.surveys:
            log.warning("campaign.unknown_survey", campaign=campaign.name, survey=campaign.survey)
            return
        pace, now = _pace(campaign, rules), self.services.clock()
        calling = self.calling[campaign.id]
        if not calling and not await self.store.has_open_numbers(campaign.id):
            await self.store.finish(campaign.id)
            log.info("campaign.finished", campaign=campaign.name)
            return
        free = pace.concurrency - len(calling)
        lines = self.services.trunks
        trunk = lines.plan.outbound_trunk()
        trunk_free = lines.free(trunk)
        if trunk_free is not None:
            free = min(free, trunk_free)
        if free <= 0 or not pace.window.is_open(now, pace.zone):
            return
        candidates = await self.store.candidates(campaign.id, now, free)
        for target_id in due(now, pace, len(calling), candidates):
            try:
                line = lines.take(trunk)  # a click-to-call may have taken the last one
            except TrunkFullError:
                return
            claim = await self.store.claim(campaign.id, target_id, now)
            if claim is None:
                line.release()
                continue
            task = asyncio.create_task(self._attempt(campaign, rules, claim))
            calling.add(task)
            task.add_done_callback(calling.discard)
            task.add_done_callback(_releasing(line))
            self.peak[campaign.id] = max(self.peak[campaign.id], len(calling))

    async def _attempt(self, campaign: Campaign, rules: Rules, claim: Claim) -> None:
        attempt = _Attempt(services=self.services, campaign=campaign, rules=rules, claim=claim)
        with bind_call(claim.call_id):
            self.legs.expect(claim.call_id, attempt.answered)
            result = AttemptResult.ERROR
            try:
                result = await attempt.ring()
            except Exception as exc:  # a bug or an unexpected answer: this number fails alone
                log.error("campaign.attempt_failed", error=_error(exc), exc_info=exc)
                attempt.failed(exc)
            finally:
                if result is not AttemptResult.ANSWERED:
                    self.legs.forget(claim.call_id)
            try:
                await self._settle(campaign, claim, result, attempt.end())
            except Exception as exc:  # the number stays 'calling' until a restart
                if is_outage(exc):
                    self.outage.failed(exc, during="settle")
                else:
                    log.error("campaign.settle_failed", result=str(result), exc_info=exc)
            if result is AttemptResult.ANSWERED and not await attempt.handed_over():
                self.legs.forget(claim.call_id)
            await attempt.ended()

    async def _settle(
        self, campaign: Campaign, claim: Claim, result: AttemptResult, end: AttemptEnd | None = None
    ) -> None:
        now, end = self.services.clock(), end or AttemptEnd()
        pace = _pace(campaign, self._rules())
        state, next_at = after_attempt(result, claim.attempt, pace, now, end.cause_code)
        await self.store.settle(claim, result, state, next_at, now, end)
        log.info(
            "campaign.attempt",
            campaign=campaign.name,
            attempt=claim.attempt,
            result=str(result),
            cause=end.cause_code,
            next=str(state),
        )


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _releasing(line: Line) -> Callable[[asyncio.Task[None]], None]:
    """Return a done-callback giving LINE back when its attempt ends (or never started)."""
    return lambda _task: line.release()


def _pace(campaign: Campaign, rules: Rules) -> Pace:
    return Pace(
        window=window_of(campaign),
        zone=rules.zone,
        concurrency=campaign.concurrency,
        retries=campaign.retries,
        retry_after=dt.timedelta(seconds=campaign.retry_after_s),
    )


class _Attempt:
    """One call to a campaign number: ring it, and if answered put the survey."""

    def __init__(self, services: Services, campaign: Campaign, rules: Rules, claim: Claim):
        self.services, self.campaign, self.rules, self.claim = services, campaign, rules, claim
        self.outcome = Outcome.FAILED
        self.cause = HangupCause()
        """Why the call ended (Q.850), stored on the call and the number."""
        self.reason: str | None = None
        """Why the attempt failed on our side (an error, a number that cannot be dialled)."""
        self._channel = ""
        self._end: Subscription | None = None
        self._started = asyncio.Event()
        self._done = asyncio.Event()

    def end(self) -> AttemptEnd:
        """Return the cause (or reason) of the attempt's end so far, for its number."""
        return AttemptEnd(self.cause.code, self.cause.text, self.reason)

    def failed(self, exc: Exception) -> None:
        """The attempt broke with EXC before its call was followed: end it with the reason."""
        self.reason = _error(exc)
        self._done.set()

    async def ring(self) -> AttemptResult:
        """Record the call, ring the number and return how ringing ended."""
        services, claim = self.services, self.claim
        settings = services.settings
        services.journal.arrived(
            NewCall(
                id=claim.call_id,
                direction=Direction.OUTBOUND,
                arrived_at=utcnow(),
                called_number=claim.number,
                asterisk_node=settings.node,
                app_name=settings.ari.app,
                rules_version=self.rules.version,
                language=self._language(),
            )
        )
        services.journal.event(
            claim.call_id,
            EventKind.AGENT_RUNG,
            {"to": "campaign", "campaign": self.campaign.name, "attempt": claim.attempt},
        )
        try:
            route = services.trunks.plan.outbound(claim.number, campaign=self.campaign.name)
        except NotANumberError as exc:
            log.warning("campaign.not_a_number", number=claim.number)
            self.reason = str(exc)
            self._done.set()
            return AttemptResult.ERROR
        leg = await ring(
            services.ari,
            route.endpoint,
            app_args=f"{LEG_KIND},{claim.call_id}",
            caller_id=route.caller_id,
            ring_seconds=self.campaign.ring_s,
            prefix=LEG_KIND,
            silence_is_unreachable=route.trunk != LEGACY,  # a trunk: a phone is always behind it
        )
        result = _RESULTS[leg.result]
        self._channel = leg.channel_id
        if result is AttemptResult.ANSWERED:
            # The far end's hangup (or ours) says why the call ended: follow it from now.
            self._end = cause_subscription(services.ari, leg.channel_id)
        else:
            self.outcome = _OUTCOMES.get(result, Outcome.FAILED)
            self.cause = leg.cause
            self._done.set()
        return result

    async def handed_over(self) -> bool:
        """Wait until the call centre handed the answered channel over; else hang it up."""
        try:
            await asyncio.wait_for(self._started.wait(), HANDOVER_WAIT)
        except TimeoutError:
            log.warning("campaign.no_handover", channel_id=self._channel)
            with contextlib.suppress(AriError):
                await self.services.ari.channels.hangup(self._channel)
            self._done.set()
            return False
        return True

    async def answered(self, call: Call) -> None:
        """The number answered: consent notice, the survey, hang up (runs in the call's task)."""
        services, claim = self.services, self.claim
        self._started.set()
        self.outcome = Outcome.ANSWERED
        services.journal.update(claim.call_id, CallUpdate(answered_by_app_at=utcnow()))
        services.journal.event(claim.call_id, EventKind.ANSWERED)
        try:
            await self._consent(call)
            plan = plan_survey(self.rules, self.campaign.survey, self._language())
            self.outcome = Outcome.SURVEY  # what the call was for; answers say how far it got
            putting = Putting(
                claim.call_id, journalled(services.journal, claim.call_id), self.campaign.id
            )
            await put_survey(call, plan, services.media, putting)
        except ChannelGoneError:
            log.info("campaign.hung_up")
        finally:
            with contextlib.suppress(AriError):
                await call.hangup()
            self._done.set()

    async def _consent(self, call: Call) -> None:
        notice = consent_notice(self.rules, "outbound", None, self._language())
        if notice is None:
            return
        await call.play(self.services.media(notice.sound), max_wait=60)
        self.services.journal.update(
            self.claim.call_id,
            CallUpdate(consent_version=notice.version, consent_language=notice.language),
        )
        self.services.journal.event(
            self.claim.call_id, EventKind.CONSENT_PLAYED, {"notice": notice.version}
        )

    def _language(self) -> str:
        return self.campaign.language or self.rules.document.languages.default

    async def ended(self) -> None:
        """Wait for the call to end, then record how it ended (with its cause)."""
        await self._done.wait()
        ended_at = utcnow()
        if self._end is not None:
            with self._end:
                self.cause = await hangup_cause(self._end)
        self.services.journal.event(self.claim.call_id, EventKind.HANGUP)
        cause = self.cause
        hangup = Hangup(self.outcome, ended_at, cause_code=cause.code, cause_text=cause.text)
        self.services.journal.finished(self.claim.call_id, hangup)


__all__ = ["LEG_KIND", "CampaignRunner", "Legs"]
