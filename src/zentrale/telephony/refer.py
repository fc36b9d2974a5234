"""An agent's phone transferring its caller itself (the phone's transfer key: a SIP REFER).

An agent's PJSIP leg has its transfers handed to ARI (`PJSIP_TRANSFER_HANDLING()=ari-only`):
Asterisk then reports a REFER as ChannelTransfer and leaves the call alone, instead of moving
the caller out of zentrale's bridge into the dialplan. The Refer-To's user part names a
department or a menu of the rules; the call flow moves the caller there as for a transfer
through the API, and the phone hears that the transfer was taken (or declined: an unknown
name, or an attended transfer, which zentrale does not do).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from zentrale.routing.schema import RoutingDocument
from zentrale.telephony.ari import AriClient, AriError, ChannelGoneError
from zentrale.telephony.ari.events import ChannelTransfer
from zentrale.telephony.ari.primitives import channel_key

log = structlog.get_logger(__name__)


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
    ari: AriClient, channel_id: str, rules: RoutingDocument
) -> tuple[str, str]:
    """Wait for the agent's phone on CHANNEL_ID to transfer its call somewhere the rules know;
    never returns once the channel is gone (its hang-up is someone else's to report)."""
    with ari.subscribe(channel_key(channel_id), lambda e: isinstance(e, ChannelTransfer)) as sub:
        while True:
            try:
                event = await sub.get()
            except ChannelGoneError:
                await asyncio.Event().wait()  # cancelled with the conversation
                raise
            assert isinstance(event, ChannelTransfer)
            target = transfer_target(rules, event.destination)
            state = "channel_answered" if target else "channel_declined"
            log.info("call.phone_transfer", destination=event.destination, taken=bool(target))
            with contextlib.suppress(AriError):
                await ari.channels.transfer_progress(channel_id, state)
            if target is not None:
                return target
