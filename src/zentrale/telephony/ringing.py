"""Ring one party (an agent's phone or an outside number) and report how it went.

The party's channel is originated into our app with our own channel id, so its events (Dial
progress, hangup causes) reach us before it is answered; it enters Stasis only once answered.
A party that does not answer in time is hung up by us: Asterisk may never report a rejected
originate on its own (ARI facts, point 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import uuid
from dataclasses import dataclass, field

import structlog

from zentrale.telephony.ari import (
    AriBadRequestError,
    AriClient,
    AriConflictError,
    AriError,
    ChannelGoneError,
    Subscription,
)
from zentrale.telephony.ari.events import AriEvent, ChannelDestroyed, ChannelHangupRequest, Dial
from zentrale.telephony.ari.primitives import (
    HangupCause,
    cause_subscription,
    channel_key,
    hangup_cause,
)

log = structlog.get_logger(__name__)

_WATCHED = frozenset({"StasisStart", "Dial", "ChannelHangupRequest", "ChannelDestroyed"})
# Q.850 causes that mean "this party cannot take calls now" rather than "did not answer".
_BUSY_CAUSES = frozenset({17})
_UNAVAILABLE_CAUSES = frozenset({1, 3, 20, 27, 28, 34, 38, 41, 42, 44, 58, 66})
# What the far end says once it has the call: it rings (SIP 180), or early media (183).
_REACHED = frozenset({"RINGING", "PROGRESS", "PROCEEDING", "ANSWER"})
_DIAL_STATUS = {
    "BUSY": "busy",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
    "NOANSWER": "no_answer",
}


class RingResult(enum.StrEnum):
    """How ringing one party ended."""

    ANSWERED = "answered"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    NO_ANSWER = "no_answer"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Leg:
    """A party we rang: its channel id and how ringing ended."""

    channel_id: str
    endpoint: str
    result: RingResult
    cause: HangupCause = field(default_factory=HangupCause)
    """Why a leg that was not answered ended (Q.850 code, and Asterisk's text when known)."""


async def ring(
    ari: AriClient,
    endpoint: str,
    *,
    app_args: str,
    caller_id: str | None,
    ring_seconds: float,
    prefix: str = "leg",
    silence_is_unreachable: bool = False,
    originator: str | None = None,
) -> Leg:
    """Ring ENDPOINT for up to RING_SECONDS; an answered leg is left in our app.

    ORIGINATOR is the channel the leg is rung for (the caller, for an agent): the leg is asked
    for its codecs (no translation in the bridge). Gone by the time of the ring (Asterisk
    answers 400), the leg is rung without it.

    With SILENCE_IS_UNREACHABLE, a far end that never even rang when the time runs out (no
    SIP 180 or 183: a carrier that does not answer the INVITE) is `unavailable`, ended as Q.850
    18 "No user responding", not `no_answer` (19): for trunks, where a phone is always behind.
    """
    channel_id = f"{prefix}-{uuid.uuid4().hex[:16]}"
    with ari.subscribe(channel_key(channel_id), lambda event: event.type in _WATCHED) as sub:
        try:
            await _originate(
                ari, endpoint, channel_id, app_args, caller_id, ring_seconds, originator
            )
        except AriConflictError:
            # A retry after a timeout: the first request did create our channel, so follow it
            # (otherwise it rings on and is answered by nobody).
            log.info("ring.originate_already_made", endpoint=endpoint)
        except AriError as exc:
            log.warning("ring.originate_failed", endpoint=endpoint, error=str(exc))
            await _drop(ari, channel_id)  # the request may have reached Asterisk after all
            return Leg(channel_id, endpoint, RingResult.UNAVAILABLE)
        causes: list[HangupCause] = []
        statuses: set[str] = set()
        try:
            result = await _outcome(sub, ring_seconds, causes, statuses)
        except asyncio.CancelledError:
            await _drop(ari, channel_id)
            raise
        if result is RingResult.NO_ANSWER and not causes:
            # Our ring time ran out: end the leg as "no answer" (Q.850 19), or as "no user
            # responding" (18, ARI's `timeout`) when it never rang, and keep the cause Asterisk
            # reports for it, so the call stores why it ended like any refusal.
            silent = silence_is_unreachable and not statuses & _REACHED
            result = RingResult.UNAVAILABLE if silent else result
            with cause_subscription(ari, channel_id) as ending:
                await _drop(ari, channel_id, "timeout" if silent else "no_answer")
                cause = await hangup_cause(ending)
            causes.extend([cause] if cause.code else [])
    if result is not RingResult.ANSWERED:
        await _drop(ari, channel_id)
    cause = causes[-1] if causes else HangupCause()
    log.info("ring.done", endpoint=endpoint, result=str(result), cause=cause.code)
    return Leg(channel_id, endpoint, result, cause)


async def _originate(
    ari: AriClient,
    endpoint: str,
    channel_id: str,
    app_args: str,
    caller_id: str | None,
    ring_seconds: float,
    originator: str | None,
) -> None:
    """Originate the leg into our app, for ORIGINATOR when it is still there."""

    async def originate(made_for: str | None) -> None:
        await ari.channels.originate(
            endpoint,
            channel_id=channel_id,
            app=ari.app,
            app_args=app_args,
            caller_id=caller_id,
            ring_timeout=int(ring_seconds) + 5,
            originator=made_for,
        )

    try:
        await originate(originator)
    except AriBadRequestError as exc:
        # Asterisk 22: "Provided originator channel was not found". Any other 400 (a bad
        # endpoint, say) would fail again without the originator: it is raised as it is.
        if originator is None or "originator" not in exc.message.lower():
            raise
        log.info("ring.originator_gone", endpoint=endpoint)
        await originate(None)


async def _outcome(
    sub: Subscription, seconds: float, causes: list[HangupCause], statuses: set[str]
) -> RingResult:
    deadline = asyncio.get_running_loop().time() + seconds
    status = RingResult.NO_ANSWER
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            event = await sub.get(max(remaining, 0.0))
        except TimeoutError:
            return RingResult.NO_ANSWER
        except ChannelGoneError:
            return status
        if event.type == "StasisStart":
            return RingResult.ANSWERED
        if isinstance(event, Dial):
            statuses.add(event.dialstatus)
        if isinstance(event, ChannelDestroyed) and event.cause:  # 0: Asterisk does not know
            causes.append(HangupCause(event.cause, event.cause_txt or None))
        elif isinstance(event, ChannelHangupRequest) and event.cause:
            causes.append(HangupCause(event.cause))
        status = _status(event, status)


def _status(event: AriEvent, current: RingResult) -> RingResult:
    if isinstance(event, Dial):
        said = RingResult(_DIAL_STATUS.get(event.dialstatus, current))
        # Asterisk may report NOANSWER after the hangup already gave a cause (a 404 from a
        # carrier: cause 1, then Dial NOANSWER in some runs): the cause says more, keep it.
        if said is RingResult.NO_ANSWER and current in (RingResult.BUSY, RingResult.UNAVAILABLE):
            return current
        return said
    if isinstance(event, ChannelHangupRequest | ChannelDestroyed):
        cause = event.cause or 0
        if cause in _BUSY_CAUSES:
            return RingResult.BUSY
        if cause in _UNAVAILABLE_CAUSES and current is RingResult.NO_ANSWER:
            return RingResult.UNAVAILABLE
    return current


async def _drop(ari: AriClient, channel_id: str, reason: str = "normal") -> None:
    with contextlib.suppress(AriError):
        await ari.channels.hangup(channel_id, reason)
