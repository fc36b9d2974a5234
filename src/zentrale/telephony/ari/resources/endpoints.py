"""``/endpoints``: list and inspect endpoints (agents' phones)."""

from __future__ import annotations

from zentrale.telephony.ari.models import Endpoint
from zentrale.telephony.ari.resources._base import Resource, as_list, as_model
from zentrale.telephony.ari.rest import seg


class Endpoints(Resource):
    """Endpoint operations."""

    async def list(self) -> list[Endpoint]:
        """All endpoints."""
        return as_list(Endpoint, await self._rest.request("GET", "endpoints"))

    async def get(self, technology: str, resource: str) -> Endpoint:
        """One endpoint, e.g. ``("PJSIP", "agent1")``."""
        data = await self._rest.request("GET", f"endpoints/{seg(technology)}/{seg(resource)}")
        return as_model(Endpoint, data)
