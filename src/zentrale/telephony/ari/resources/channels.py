"""``/channels``: originate, answer, hang up, media, variables, DTMF, snoop."""

from __future__ import annotations

from collections.abc import Mapping

from zentrale.telephony.ari.models import Channel, LiveRecording, Playback, Variable
from zentrale.telephony.ari.resources._base import Resource, as_list, as_model
from zentrale.telephony.ari.rest import Params, seg


class Channels(Resource):
    """Channel operations."""

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str | None = None,
        app: str | None = None,
        app_args: str | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        caller_id: str | None = None,
        ring_timeout: int | None = None,
        variables: Mapping[str, str] | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
    ) -> Channel:
        """Create an outgoing channel; pass ``channel_id`` to know it before StasisStart.

        ``originator`` names the channel this one is made for (the caller an agent is rung
        for): Asterisk then asks for that channel's codecs, so the two bridge without
        translating, and links them (linkedid). Without it Asterisk offers every audio format
        it has, and a channel that can take any (a Local channel) picks a high-rate one that
        is resampled for every frame."""
        params = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "context": context,
            "extension": extension,
            "priority": priority,
            "callerId": caller_id,
            "timeout": ring_timeout,
            "otherChannelId": other_channel_id,
            "originator": originator,
        }
        path = "channels" if channel_id is None else f"channels/{seg(channel_id)}"
        data = await self._rest.request(
            "POST",
            path,
            params=params,
            body={"variables": dict(variables or {})},
            idempotent=channel_id is not None,
        )
        return as_model(Channel, data)

    async def get(self, channel_id: str) -> Channel:
        """Fetch one channel (``NotFound`` once it hung up)."""
        return as_model(Channel, await self._rest.request("GET", f"channels/{seg(channel_id)}"))

    async def list(self) -> list[Channel]:
        """All channels Asterisk has, in Stasis or not."""
        return as_list(Channel, await self._rest.request("GET", "channels"))

    async def answer(self, channel_id: str) -> None:
        """Answer the channel."""
        await self._post(channel_id, "answer", idempotent=True)

    async def ring(self, channel_id: str) -> None:
        """Indicate ringing to the caller."""
        await self._post(channel_id, "ring", idempotent=True)

    async def ring_stop(self, channel_id: str) -> None:
        """Stop ringing indication."""
        await self._rest.request("DELETE", f"channels/{seg(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up with a reason (normal, busy, congestion, no_answer, ...)."""
        path = f"channels/{seg(channel_id)}"
        await self._rest.request("DELETE", path, params={"reason": reason})

    async def play(
        self, channel_id: str, media: str, *, playback_id: str, lang: str | None = None
    ) -> Playback:
        """Start playing ``media`` (``sound:``, ``recording:``, ``tone:``, http URL ...)."""
        path = f"channels/{seg(channel_id)}/play/{seg(playback_id)}"
        params = {"media": media, "lang": lang}
        data = await self._rest.request("POST", path, params=params, idempotent=True)
        return as_model(Playback, data)

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        fmt: str = "wav",
        max_duration: int | None = None,
        max_silence: int | None = None,
        if_exists: str = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording:
        """Record one party of the call (409 if the name exists, 422 bad format)."""
        params = _record_params(
            name=name,
            fmt=fmt,
            max_duration=max_duration,
            max_silence=max_silence,
            if_exists=if_exists,
            beep=beep,
        )
        params["terminateOn"] = terminate_on
        path = f"channels/{seg(channel_id)}/record"
        return as_model(LiveRecording, await self._rest.request("POST", path, params=params))

    async def get_variable(self, channel_id: str, variable: str) -> str:
        """Read a channel variable (404 when unset)."""
        path = f"channels/{seg(channel_id)}/variable"
        data = await self._rest.request("GET", path, params={"variable": variable})
        return as_model(Variable, data).value

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        """Set a channel variable."""
        params = {"variable": variable, "value": value}
        await self._post(channel_id, "variable", params=params, idempotent=True)

    async def transfer_progress(self, channel_id: str, state: str) -> None:
        """Tell a phone how the transfer it asked for (REFER) went: channel_progress,
        channel_answered or channel_declined (Asterisk 22.3 and later)."""
        await self._post(channel_id, "transfer_progress", params={"states": state}, idempotent=True)

    async def moh_start(self, channel_id: str, moh_class: str | None = None) -> None:
        """Start music on hold."""
        await self._post(channel_id, "moh", params={"mohClass": moh_class}, idempotent=True)

    async def moh_stop(self, channel_id: str) -> None:
        """Stop music on hold."""
        await self._rest.request("DELETE", f"channels/{seg(channel_id)}/moh")

    async def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str = "s", priority: int = 1
    ) -> None:
        """Send the channel out of Stasis, on to CONTEXT,EXTENSION,PRIORITY of the dialplan."""
        params: dict[str, str | int] = {
            "context": context,
            "extension": extension,
            "priority": priority,
        }
        await self._post(channel_id, "continue", params=params, idempotent=False)

    async def send_dtmf(self, channel_id: str, dtmf: str, *, between_ms: int | None = None) -> None:
        """Send DTMF digits to the channel."""
        params = {"dtmf": dtmf, "between": between_ms}
        await self._post(channel_id, "dtmf", params=params, idempotent=False)

    async def snoop(
        self,
        channel_id: str,
        app: str,
        *,
        spy: str = "none",
        whisper: str = "none",
        snoop_id: str | None = None,
        app_args: str | None = None,
    ) -> Channel:
        """Create a snoop channel on ``channel_id`` (spy/whisper: none, in, out, both)."""
        params = {
            "app": app,
            "spy": spy,
            "whisper": whisper,
            "snoopId": snoop_id,
            "appArgs": app_args,
        }
        path = f"channels/{seg(channel_id)}/snoop"
        data = await self._rest.request("POST", path, params=params, idempotent=bool(snoop_id))
        return as_model(Channel, data)

    async def _post(
        self,
        channel_id: str,
        action: str,
        *,
        params: Params | None = None,
        idempotent: bool,
    ) -> None:
        path = f"channels/{seg(channel_id)}/{action}"
        await self._rest.request("POST", path, params=params, idempotent=idempotent)


def _record_params(
    name: str,
    fmt: str,
    max_duration: int | None,
    max_silence: int | None,
    if_exists: str,
    beep: bool,
) -> dict[str, str | int | bool | None]:
    """Query parameters shared by channel and bridge recordings."""
    return {
        "name": name,
        "format": fmt,
        "maxDurationSeconds": max_duration,
        "maxSilenceSeconds": max_silence,
        "ifExists": if_exists,
        "beep": beep,
    }
