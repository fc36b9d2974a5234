"""An agent's phone transferring its caller itself (the phone's transfer key: a SIP REFER).

An agent's PJSIP leg has its transfers handed to ARI (`PJSIP_TRANSFER_HANDLING()=ari-only`):
Asterisk then reports a REFER as ChannelTransfer and leaves the call alone, instead of moving
the caller out of zentrale's bridge into the dialplan. The Refer-To's user part names a
department or a menu of the rules; the call flow moves the caller there as for a transfer
through the API, and the phone hears that the transfer was taken (or declined: an unknown
name).

An attended transfer from the phone (a REFER whose Refer-To carries Replaces) is completed when
its consultation is a call of ours with an agent connected: the phone called a department's
number, an agent there answered. That call hands its agent over (`Consultations`), the caller
goes on with them, and the phone's two legs are hung up. Any other attended transfer is
declined (the caller stays with the agent).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from zentrale.routing.schema import RoutingDocument
from zentrale.telephony.ari import AriClient, AriError, ChannelGoneError
from zentrale.telephony.ari.events import ChannelTransfer
from zentrale.telephony.ari.primitives import channel_key

log = structlog.get_logger(__name__)

HANDOFF_WAIT = 5.0
"""Seconds the consultation's call has to let go of its agent before the transfer is declined."""


@dataclass
class Handoff:
    """The agent of a phone's consultation, handed to the caller of an attended transfer."""

    channel_id: str
    """The consulted agent's leg."""
    endpoint: str
    department: str
    ready: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """Done once the consultation's call has closed its conversation (the leg is free)."""


class Consultations:
    """The calls with an agent connected, by their caller's channel: the consultation an agent's
    phone calls (it dials a department's number) is one of them, and the REFER with Replaces
    that completes the phone's attended transfer names its channel."""

    def __init__(self) -> None:
        self._givers: dict[str, Callable[[], Handoff | None]] = {}

    def offer(self, channel_id: str, give: Callable[[], Handoff | None]) -> None:
        """CHANNEL_ID's call can hand its agent over with GIVE (None: not now)."""
        self._givers[channel_id] = give

    def withdraw(self, channel_id: str) -> None:
        """CHANNEL_ID's call has no agent to hand over any more."""
        self._givers.pop(channel_id, None)

    def take(self, channel_id: str) -> Handoff | None:
        """Ask CHANNEL_ID's call for its agent; None if it has none to give."""
        give = self._givers.pop(channel_id, None)
        return give() if give is not None else None


async def hand_transfers_to_us(ari: AriClient, channel_id: str, endpoint: str) -> None:
    """Have Asterisk report the REFERs of an agent's PJSIP leg to zentrale (Asterisk 22.3+)."""
    if not endpoint.startswith("PJSIP/"):
        return
    with contextlib.suppress(AriError):  # an older Asterisk: the phone's transfer key is core's
        await ari.channels.set_variable(channel_id, "PJSIP_TRANSFER_HANDLING()", "ari-only")


def transfer_target(rules: RoutingDocument, destination: str) -> tuple[str, str] | None:
    """Where a phone's blind transfer to DESTINATION goes: (department|menu, name), or None."""
    if destination in rules.departments:
        return "department", destination
    if destination in rules.menus:
        return "menu", destination
    return None


async def phone_transfer(
    ari: AriClient,
    channel_id: str,
    rules: RoutingDocument,
    consultations: Consultations | None = None,
    *,
    declined: Callable[[], None] | None = None,
) -> tuple[str, str] | Handoff:
    """Wait for the agent's phone on CHANNEL_ID to transfer its call somewhere the rules know,
    or (attended, with CONSULTATIONS) to the agent its consultation reached; never returns once
    the channel is gone (its hang-up is someone else's to report)."""
    with ari.subscribe(channel_key(channel_id), lambda e: isinstance(e, ChannelTransfer)) as sub:
        while True:
            try:
                event = await sub.get()
            except ChannelGoneError:
                await asyncio.Event().wait()  # cancelled with the conversation
                raise
            assert isinstance(event, ChannelTransfer)
            target: tuple[str, str] | Handoff | None
            if event.attended:
                target = await _handoff(event, consultations)
            else:
                target = transfer_target(rules, event.destination)
            state = "channel_answered" if target else "channel_declined"
            consultation = event.refer_to.destination_channel
            log.info(
                "call.phone_transfer",
                destination=event.destination,
                attended=event.attended,
                consultation=consultation.id if consultation is not None else None,
                taken=bool(target),
            )
            with contextlib.suppress(AriError):
                await ari.channels.transfer_progress(channel_id, state)
            if target is not None:
                return target
            if declined is not None:
                declined()


async def _handoff(event: ChannelTransfer, consultations: Consultations | None) -> Handoff | None:
    """The agent of the attended transfer's consultation once its call let go of them; None
    when the consultation is not a call of ours with an agent connected (then it is declined:
    the Refer-To's user part is whatever the phone dialled, never taken as a blind target)."""
    consultation = event.refer_to.destination_channel
    if consultations is None or consultation is None:
        return None
    handoff = consultations.take(consultation.id)
    if handoff is None:
        return None
    try:
        await asyncio.wait_for(asyncio.shield(handoff.ready), HANDOFF_WAIT)
    except TimeoutError:
        log.warning("call.phone_transfer_handoff_late", consultation=consultation.id)
        return None
    return handoff
