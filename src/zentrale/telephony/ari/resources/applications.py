"""``/applications``: our Stasis app's subscriptions (used by the resync after reconnect)."""

from __future__ import annotations

from collections.abc import Sequence

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

    async def filter_events(self, app: str, disallowed: Sequence[str]) -> Application:
        """Ask Asterisk not to send the app events of the DISALLOWED types (Asterisk 16.3+)."""
        body = {"disallowed": [{"type": name} for name in disallowed]}
        path = f"applications/{seg(app)}/eventFilter"
        return as_model(
            Application, await self._rest.request("PUT", path, body=body, idempotent=True)
        )
