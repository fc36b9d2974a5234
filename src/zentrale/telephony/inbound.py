"""One inbound call from arrival to hangup: an explicit state machine over the routing engine.

The engine decides (menu, queue, voicemail, ...); this module carries each decision out on the
channel and reports what happened back to the engine. Every state waits for something named
(a prompt, keys, an agent, the end of a conversation) and a hangup in any of them ends the call
through the same `finally`: the agent's leg, the bridge, the recording and the caller's channel
are cleaned up, and the call record is finished with an outcome that says where it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from zentrale.base.clock import utcnow
from zentrale.calls.models import Direction, EventKind, Outcome
from zentrale.calls.store import CallUpdate, Hangup, NewCall
from zentrale.config.logging import bind_call
from zentrale.recording.store import FinishedRecording
from zentrale.routing import engine
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.schema import Department
from zentrale.routing.steps import (
    CollectDigits,
    ConsentPlay,
    Dial,
    OfferCallback,
    PlayAndHangup,
    Queue,
    Step,
    Survey,
    Voicemail,
)
from zentrale.routing.survey import plan_survey
from zentrale.telephony.agents import AgentView
from zentrale.telephony.ari import (
    AriBadRequestError,
    AriClient,
    AriError,
    AriNotFoundError,
    AriUnprocessableError,
    Call,
    ChannelGoneError,
)
from zentrale.telephony.ari.events import RecordingFinished
from zentrale.telephony.ari.primitives import channel_key, wait_for_hangup
from zentrale.telephony.consent import play_notice
from zentrale.telephony.context import Services
from zentrale.telephony.conversation import Conversation, WaitingRoom
from zentrale.telephony.ivr import prompt_and_collect
from zentrale.telephony.queueing import Ringer
from zentrale.telephony.refer import Handoff, hand_transfers_to_us, phone_transfer
from zentrale.telephony.ringing import Leg, RingResult, ring
from zentrale.telephony.screenpop import MenuStep, Pop
from zentrale.telephony.survey import Putting, forget_keys, journalled, put_survey
from zentrale.telephony.transfer import (
    Request,
    Target,
    TransferState,
    notice_first,
    resolve,
    ring_consult,
    ring_outcome,
)
from zentrale.telephony.trunks import Inbound, NotANumberError, TrunkFullError

log = structlog.get_logger(__name__)

Next = Step | None
CALLER_ENDINGS = frozenset(
    {Outcome.ABANDONED, Outcome.ABANDONED_IN_MENU, Outcome.ABANDONED_IN_QUEUE}
)
"""Outcomes that say the caller hung up: a fault (Asterisk or the daemon gone) replaces them."""


@dataclass
class Transfer:
    """A request to move a connected call elsewhere (blind transfer)."""

    kind: str
    target: str
    by: str | None = None
    """The agent who asked, when they asked through their workspace (for the timeline)."""
    after: str | None = None
    """What went before, for the timeline (a named agent who did not answer)."""


@dataclass(frozen=True)
class Handover:
    """The caller goes on with another agent: an attended transfer completed, or a blind one
    to a named agent who answered."""

    leg: Leg
    target: Target


Ended = str | Transfer | Handover | Request | Handoff
"""How a conversation ended: `agent` (hung up), a transfer, a handover, a request the
conversation's caller carries out next (a blind transfer to a named agent), or a handoff (the
agent went to another call's caller: this call was a phone's consultation)."""
TALK_ACTIONS = frozenset({"blind", "consult"})
DECLINED_GRACE = 10.0
"""Seconds after a declined phone transfer in which the agent's hang-up re-queues the caller."""


@dataclass
class InboundCall:
    """The state of one inbound call while its flow runs."""

    services: Services
    call: Call
    rules: Rules
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    outcome: Outcome = Outcome.ABANDONED_IN_MENU
    conversations: int = 0
    conversation: Conversation | None = None
    waiting: WaitingRoom | None = None
    """Where the caller hears music in a queue, while their agent consults or a named agent
    is rung (made at the first wait)."""
    agent_leg: str | None = None
    agent_endpoint: str | None = None
    department: str | None = None
    """The department whose agent talks with the caller now (None: no agent connected)."""
    connected_at: float | None = None
    """When (monotonic) the agent now connected answered, for the supervisors' page."""
    transfer_requests: asyncio.Queue[Transfer | Request] = field(default_factory=asyncio.Queue)
    transfer: TransferState = field(default_factory=TransferState)
    """The agent's attended transfer on this call (talking when there is none)."""
    consent_played: bool = False
    consent_failed: bool = False
    """The last notice could not be played: the conversation that follows is not recorded."""
    state_name: str = "arrived"
    customer: Mapping[str, str] = field(default_factory=dict)
    path: list[MenuStep] = field(default_factory=list)
    """The menus the caller went through and their digits, for the agent's screen pop."""
    handoffs: asyncio.Queue[Handoff] = field(default_factory=asyncio.Queue)
    """The agent taken by a phone's attended transfer (this call is its consultation)."""
    handing: Handoff | None = None
    phone_declined_at: float | None = None
    """When (monotonic) the agent's phone last had a transfer declined."""
    number: str | None = None
    """The customer's number when the call began as a click-to-call that the agent's phone
    transferred (its channel's caller ID is ours); None for a caller who called in."""

    @property
    def caller(self) -> str:
        """Return the caller's number (empty when withheld)."""
        if self.number is not None:
            return self.number
        return self.call.channel.caller.number

    @functools.cached_property
    def line(self) -> Inbound:
        """Return the call read through the trunks: its trunk, DID and entry rules."""
        if len(self.call.args) > 1:
            dialled = self.call.args[1]
        else:
            plan = self.call.channel.dialplan
            dialled = plan.exten if plan else ""
        return self.services.trunks.plan.inbound(self.call.channel.name, dialled)

    @property
    def dialled(self) -> str:
        """Return the dialled number (DID) the call came in on (E.164 from a trunk); empty for
        a click-to-call's customer, who dialled nothing."""
        return "" if self.number is not None else self.line.did

    async def run(self) -> None:
        """Run the call to its end; whatever happens, leave nothing behind."""
        with bind_call(self.id, self.call.id):
            self._arrived()
            try:
                await self._steps()
            except ChannelGoneError:
                log.info("call.caller_gone", state=self.state_name)
            except asyncio.CancelledError:
                self._ended_by(Outcome.INTERRUPTED)  # the daemon stops before the call ends
                raise
            finally:
                await self._cleanup()

    async def take_over(self, step: Step) -> None:
        """Go on from STEP with a click-to-call's customer whom the agent's phone transferred.

        The call's row, its timeline and its first conversation (with its recording) are the
        click-to-call's; from here on the call goes as an inbound call transferred there would:
        queued, rung, answered, recorded per conversation, finished with its outcome.
        """
        with bind_call(self.id, self.call.id):
            try:
                await self._follow(step)
            except ChannelGoneError:
                log.info("call.caller_gone", state=self.state_name)
            except asyncio.CancelledError:
                self._ended_by(Outcome.INTERRUPTED)
                raise
            finally:
                await self._cleanup()

    async def resume(self, agent_channel: str | None, number: int, bridged: list[str]) -> None:
        """Go on with a conversation a daemon that died left bridged (adopted at resync).

        The call's row, timeline and recording are those written before; the conversation
        ends as any other (either side hangs up), its recording reaches the pipeline, and the
        call is finished. What would have followed the conversation (a post-call survey) is
        not offered: the flow that planned it is gone.
        """
        with bind_call(self.id, self.call.id):
            self.state_name, self.outcome = "adopted", Outcome.ANSWERED
            self.conversations, self.agent_leg = number, agent_channel
            known = await self.services.journal.known(self.id)
            endpoint = known.agent_endpoint if known is not None else None
            self.agent_endpoint = endpoint
            if known is not None and endpoint is not None:
                board = self.services.queues.board
                board.know([(endpoint, known.agent_name or endpoint)])
                board.connected(endpoint, known.department or "")
            self.conversation = Conversation(
                self.services.ari,
                self.services.journal,
                self.id,
                number,
                two_party=self.services.settings.recording.two_party,
            )
            log.info("call.conversation_adopted", agent=endpoint, conversation=number)
            try:
                await self.conversation.adopt(bridged)
                try:
                    if agent_channel is not None:
                        await self._talk(agent_channel)
                finally:
                    leg = Leg(agent_channel or "", endpoint or "", RingResult.ANSWERED)
                    await self._end_adopted(leg)
            except ChannelGoneError:
                log.info("call.caller_gone", state=self.state_name)
            finally:
                await self._cleanup()

    async def _end_adopted(self, leg: Leg) -> None:
        self.services.journal.event(self.id, EventKind.CONVERSATION_ENDED, {"agent": leg.endpoint})
        if self.conversation is not None:
            await self.conversation.close()
            self.conversation = None
        if leg.channel_id:
            with contextlib.suppress(AriError):
                await self.services.ari.channels.hangup(leg.channel_id)
        if leg.endpoint:
            self.services.queues.board.finished(leg.endpoint, 0.0)
        self.agent_leg = self.agent_endpoint = None

    def _ended_by(self, fault: Outcome) -> None:
        """Name a fault as the end of a call that would otherwise count as the caller's doing."""
        if self.outcome in CALLER_ENDINGS:
            self.outcome = fault

    def _arrived(self) -> None:
        journal, settings = self.services.journal, self.services.settings
        journal.arrived(
            NewCall(
                id=self.id,
                direction=Direction.INBOUND,
                arrived_at=utcnow(),
                caller_number=self.caller or None,
                dialled_number=self.dialled or None,
                asterisk_node=settings.node,
                app_name=settings.ari.app,
                rules_version=self.rules.version,
            )
        )
        journal.event(self.id, EventKind.ARRIVED, {"dialled": self.dialled})
        log.info("call.arrived", caller=self.caller, dialled=self.dialled, rules=self.rules.version)

    async def _steps(self) -> None:
        if self.line.refused:
            log.warning("call.did_refused", trunk=self.line.trunk, dialled=self.dialled)
            self.outcome = Outcome.FAILED
            await self.call.hangup()
            return
        await self.call.answer()
        self.services.journal.update(self.id, CallUpdate(answered_by_app_at=utcnow()))
        self.services.journal.event(self.id, EventKind.ANSWERED)
        customer = self.customer = await self.services.customers(self.caller or None)
        facts = CallFacts(
            at=self.services.clock(),
            dialled=self.dialled,
            caller=self.caller or None,
            customer=customer,
            entries=self.line.entries,
        )
        await self._follow(engine.start(self.rules, facts))

    async def _follow(self, first: Step) -> None:
        step: Next = first
        while step is not None:
            self.state_name = type(step).__name__
            log.info(
                "call.step",
                step=self.state_name,
                destination=":".join(step.destination),
                why=step.reason[-1] if step.reason else "",
            )
            step = await self._perform(step)

    async def _perform(self, step: Step) -> Next:
        match step:
            case CollectDigits():
                return await self._collect(step)
            case Queue():
                return await self._queue(step)
            case PlayAndHangup():
                return await self._play_and_hang_up(step)
            case Voicemail():
                return await self._voicemail(step)
            case Dial():
                return await self._dial(step)
            case Survey():
                return await self._survey(step)
            case OfferCallback():
                return await self._callback(step)
        if self.outcome is Outcome.ABANDONED_IN_MENU:
            self.outcome = Outcome.ENDED_IN_MENU  # the rules hung up
        return None  # Hangup

    # -- menus ----------------------------------------------------------------------------
    async def _collect(self, step: CollectDigits) -> Next:
        self.services.journal.event(
            self.id, EventKind.MENU_ENTERED, {"menu": step.menu, "language": step.state.language}
        )
        prompts = tuple(self.services.media(prompt) for prompt in step.prompts)
        if step.sensitive and self.conversation is not None:
            await self.conversation.pause()
        entry = await prompt_and_collect(
            self.call,
            prompts,
            max_digits=step.max_digits,
            terminator=step.terminator,
            first_wait=step.timeout,
        )
        if step.sensitive and self.conversation is not None:
            await self.conversation.resume()
        shown = None if entry.ended_by == "timeout" else entry.digits
        self.path.append(MenuStep(step.menu, shown, sensitive=step.sensitive))
        if entry.ended_by == "timeout":
            self.services.journal.event(
                self.id, EventKind.DIGIT, {"menu": step.menu, "timeout": True}
            )
            return engine.on_timeout(step.state)
        self.services.journal.event(
            self.id,
            EventKind.DIGIT,
            {"menu": step.menu, "digits": entry.digits},
            sensitive=step.sensitive,
        )
        return engine.on_digits(step.state, entry.digits)

    # -- queue and agents -----------------------------------------------------------------
    async def _queue(self, step: Queue) -> Next:
        services, department = self.services, step.config
        self.outcome = Outcome.ABANDONED_IN_QUEUE
        services.journal.update(
            self.id, CallUpdate(department=step.name, language=step.state.language)
        )
        if department.recording and step.notice and not self.consent_played:
            self.consent_failed = not await self._consent(step.notice)
        services.journal.update(self.id, CallUpdate(queued_at=utcnow()))
        services.journal.event(self.id, EventKind.QUEUED, {"department": step.name})
        await self._wait_with_music(department.hold_music)
        leg = await self._hunt(step)
        if leg is None:
            await self._wait_over()
            services.journal.event(
                self.id, EventKind.TRANSFER, {"overflow": step.name, "reason": "max_wait"}
            )
            self.outcome = Outcome.OVERFLOWED
            return engine.on_max_wait(step.state)
        return await self._connected(step, leg)

    async def _consent(self, notice: ConsentPlay) -> bool:
        self.consent_played = await play_notice(self.services, self.id, self.call.id, notice)
        return self.consent_played

    async def _hunt(self, step: Queue) -> Leg | None:
        queues, department = self.services.queues, step.config
        queues.board.know((agent.endpoint, agent.name) for agent in department.agents)
        ticket = queues.join(self.id, step.name, step.state.priority)
        try:
            return await _until_caller_gone(
                self.services,
                self.call,
                queues.hunt(
                    ticket,
                    department,
                    self._ring_agent(step),
                    self._agent_rung,
                    self._drop,
                    department.max_wait,
                ),
            )
        finally:
            queues.leave(ticket)

    def _ring_agent(self, step: Queue) -> Ringer:
        queued = time.monotonic()

        async def ring_one(agent: AgentView) -> Leg:
            endpoint = agent.endpoint
            self.services.journal.event(self.id, EventKind.AGENT_RUNG, {"agent": endpoint})
            self.services.pops.offer(self._pop(endpoint, step.name, time.monotonic() - queued))
            try:
                return await ring(
                    self.services.ari,
                    endpoint,
                    app_args=f"agent,{self.id}",
                    caller_id=self.caller or None,
                    ring_seconds=step.config.ring_timeout,
                    prefix="agent",
                    originator=self.call.id,
                )
            finally:
                self.services.pops.withdraw(endpoint, self.id)

        return ring_one

    def _pop(self, endpoint: str, department: str, waited: float) -> Pop:
        return Pop(
            call_id=self.id,
            endpoint=endpoint,
            caller=self.caller,
            dialled=self.dialled,
            department=department,
            customer=self.customer,
            path=tuple(self.path),
            waited_s=waited,
        )

    async def _agent_rung(self, agent: AgentView, leg: Leg) -> None:
        if leg.result is not RingResult.ANSWERED:
            self.services.journal.event(
                self.id,
                EventKind.AGENT_NO_ANSWER,
                {"agent": leg.endpoint, "result": str(leg.result)},
            )

    async def _drop(self, leg: Leg) -> None:
        with contextlib.suppress(AriError):
            await self.services.ari.channels.hangup(leg.channel_id)
        self.services.queues.board.release(leg.endpoint)

    async def _connected(self, step: Queue, leg: Leg) -> Next:
        department = step.config
        self._joined(leg, step.name, department)
        with contextlib.suppress(AriError):
            await self.services.ari.channels.moh_stop(self.call.id)
        record = department.recording and not self.consent_failed
        wrap_up, handover = department.wrap_up, None
        while True:
            try:
                if handover is not None:
                    record = await self._hand_over(step, handover)
                ended = await self._converse(leg, record, department.hold_music)
                if not isinstance(ended, Handover | Request):
                    await forget_keys(self.call)  # keys pressed while talking answer no survey
            finally:
                await self._end_conversation(leg, wrap_up)
            if isinstance(ended, Handoff):
                ended.ready.set_result(None)  # the agent's leg is out of our conversation
                self.outcome = Outcome.TRANSFERRED
                return None
            if isinstance(ended, Request):
                ended = await self._blind_to_agent(ended, department.hold_music)
            if not isinstance(ended, Handover):
                break
            handover, leg, wrap_up = ended, ended.leg, ended.target.config.wrap_up
        await self._wait_over()  # no conversation follows: the flow goes on in its next step
        if isinstance(ended, Transfer):
            return self._transfer(step, ended)
        return engine.after_call(step.state) if ended == "agent" else None

    def _joined(self, leg: Leg, department: str, config: Department) -> None:
        """Note that LEG's agent (of DEPARTMENT) now talks to the caller."""
        name = next(a.name for a in config.agents if a.endpoint == leg.endpoint)
        self.agent_leg, self.outcome = leg.channel_id, Outcome.ANSWERED
        self.agent_endpoint, self.department = leg.endpoint, department
        self.connected_at = time.monotonic()
        self.moved(TransferState(last=self.transfer.last))
        self.services.journal.update(
            self.id,
            CallUpdate(
                department=department,
                agent_endpoint=leg.endpoint,
                agent_name=name,
                agent_answered_at=utcnow(),
            ),
        )
        self.services.journal.event(self.id, EventKind.AGENT_ANSWERED, {"agent": leg.endpoint})

    async def _converse(self, leg: Leg, record: bool, hold_music: str) -> Ended:
        """Talk with LEG's agent until the conversation ends; a consultation in between puts
        the caller on hold and, when the agent comes back to them, opens a new conversation."""
        while True:
            # Out of the waiting room first, then into the conversation from no bridge, as a
            # caller from the queue goes (a moment without music instead of a move between
            # two bridges).
            await self._wait_over()
            self.conversation = self._next_conversation()
            await self.conversation.open(
                self.call.id, leg.channel_id, customer=self.call.id, record=record
            )
            await hand_transfers_to_us(self.services.ari, leg.channel_id, leg.endpoint)
            while not self.handoffs.empty():  # given as an earlier talk ended: stale (the
                self.handoffs.get_nowait()  # transfer that asked is declined after its wait)
            consultations = self.services.consultations
            consultations.offer(self.call.id, functools.partial(self._give, leg))
            try:
                ended = await self._talk(leg.channel_id)
            finally:
                consultations.withdraw(self.call.id)
            if not isinstance(ended, Request) or ended.action != "consult":
                return ended
            await self.conversation.close()
            self.conversation = None
            outcome = await self._consult(leg, ended, hold_music)
            if outcome is not None:
                return outcome

    async def _wait_with_music(self, hold_music: str) -> None:
        """Play HOLD_MUSIC to the caller: on their channel while they were never bridged (one
        request, heard there), else in their waiting room."""
        if self.conversations == 0:
            with contextlib.suppress(AriError):
                await self.services.ari.channels.moh_start(self.call.id, hold_music)
            return
        if self.waiting is None:
            self.waiting = WaitingRoom(self.services.ari, self.id)
        await self.waiting.enter(self.call.id, hold_music)

    async def _wait_over(self) -> None:
        """The flow goes on without a conversation: the caller leaves their waiting room."""
        if self.waiting is not None:
            await self.waiting.leave()

    def _next_conversation(self) -> Conversation:
        """Return this call's next conversation (numbered, so each has its own recording)."""
        self.conversations += 1
        services = self.services
        return Conversation(
            ari=services.ari,
            journal=services.journal,
            call_id=self.id,
            number=self.conversations,
            two_party=services.settings.recording.two_party,
        )

    def _give(self, leg: Leg) -> Handoff | None:
        """Hand LEG's agent to the caller of a phone's attended transfer (this call being its
        consultation): the conversation ends without hanging up the agent."""
        if self.agent_leg != leg.channel_id or self.department is None:
            return None
        handoff = Handoff(leg.channel_id, leg.endpoint, self.department)
        self.handoffs.put_nowait(handoff)
        return handoff

    def _phone_declined(self) -> None:
        self.phone_declined_at = time.monotonic()

    async def _phone_transfer(self, agent_channel: str) -> Transfer | Handover:
        # The call's own rules (those it started on), like every step of its flow.
        services = self.services
        found = await phone_transfer(
            services.ari,
            agent_channel,
            self.rules.document,
            services.consultations,
            declined=self._phone_declined,
        )
        if isinstance(found, Handoff):
            target = resolve(self.rules.document, "department", found.department, None)
            leg = Leg(found.channel_id, found.endpoint, RingResult.ANSWERED)
            self._transfer_event(
                mode="attended",
                by=self.agent_endpoint,
                to=target.label,
                agent=found.endpoint,
                outcome="completed",
                phone="refer",
            )
            return Handover(leg, target)
        kind, name = found
        return Transfer(kind, name)

    async def _talk(self, agent_channel: str) -> Ended:
        label, results = await _race(
            {
                "caller": _hangup_of(self.services.ari, self.call.id),
                "agent": _hangup_of(self.services.ari, agent_channel),
                "request": self._next_request(TALK_ACTIONS),
                "phone": self._phone_transfer(agent_channel),
                "handoff": self.handoffs.get(),
            }
        )
        if label == "caller":
            raise ChannelGoneError(self.call.id, "caller hung up while connected")
        if label == "agent":
            return self._after_agent_left()
        if label == "handoff":
            self.handing = results[label]
            return self.handing
        ended: Transfer | Request | Handover = results[label]
        if isinstance(ended, Handover):
            return ended
        blind = isinstance(ended, Request) and ended.action == "blind"
        target = ended.target if isinstance(ended, Request) else None
        if blind and target is not None and target.kind == "department":
            return Transfer("department", target.name, by=ended.by)  # blind: into its queue
        return ended

    def _after_agent_left(self) -> Ended:
        """The agent hung up: the conversation is over, unless their phone's transfer was just
        declined (some phones drop the call then): the caller goes back to the department's
        queue instead of being hung up on."""
        declined = self.phone_declined_at
        recent = declined is not None and time.monotonic() - declined < DECLINED_GRACE
        if not recent or self.department is None:
            return "agent"
        log.info("call.back_to_queue_after_declined_transfer", department=self.department)
        return Transfer("department", self.department, after="phone transfer declined")

    async def _next_request(self, actions: frozenset[str]) -> Transfer | Request:
        """Return the next transfer request that fits now (others are dropped and logged)."""
        while True:
            request = await self.transfer_requests.get()
            if isinstance(request, Transfer) or request.action in actions:
                return request
            log.info("call.transfer_request_ignored", action=request.action)

    # -- attended transfers ---------------------------------------------------------------
    def moved(self, state: TransferState) -> None:
        """Set the attended transfer's STATE and tell the workspaces' streams."""
        self.transfer = state
        self.services.transfers.moved()

    def _transfer_event(self, **detail: str | None) -> None:
        found = {key: value for key, value in detail.items() if value is not None}
        self.services.journal.event(self.id, EventKind.TRANSFER, found)

    async def _consult(self, leg: Leg, request: Request, hold_music: str) -> Handover | str | None:
        """Consult REQUEST's target with the caller on hold; return the handover (completed),
        `agent` (the agent hung up before anyone answered) or None (back with the caller)."""
        assert request.target is not None
        target, ari = request.target, self.services.ari
        self.moved(self.transfer.consulting(target.label))
        self._transfer_event(mode="attended", by=leg.endpoint, consult=target.label)
        await self._wait_with_music(hold_music)
        answered: Leg | None = None
        ended: Handover | str
        handed = False
        try:
            answered, ended = await self._ring_consulted(leg, target)
            if answered is not None and ended == "answered":
                ended = await self._consulting(leg, answered, target)
                handed = isinstance(ended, Handover)
            if isinstance(ended, str) and ended != "agent":
                self.moved(self.transfer.back(ended))
                self._transfer_event(
                    mode="attended", by=leg.endpoint, consult=target.label, outcome=ended
                )
                return None
            return ended
        except ChannelGoneError:
            self._transfer_event(
                mode="attended", by=leg.endpoint, consult=target.label, outcome="caller_gone"
            )
            raise
        finally:
            if answered is not None and not handed:
                with contextlib.suppress(AriError):
                    await ari.channels.hangup(answered.channel_id)
                self.services.queues.board.finished(answered.endpoint, 0.0)
            # The caller waits with music until the next conversation takes them (_converse)
            # or the flow goes on without one (_connected): then the room is closed.

    async def _ring_consulted(self, leg: Leg, target: Target) -> tuple[Leg | None, str]:
        """Ring the target; return its answered leg, or None and why (cancelled, no_answer,
        agent: the agent hung up meanwhile)."""
        ari = self.services.ari
        ringing = ring_consult(self.services.queues.board, target, self._consult_ringer(target))
        label, results = await _race(
            {
                "caller": _hangup_of(ari, self.call.id),
                "ringing": ringing,
                "agent": _hangup_of(ari, leg.channel_id),
                "cancel": self._next_request(frozenset({"cancel"})),
            }
        )
        rung: Leg | None = results.get("ringing")
        answered = rung if rung is not None and rung.result is RingResult.ANSWERED else None
        if answered is not None:
            self.services.queues.board.connected(answered.endpoint, target.department)
        if label == "caller":
            if answered is not None:  # answered in the same instant: not left behind
                with contextlib.suppress(AriError):
                    await ari.channels.hangup(answered.channel_id)
                self.services.queues.board.finished(answered.endpoint, 0.0)
            raise ChannelGoneError(self.call.id, "caller hung up during a consultation")
        if label != "ringing":  # the caller's agent's leg (if answered) is hung up by _consult
            return answered, "agent" if label == "agent" else "cancelled"
        return answered, ring_outcome(rung)

    def _consult_ringer(self, target: Target) -> Callable[[str], Awaitable[Leg]]:
        async def ring_one(endpoint: str) -> Leg:
            self.services.journal.event(self.id, EventKind.AGENT_RUNG, {"agent": endpoint})
            return await ring(
                self.services.ari,
                endpoint,
                app_args=f"agent,{self.id}",
                caller_id=self.caller or None,
                ring_seconds=target.config.ring_timeout,
                prefix="agent",
                originator=self.call.id,
            )

        return ring_one

    async def _consulting(self, leg: Leg, other: Leg, target: Target) -> Handover | str:
        """The agent talks to the consulted party until they complete, cancel, or one hangs up.

        The consultation is recorded when the target department records (the caller is not
        in it); the agent hanging up completes the transfer, as on most phones.
        """
        ari = self.services.ari
        self.moved(self.transfer.answered(other.endpoint))
        self._transfer_event(
            mode="attended",
            by=leg.endpoint,
            consult=target.label,
            agent=other.endpoint,
            outcome="answered",
        )
        consultation = self._next_conversation()
        try:
            await consultation.open(
                leg.channel_id,
                other.channel_id,
                customer=leg.channel_id,
                record=target.config.recording,
            )
            label, results = await _race(
                {
                    "caller": _hangup_of(ari, self.call.id),
                    "consulted": _hangup_of(ari, other.channel_id),
                    "request": self._next_request(frozenset({"complete", "cancel"})),
                    "agent": _hangup_of(ari, leg.channel_id),
                }
            )
        except ChannelGoneError as exc:
            if exc.channel_id == self.call.id:
                raise
            label, results = "consulted", {}
        finally:
            await consultation.close()
        if label == "caller":
            raise ChannelGoneError(self.call.id, "caller hung up during a consultation")
        if label == "consulted":
            return "hung_up"
        request = results.get("request")
        if isinstance(request, Request) and request.action == "cancel":
            return "cancelled"
        self.moved(self.transfer.back("completed"))
        self._transfer_event(mode="attended", by=leg.endpoint, to=target.label, outcome="completed")
        return Handover(other, target)

    async def _hand_over(self, step: Queue, handover: Handover) -> bool:
        """Join the caller with the agent of HANDOVER; return whether to record them.

        The notice is played first as a blind transfer into the target department would.
        """
        target = handover.target
        await self._wait_over()  # the notice is played to the caller out of their room
        self._joined(handover.leg, target.department, target.config)
        consent = self.rules.document.announcements
        replay = consent.consent is not None and consent.replay_on_transfer
        if notice_first(target.config.recording, self.consent_played, replay):
            notice = engine.consent_notice(
                self.rules, "inbound", target.department, step.state.language
            )
            with contextlib.suppress(AriError):
                await self.services.ari.channels.moh_stop(self.call.id)
            if notice is not None:
                self.consent_failed = not await self._consent(notice)
        with contextlib.suppress(AriError):
            await self.services.ari.channels.moh_stop(self.call.id)
        return target.config.recording and not self.consent_failed

    async def _blind_to_agent(self, request: Request, hold_music: str) -> Handover | Transfer:
        """Ring the named agent for the caller, who waits with music; if they do not answer,
        the caller goes to that agent's department's queue."""
        assert request.target is not None
        assert request.target.kind == "agent"
        target = request.target
        await self._wait_with_music(hold_music)
        rung = await _until_caller_gone(
            self.services,
            self.call,
            ring_consult(self.services.queues.board, target, self._consult_ringer(target)),
        )
        if rung is not None and rung.result is RingResult.ANSWERED:
            self.services.queues.board.connected(rung.endpoint, target.department)
            self.agent_leg = rung.channel_id  # hung up with the call if the caller goes now
            self._transfer_event(mode="blind", by=request.by, to=target.label)
            return Handover(rung, target)
        after = f"{target.label} {ring_outcome(rung)}"
        return Transfer("department", target.department, by=request.by, after=after)

    async def _end_conversation(self, leg: Leg, wrap_up: float) -> None:
        self.services.journal.event(self.id, EventKind.CONVERSATION_ENDED, {"agent": leg.endpoint})
        if self.conversation is not None:
            await self.conversation.close()
            self.conversation = None
        ari = self.services.ari
        handed = self.handing is not None and self.handing.channel_id == leg.channel_id
        if not handed and not ari.hung_up(leg.channel_id):  # a gone agent needs no DELETE
            with contextlib.suppress(AriError):
                await ari.channels.hangup(leg.channel_id)
        self.agent_leg = self.agent_endpoint = None
        self.department = self.connected_at = None
        if not handed:  # a handed-over agent goes on talking, with the other call's caller
            self.services.queues.board.finished(leg.endpoint, wrap_up)

    def _transfer(self, step: Queue, request: Transfer) -> Next:
        to = f"{request.kind}:{request.target}"
        if request.by is None:
            why = {"after": request.after} if request.after is not None else {}
            self.services.journal.event(self.id, EventKind.TRANSFER, {"to": to, **why})
        else:
            self._transfer_event(mode="blind", by=request.by, to=to, after=request.after)
        self.outcome = Outcome.TRANSFERRED
        rules = step.state.rules.document
        if rules.announcements.consent is not None and rules.announcements.replay_on_transfer:
            self.consent_played = False
        return engine.transfer(step.state, request.kind, request.target)

    # -- endings --------------------------------------------------------------------------
    async def _play_and_hang_up(self, step: PlayAndHangup) -> Next:
        if step.closed:
            self.outcome = Outcome.CLOSED
        self.services.journal.event(self.id, EventKind.MESSAGE_PLAYED, {"prompt": step.prompt})
        await self.call.play(self.services.media(step.sound), max_wait=120)
        if self.outcome is Outcome.ABANDONED_IN_MENU:
            # Played to the end: the IVR served the caller, no agent did.
            self.outcome = Outcome.ENDED_IN_MENU if step.state.gave_up else Outcome.MESSAGE
        return None

    async def _voicemail(self, step: Voicemail) -> Next:
        self.outcome = Outcome.VOICEMAIL
        language = step.state.language
        self.services.journal.event(
            self.id,
            EventKind.VOICEMAIL,
            {"mailbox": step.mailbox, "greeting": step.greeting, "language": language},
        )
        # lang: Asterisk's own sounds (vm-intro) in the caller's language; Asterisk plays the
        # English one when it has none in that language (checked on Asterisk 22).
        await self.call.play(self.services.media(step.greeting), max_wait=30, lang=language)
        if self.call.ending.pending():
            # The greeting ended because the caller hung up (Asterisk sends the hangup request
            # before the playback's end): a record request now may still be accepted for the
            # dying channel, and would leave a recording with no file behind.
            raise ChannelGoneError(self.call.id, "gone during the voicemail greeting")
        name = f"{self.id}-vm"
        ari = self.services.ari
        with ari.subscribe(
            channel_key(self.call.id), lambda event: isinstance(event, RecordingFinished)
        ) as sub:
            try:
                await ari.channels.record(
                    self.call.id,
                    name,
                    fmt="wav",
                    max_duration=120,
                    max_silence=5,
                    beep=True,
                    terminate_on="#",
                )
            except (AriBadRequestError, AriNotFoundError, AriUnprocessableError) as exc:
                # The caller hung up during the greeting: there is no message to keep.
                raise ChannelGoneError(self.call.id, f"gone before the message: {exc}") from None
            # Hanging up is the usual end of a message; the file is complete either way.
            self.services.journal.event(self.id, EventKind.RECORDING_STARTED, {"name": name})
            with contextlib.suppress(TimeoutError, ChannelGoneError):
                await sub.get(130)
        self.services.journal.recording_finished(FinishedRecording(self.id, name, "wav"))
        return None

    async def _dial(self, step: Dial) -> Next:
        services = self.services
        try:
            route = services.trunks.plan.outbound(step.number)
            line = services.trunks.take(route.trunk)
        except (NotANumberError, TrunkFullError) as exc:
            log.warning("call.dial_refused", reason=exc.code)
            self.outcome = Outcome.NO_ANSWER
            return None
        try:
            leg = await _until_caller_gone(
                services,
                self.call,
                ring(
                    services.ari,
                    route.endpoint,
                    app_args=f"dialled,{self.id}",
                    # The caller's number is passed on (the carrier may need it screened).
                    caller_id=self.caller or route.caller_id,
                    ring_seconds=30,
                    prefix="out",
                    originator=self.call.id,
                ),
            )
            return await self._dialled(leg)
        finally:
            line.release()

    async def _dialled(self, leg: Leg | None) -> Next:
        services = self.services
        if leg is None or leg.result is not RingResult.ANSWERED:
            self.outcome = Outcome.NO_ANSWER
            return None
        self.outcome = Outcome.ANSWERED
        self.conversation = self._next_conversation()
        try:
            await self.conversation.open(self.call.id, leg.channel_id, record=False)
            await self._talk(leg.channel_id)
        finally:
            await self.conversation.close()
            self.conversation = None
            with contextlib.suppress(AriError):
                await services.ari.channels.hangup(leg.channel_id)
        return None

    async def _survey(self, step: Survey) -> Next:
        if self.outcome is Outcome.ABANDONED_IN_MENU:
            self.outcome = Outcome.SURVEY  # a survey straight from the IVR, no conversation
        plan = step.plan or plan_survey(step.state.rules, step.name, step.state.language)
        report = journalled(self.services.journal, self.id)
        await put_survey(self.call, plan, self.services.media, Putting(self.id, report))
        return None

    async def _callback(self, step: OfferCallback) -> Next:
        self.services.journal.event(
            self.id, EventKind.CALLBACK_REQUESTED, {"department": step.department}
        )
        await self.call.play("sound:queue-thankyou", max_wait=30)
        return None

    async def _cleanup(self) -> None:
        ari = self.services.ari
        if ari.lost(self.call.id) or not ari.state.connected:
            self._ended_by(Outcome.DROPPED)  # Asterisk went away, not the caller
        if self.conversation is not None:
            await self.conversation.close()
        if self.waiting is not None:
            await self.waiting.close()
        if self.agent_leg is not None:
            with contextlib.suppress(AriError):
                await self.services.ari.channels.hangup(self.agent_leg)
        with contextlib.suppress(AriError):
            await self.services.ari.channels.hangup(self.call.id)
        # The call ended now; Asterisk's cause may come a moment later (ChannelDestroyed).
        ended_at = utcnow()
        self.services.journal.event(self.id, EventKind.HANGUP, {"state": self.state_name})
        cause = await self.call.hangup_cause()
        ended = Hangup(self.outcome, ended_at, cause_code=cause.code, cause_text=cause.text)
        self.services.journal.finished(self.id, ended)
        log.info("call.ended", outcome=str(self.outcome), state=self.state_name)


async def _race(waits: Mapping[str, Awaitable[Any]]) -> tuple[str, dict[str, Any]]:
    """Wait for the first of WAITS (by name); cancel the others.

    Returns the first one's name (the earliest named when several ended together) and the
    results of all that ended, so a party answered in the same instant is not lost.
    """
    tasks = {name: asyncio.ensure_future(wait) for name, wait in waits.items()}
    try:
        await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    done = {
        name: task.result()
        for name, task in tasks.items()
        if task.done() and not task.cancelled() and task.exception() is None
    }
    failed = [task for task in tasks.values() if task.done() and not task.cancelled()]
    for task in failed:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return next(name for name in tasks if name in done), done


async def _hangup_of(ari: AriClient, channel_id: str) -> str:
    with contextlib.suppress(ChannelGoneError):
        await wait_for_hangup(ari, channel_id)
    return channel_id


async def _until_caller_gone(
    services: Services, call: Call, work: Coroutine[Any, Any, Leg | None]
) -> Leg | None:
    """Run WORK unless the caller hangs up first (then raise ChannelGoneError)."""
    task = asyncio.create_task(work)
    gone = asyncio.create_task(_hangup_of(services.ari, call.id))
    try:
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, gone):
            pending.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
    if task in done and not task.cancelled():
        return task.result()
    raise ChannelGoneError(call.id, "caller hung up while waiting")
