"""``/asterisk``: system info, global variables and dynamic configuration objects."""

from __future__ import annotations

from collections.abc import Mapping

from zentrale.telephony.ari.models import AsteriskInfo, Variable
from zentrale.telephony.ari.resources._base import Resource, as_model
from zentrale.telephony.ari.rest import seg


class AsteriskApi(Resource):
    """Asterisk-wide operations."""

    async def info(self) -> AsteriskInfo:
        """Build, system, config and status information."""
        return as_model(AsteriskInfo, await self._rest.request("GET", "asterisk/info"))

    async def get_global(self, variable: str) -> str:
        """Read a global dialplan variable."""
        data = await self._rest.request("GET", "asterisk/variable", params={"variable": variable})
        return as_model(Variable, data).value

    async def set_global(self, variable: str, value: str) -> None:
        """Set a global dialplan variable."""
        params = {"variable": variable, "value": value}
        await self._rest.request("POST", "asterisk/variable", params=params, idempotent=True)

    async def put_object(
        self, config_class: str, object_type: str, object_id: str, fields: Mapping[str, str]
    ) -> None:
        """Create or replace a sorcery object (`res_pjsip`, `endpoint`, `8001`) at run time.

        Needs a writable sorcery wizard for the type (sorcery.conf: memory or astdb).
        """
        path = f"asterisk/config/dynamic/{seg(config_class)}/{seg(object_type)}/{seg(object_id)}"
        body = {"fields": [{"attribute": key, "value": value} for key, value in fields.items()]}
        await self._rest.request("PUT", path, body=body, idempotent=True)

    async def get_object(
        self, config_class: str, object_type: str, object_id: str
    ) -> dict[str, str]:
        """Return a sorcery object's fields (attribute -> value); AriNotFoundError if none.

        The answer holds every field, passwords too: never log it.
        """
        path = f"asterisk/config/dynamic/{seg(config_class)}/{seg(object_type)}/{seg(object_id)}"
        data = await self._rest.request("GET", path)
        return {str(item["attribute"]): str(item["value"]) for item in data or ()}

    async def delete_object(self, config_class: str, object_type: str, object_id: str) -> None:
        """Delete a sorcery object created at run time (objects from files cannot be)."""
        path = f"asterisk/config/dynamic/{seg(config_class)}/{seg(object_type)}/{seg(object_id)}"
        await self._rest.request("DELETE", path)
