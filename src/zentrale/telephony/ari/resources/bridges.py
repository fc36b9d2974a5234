"""``/bridges``: create (mixing/holding, DTMF events), add/remove channels, media, destroy."""

from __future__ import annotations

from collections.abc import Sequence

from zentrale.telephony.ari.models import Bridge, LiveRecording, Playback
from zentrale.telephony.ari.resources._base import Resource, as_list, as_model
from zentrale.telephony.ari.resources.channels import _record_params
from zentrale.telephony.ari.rest import seg


class Bridges(Resource):
    """Bridge operations."""

    async def create(
        self, bridge_id: str, *, kind: str = "mixing", dtmf_events: bool = True, name: str = ""
    ) -> Bridge:
        """Create a bridge with our own id; ``dtmf_events`` so bridged DTMF reaches us."""
        bridge_type = f"{kind},dtmf_events" if dtmf_events else kind
        params = {"type": bridge_type, "name": name or None}
        path = f"bridges/{seg(bridge_id)}"
        data = await self._rest.request("POST", path, params=params, idempotent=True)
        return as_model(Bridge, data)

    async def get(self, bridge_id: str) -> Bridge:
        """Fetch one bridge."""
        return as_model(Bridge, await self._rest.request("GET", f"bridges/{seg(bridge_id)}"))

    async def list(self) -> list[Bridge]:
        """All bridges."""
        return as_list(Bridge, await self._rest.request("GET", "bridges"))

    async def destroy(self, bridge_id: str) -> None:
        """Destroy the bridge (its channels stay up)."""
        await self._rest.request("DELETE", f"bridges/{seg(bridge_id)}")

    async def add_channel(
        self, bridge_id: str, channel_id: str, *, role: str | None = None
    ) -> None:
        """Put a channel into the bridge."""
        params = {"channel": channel_id, "role": role}
        path = f"bridges/{seg(bridge_id)}/addChannel"
        await self._rest.request("POST", path, params=params, idempotent=True)

    async def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        """Put several channels into the bridge with one request (all or none is added)."""
        params = {"channel": ",".join(channel_ids)}
        path = f"bridges/{seg(bridge_id)}/addChannel"
        await self._rest.request("POST", path, params=params, idempotent=True)

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        """Take a channel out of the bridge."""
        path = f"bridges/{seg(bridge_id)}/removeChannel"
        await self._rest.request("POST", path, params={"channel": channel_id}, idempotent=True)

    async def record(
        self,
        bridge_id: str,
        name: str,
        *,
        fmt: str = "wav",
        max_duration: int | None = None,
        max_silence: int | None = None,
        if_exists: str = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording:
        """Record the bridge mix (409 if the name exists, 422 for an unknown format)."""
        params = _record_params(
            name=name,
            fmt=fmt,
            max_duration=max_duration,
            max_silence=max_silence,
            if_exists=if_exists,
            beep=beep,
        )
        params["terminateOn"] = terminate_on
        path = f"bridges/{seg(bridge_id)}/record"
        return as_model(LiveRecording, await self._rest.request("POST", path, params=params))

    async def play(self, bridge_id: str, media: str, *, playback_id: str) -> Playback:
        """Play media to everyone in the bridge."""
        path = f"bridges/{seg(bridge_id)}/play/{seg(playback_id)}"
        data = await self._rest.request("POST", path, params={"media": media}, idempotent=True)
        return as_model(Playback, data)

    async def moh_start(self, bridge_id: str, moh_class: str | None = None) -> None:
        """Start music on hold in the bridge."""
        path = f"bridges/{seg(bridge_id)}/moh"
        await self._rest.request("POST", path, params={"mohClass": moh_class}, idempotent=True)

    async def moh_stop(self, bridge_id: str) -> None:
        """Stop music on hold in the bridge."""
        await self._rest.request("DELETE", f"bridges/{seg(bridge_id)}/moh")
