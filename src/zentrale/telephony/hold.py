"""Hold: a party of a conversation puts the other on hold, and the call's timeline says so.

An agent's softphone (or desk phone) holds with a SIP re-INVITE (sendonly or inactive);
Asterisk reports it as ARI `ChannelHold` / `ChannelUnhold` on that channel. The daemon finds
the call the channel belongs to (its customer or its agent leg), writes `hold` / `unhold` with
`{"party": "agent" | "customer"}` on the call's timeline, and plays music on hold to the other
party until the hold ends: a conversation's mixing bridge does not start music by itself for a
held party (a Local or non-SIP channel would just hear silence).

The music is played on the conversation's bridge when the call names it: music started on a
channel inside a bridge (ARI channel MOH) stops the bridge's audio to that channel but plays
nothing there (measured on Asterisk 22: the held caller heard silence,
tests/integration/flows/test_sip_hold.py). Bridge music reaches every member; the holder's
phone does not take audio while it holds (sendonly or inactive), and the recordings of the
two parties (what each one says) do not hold it; a mixed recording of the bridge can.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import structlog

from zentrale.calls.models import EventKind
from zentrale.telephony.ari import AriClient, AriError
from zentrale.telephony.ari.events import ChannelHold, ChannelUnhold
from zentrale.telephony.journal import Journal

log = structlog.get_logger(__name__)

Party = Literal["agent", "customer"]


@dataclass(frozen=True)
class CallLegs:
    """A call's two parties while they talk: the customer's and the agent's channel ids."""

    call_id: str
    customer: str | None
    agent: str | None
    bridge: str | None = None
    """The conversation's bridge, where the music on hold is played (None: on the channel)."""


@dataclass(frozen=True)
class Held:
    """Which call a hold belongs to, who held, and whom it leaves waiting."""

    call_id: str
    party: Party
    other: str | None
    bridge: str | None = None


def held_by(channel_id: str, calls: Iterable[CallLegs]) -> Held | None:
    """Return the call CHANNEL_ID is a party of and which party it is (None: not a call's)."""
    for legs in calls:
        if channel_id == legs.agent:
            return Held(legs.call_id, "agent", legs.customer, legs.bridge)
        if channel_id == legs.customer:
            return Held(legs.call_id, "customer", legs.agent, legs.bridge)
    return None


def music_target(held: Held) -> str | None:
    """Return where the music for HELD plays: its bridge, else the other party (None: nobody)."""
    if held.other is None:
        return None
    return f"bridge:{held.bridge}" if held.bridge is not None else f"channel:{held.other}"


class Holds:
    """Writes holds on the timeline and plays music to the party left waiting.

    The music of one place (a bridge, or the waiting channel) plays while anybody holds
    there: when both parties hold, the first to take the call back leaves it playing for the
    other's hold (a bridge's music reaches every member). A second hold of a channel already
    holding (a phone re-sending its re-INVITE) changes nothing.
    """

    def __init__(
        self, ari: AriClient, journal: Journal, calls: Callable[[], Iterable[CallLegs]]
    ) -> None:
        self.ari, self.journal, self.calls = ari, journal, calls
        self.holding: dict[str, set[str]] = {}
        """Where music plays -> the channels holding there."""
        ari.on(ChannelHold, self._hold)
        ari.on(ChannelUnhold, self._unhold)

    def _forget_gone(self, legs: Iterable[CallLegs]) -> None:
        """Drop holders that are no longer a party of any call (hung up while holding)."""
        live = {leg for call in legs for leg in (call.customer, call.agent) if leg is not None}
        for target in list(self.holding):
            self.holding[target] &= live
            if not self.holding[target]:
                del self.holding[target]

    async def _hold(self, event: ChannelHold) -> None:
        calls = list(self.calls())
        held = held_by(event.channel.id, calls)
        if held is None:
            return
        self._forget_gone(calls)
        target = music_target(held)
        holders = self.holding.setdefault(target, set()) if target is not None else set()
        if event.channel.id in holders:
            return  # holding already
        holders.add(event.channel.id)
        self.journal.event(held.call_id, EventKind.HOLD, {"party": held.party})
        log.info("call.hold", call_id=held.call_id, party=held.party)
        if held.other is not None and len(holders) == 1:
            try:
                if held.bridge is not None:
                    await self.ari.bridges.moh_start(held.bridge, event.musicclass or None)
                else:
                    await self.ari.channels.moh_start(held.other, event.musicclass or None)
            except AriError as exc:  # the other party just left: nothing to play to
                log.info("call.hold_music_failed", call_id=held.call_id, error=str(exc))

    async def _unhold(self, event: ChannelUnhold) -> None:
        held = held_by(event.channel.id, self.calls())
        if held is None:
            return
        self.journal.event(held.call_id, EventKind.UNHOLD, {"party": held.party})
        log.info("call.unhold", call_id=held.call_id, party=held.party)
        target = music_target(held)
        holders = self.holding.get(target, set()) if target is not None else set()
        holders.discard(event.channel.id)
        if holders:
            log.info("call.hold_music_kept", call_id=held.call_id, holders=len(holders))
            return  # the other party still holds: their music plays on
        if target is not None:
            self.holding.pop(target, None)
        if held.other is not None:
            with contextlib.suppress(AriError):
                if held.bridge is not None:
                    await self.ari.bridges.moh_stop(held.bridge)
                else:
                    await self.ari.channels.moh_stop(held.other)
