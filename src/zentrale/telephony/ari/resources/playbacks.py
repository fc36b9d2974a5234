"""``/playbacks``: inspect and stop playbacks."""

from __future__ import annotations

from zentrale.telephony.ari.models import Playback
from zentrale.telephony.ari.resources._base import Resource, as_model
from zentrale.telephony.ari.rest import seg


class Playbacks(Resource):
    """Playback operations."""

    async def get(self, playback_id: str) -> Playback:
        """Fetch a playback's state."""
        data = await self._rest.request("GET", f"playbacks/{seg(playback_id)}")
        return as_model(Playback, data)

    async def stop(self, playback_id: str) -> None:
        """Stop a playback (404 if already finished)."""
        await self._rest.request("DELETE", f"playbacks/{seg(playback_id)}")
