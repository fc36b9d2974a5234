"""The recording-consent notice: play it to the customer, and say whether it was heard.

Both call flows (inbound before queueing, outbound before bridging) call `play_notice` with
the notice the routing engine chose (`engine.consent_notice`). Played, the call row names the
notice's version and language and the timeline gets `consent_played`; not played (Asterisk
could not play the prompt, or did not finish it in time), the timeline gets `consent_failed`,
the log a warning, and the caller must not record. A customer who hangs up meanwhile is
reported as usual (`ChannelGoneError`).
"""

from __future__ import annotations

import structlog

from zentrale.calls.models import EventKind
from zentrale.calls.store import CallUpdate
from zentrale.routing.steps import ConsentPlay
from zentrale.telephony.ari import AriError, AriNotFoundError, ChannelGoneError
from zentrale.telephony.ari.primitives import channel_key, play
from zentrale.telephony.context import Services

log = structlog.get_logger(__name__)

MAX_WAIT = 60.0


async def play_notice(
    services: Services, call_id: str, channel_id: str, notice: ConsentPlay
) -> bool:
    """Play NOTICE on the customer's channel; return whether it was played to the end."""
    reason = await _play(services, channel_id, notice.sound)
    detail = {"notice": notice.version, "language": notice.language}
    if reason is not None:
        log.warning("call.consent_failed", reason=reason, not_recorded=True, **detail)
        services.journal.event(call_id, EventKind.CONSENT_FAILED, {**detail, "reason": reason})
        return False
    update = CallUpdate(consent_version=notice.version, consent_language=notice.language)
    services.journal.update(call_id, update)
    services.journal.event(call_id, EventKind.CONSENT_PLAYED, detail)
    return True


async def _play(services: Services, channel_id: str, sound: str) -> str | None:
    try:
        finished = await play(services.ari, channel_id, services.media(sound), max_wait=MAX_WAIT)
    except ChannelGoneError:
        raise
    except AriError as exc:
        return f"Asterisk refused the playback: {type(exc).__name__}"
    except TimeoutError:
        return f"the playback did not finish within {MAX_WAIT:g} s"
    if finished.playback.state != "done":
        await _still_there(services, channel_id)
        return f"playback {finished.playback.state}"
    return None


async def _still_there(services: Services, channel_id: str) -> None:
    # A playback also fails when the customer hangs up during it: that is a hangup (the flow
    # ends as usual), not a notice Asterisk could not play.
    gone = services.ari.dispatcher.is_gone(channel_key(channel_id))
    try:
        await services.ari.channels.get(channel_id)
    except AriNotFoundError:
        gone = True
    if gone:
        raise ChannelGoneError(channel_id, "hung up during the consent notice")
