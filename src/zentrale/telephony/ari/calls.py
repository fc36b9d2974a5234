"""Call flows: one task per channel that enters Stasis, with a ``Call`` facade over the primitives.

``AriClient.on_new_channel(flow)`` runs ``flow(call)`` for every StasisStart, started by the
reader and outside the channel's event lane (a flow lasts minutes; the lane must keep
delivering the channel's events to other handlers). Channels found at a resync can be adopted
into the same flow. A flow that fails unexpectedly hangs its channel up, so no caller is left
in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from zentrale.telephony.ari import primitives, traffic
from zentrale.telephony.ari.errors import AriError, ChannelGoneError
from zentrale.telephony.ari.events import AriEvent, Envelope, PlaybackFinished, StasisStart
from zentrale.telephony.ari.models import Channel
from zentrale.telephony.ari.port import AriPort
from zentrale.telephony.ari.primitives import DigitRules, Digits, HangupCause

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=AriEvent)
CallFlow = Callable[["Call"], Awaitable[None]]


class Call:
    """One channel in our app, with the primitives bound to it; DTMF is buffered from the start."""

    def __init__(
        self, ari: AriPort, channel: Channel, args: list[str], *, adopted: bool = False
    ) -> None:
        self.ari = ari
        self.channel = channel
        self.id = channel.id
        self.args = args
        self.adopted = adopted
        self.dtmf = primitives.dtmf_subscription(ari, channel.id)
        self.ending = primitives.cause_subscription(ari, channel.id)

    async def answer(self) -> None:
        """Answer the channel."""
        await self.ari.channels.answer(self.id)

    async def hangup(self, reason: str = "normal") -> None:
        """Hang up; a channel that is already gone is fine."""
        with contextlib.suppress(AriError):
            await self.ari.channels.hangup(self.id, reason)

    async def play(
        self, media: str, max_wait: float | None = None, lang: str | None = None
    ) -> PlaybackFinished:
        """Play media (Asterisk's sounds in language LANG if given) and wait until it finished."""
        return await primitives.play(self.ari, self.id, media, max_wait=max_wait, lang=lang)

    async def collect_digits(self, rules: DigitRules) -> Digits:
        """Collect DTMF digits (including ones typed ahead during prompts)."""
        return await primitives.collect_digits(self.dtmf, rules)

    async def wait_for(self, event_type: type[E], max_wait: float | None = None) -> E:
        """Wait for the channel's next event of a type."""
        return await primitives.wait_for(self.ari, self.id, event_type, max_wait)

    async def wait_for_hangup(self, max_wait: float | None = None) -> AriEvent:
        """Wait for the caller to hang up (or the channel to leave Stasis)."""
        return await primitives.wait_for_hangup(self.ari, self.id, max_wait)

    async def hangup_cause(self, max_wait: float = 2.0) -> HangupCause:
        """Why the channel ended (cause and text), waiting up to MAX_WAIT for its destruction."""
        return await primitives.hangup_cause(self.ending, max_wait)

    def close(self) -> None:
        """Release the call's subscriptions."""
        self.dtmf.close()
        self.ending.close()


def serve_calls(ari: AriPort, flow: CallFlow) -> None:
    """Run ``flow`` as its own task for every channel entering Stasis."""

    # Started from the reader, not the channel's lane: the call's DTMF buffer must exist
    # before the reader takes the digits a fast caller presses right after StasisStart.
    def on_stasis_start(envelope: Envelope) -> None:
        if ari.dispatcher.is_gone(envelope.key):
            log.info("ari.call.start_after_hangup_ignored", channel_id=envelope.channel_id)
            return
        event = envelope.event
        assert isinstance(event, StasisStart)
        start_call(ari, flow, event.channel, event.args)

    ari.dispatcher.on_receive(StasisStart.event_type, on_stasis_start)


def start_call(
    ari: AriPort, flow: CallFlow, channel: Channel, args: list[str], *, adopted: bool = False
) -> asyncio.Task[None]:
    """Start ``flow`` for one channel (new or adopted at resync)."""
    call = Call(ari, channel, args, adopted=adopted)
    return ari.spawn(_run(call, flow), name=f"call:{channel.id}")


async def _run(call: Call, flow: CallFlow) -> None:
    structlog.contextvars.bind_contextvars(channel_id=call.id)
    counts = traffic.begin()
    try:
        await flow(call)
    except ChannelGoneError as exc:
        log.info("ari.call.gone", reason=exc.reason)
    except Exception:
        log.exception("ari.call.flow_failed")
        await call.hangup()
    finally:
        counts.events = call.ending.offered
        call.close()
        call.ari.traffic.add(counts)
        log.debug("ari.call.traffic", requests=counts.requests, events=counts.events)
