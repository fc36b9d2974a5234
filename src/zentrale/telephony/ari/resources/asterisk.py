"""``/asterisk``: system info and global variables."""

from __future__ import annotations

from zentrale.telephony.ari.models import AsteriskInfo, Variable
from zentrale.telephony.ari.resources._base import Resource, as_model


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
