"""``/applications``: our Stasis app's subscriptions (used by the resync after reconnect)."""

from __future__ import annotations

from zentrale.telephony.ari.models import Application
from zentrale.telephony.ari.resources._base import Resource, as_model
from zentrale.telephony.ari.rest import seg


class Applications(Resource):
    """Application operations."""

    async def get(self, app: str) -> Application:
        """The app with the channel and bridge ids it holds."""
        return as_model(Application, await self._rest.request("GET", f"applications/{seg(app)}"))

    async def subscribe(self, app: str, event_source: str) -> Application:
        """Subscribe the app to e.g. ``endpoint:PJSIP/agent1`` or ``deviceState:name``."""
        path = f"applications/{seg(app)}/subscription"
        params = {"eventSource": event_source}
        data = await self._rest.request("POST", path, params=params, idempotent=True)
        return as_model(Application, data)
