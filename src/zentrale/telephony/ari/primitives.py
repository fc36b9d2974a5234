"""Awaitable primitives for call flows: wait for an event, play and wait, collect DTMF, hangup.

Each subscribes before acting (so a fast event cannot slip between the REST call and the
wait) and ends with ``ChannelGone`` when the channel leaves Stasis, hangs up or is destroyed.
They work from inside a channel's own handler, because subscriptions are fed by the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import TypeVar

from zentrale.telephony.ari.errors import AriError, AriHttpError, AriNotFoundError
from zentrale.telephony.ari.events import (
    CHANNEL_GONE_TYPES,
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
)
from zentrale.telephony.ari.port import AriPort
from zentrale.telephony.ari.subscriptions import Predicate, Subscription

E = TypeVar("E", bound=AriEvent)


def channel_key(channel_id: str) -> str:
    """Dispatch key of a channel."""
    return "channel:" + channel_id


async def wait_for_event(
    ari: AriPort, channel_id: str, predicate: Predicate, max_wait: float | None = None
) -> AriEvent:
    """Wait for the next event of the channel matching ``predicate``."""
    with ari.subscribe(channel_key(channel_id), predicate) as sub:
        return await sub.get(max_wait)


async def wait_for(
    ari: AriPort, channel_id: str, event_type: type[E], max_wait: float | None = None
) -> E:
    """Wait for the next event of type ``event_type`` on the channel."""
    event = await wait_for_event(ari, channel_id, lambda e: isinstance(e, event_type), max_wait)
    assert isinstance(event, event_type)
    return event


async def wait_for_hangup(ari: AriPort, channel_id: str, max_wait: float | None = None) -> AriEvent:
    """Wait until the channel hangs up or leaves Stasis; return that event."""
    with ari.subscribe(channel_key(channel_id), lambda e: e.type in CHANNEL_GONE_TYPES) as sub:
        return await sub.get(max_wait)


async def play(
    ari: AriPort,
    channel_id: str,
    media: str,
    *,
    max_wait: float | None = None,
    lang: str | None = None,
) -> PlaybackFinished:
    """Play ``media`` on the channel and wait for PlaybackFinished (stop it on timeout)."""
    playback_id = uuid.uuid4().hex
    with ari.subscribe(channel_key(channel_id), _finished(playback_id)) as sub:
        await ari.channels.play(channel_id, media, playback_id=playback_id, lang=lang)
        try:
            event = await sub.get(max_wait)
        except (TimeoutError, asyncio.CancelledError):
            await _stop_quietly(ari, playback_id)
            raise
    assert isinstance(event, PlaybackFinished)
    return event


def _finished(playback_id: str) -> Predicate:
    return lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback_id


async def _stop_quietly(ari: AriPort, playback_id: str) -> None:
    # The playback may have finished or the channel gone meanwhile: nothing left to stop.
    with contextlib.suppress(AriNotFoundError, AriHttpError):
        await asyncio.shield(ari.playbacks.stop(playback_id))


def dtmf_subscription(ari: AriPort, channel_id: str) -> Subscription:
    """Start buffering the channel's DTMF (type-ahead during prompts)."""
    return ari.subscribe(channel_key(channel_id), lambda e: isinstance(e, ChannelDtmfReceived))


def cause_subscription(ari: AriPort, channel_id: str) -> Subscription:
    """Start buffering the channel's hangup requests and its destruction (the hangup cause)."""
    return ari.subscribe(
        channel_key(channel_id),
        lambda e: isinstance(e, ChannelHangupRequest | ChannelDestroyed),
        ends_on=frozenset({"ChannelDestroyed"}),
    )


@dataclass(frozen=True)
class HangupCause:
    """Why a channel ended: the Q.850 cause and Asterisk's text for it (when known)."""

    code: int | None = None
    text: str | None = None


async def hangup_cause(sub: Subscription, max_wait: float = 2.0) -> HangupCause:
    """Read the cause from a ``cause_subscription``, waiting up to MAX_WAIT for the channel's end.

    ChannelDestroyed carries the final cause and its text; without it (it did not come in time)
    the last ChannelHangupRequest with a cause gives the code alone.
    """
    found = HangupCause()
    with contextlib.suppress(TimeoutError, AriError):
        async with asyncio.timeout(max_wait):
            while True:
                event = await sub.get()
                if isinstance(event, ChannelDestroyed):
                    if not event.cause:  # 0: Asterisk does not know; keep the request's
                        return found
                    return HangupCause(event.cause, event.cause_txt or None)
                if isinstance(event, ChannelHangupRequest) and event.cause:
                    found = HangupCause(event.cause)
    return found


@dataclass(frozen=True)
class Digits:
    """Result of ``collect_digits``: the digits and why collection ended."""

    digits: str
    ended_by: str  # max_digits, terminator, first_digit_timeout, inter_digit_timeout, total_timeout


@dataclass(frozen=True)
class DigitRules:
    """When digit collection ends."""

    max_digits: int = 1
    terminator: str | None = "#"
    first_digit_timeout: float = 5.0
    inter_digit_timeout: float = 3.0
    total_timeout: float = 20.0


async def collect_digits(sub: Subscription, rules: DigitRules) -> Digits:
    """Read digits from a DTMF subscription until max, terminator or a timeout."""
    digits = ""
    deadline = time.monotonic() + rules.total_timeout
    while len(digits) < rules.max_digits:
        wait = rules.inter_digit_timeout if digits else rules.first_digit_timeout
        remaining = deadline - time.monotonic()
        try:
            event = await sub.get(min(wait, max(remaining, 0.0)))
        except TimeoutError:
            return Digits(digits, _timeout_reason(digits, remaining <= wait))
        assert isinstance(event, ChannelDtmfReceived)
        if rules.terminator and event.digit in rules.terminator:
            return Digits(digits, "terminator")
        digits += event.digit
    return Digits(digits, "max_digits")


def _timeout_reason(digits: str, total: bool) -> str:
    if total:
        return "total_timeout"
    return "inter_digit_timeout" if digits else "first_digit_timeout"
