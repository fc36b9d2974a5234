"""zentrale's own ARI client: typed REST helpers, a reconnecting event WebSocket, per-channel
ordered dispatch, resync after reconnect, and awaitable primitives for call flows.

Import from here; submodules are implementation detail except ``events`` and ``models``.
"""

from zentrale.telephony.ari.calls import Call, CallFlow
from zentrale.telephony.ari.client import AriClient, ResyncHook
from zentrale.telephony.ari.config import (
    AriCredentials,
    AriOptions,
    CredentialsLike,
    ReloadingCredentials,
)
from zentrale.telephony.ari.connection import ConnectionState
from zentrale.telephony.ari.dispatch import DispatchStats
from zentrale.telephony.ari.errors import (
    ApplicationReplacedError,
    AriAuthError,
    AriBadRequestError,
    AriConflictError,
    AriError,
    AriHttpError,
    AriNotFoundError,
    AriServerError,
    AriTransportError,
    AriUnprocessableError,
    ChannelGoneError,
    ClientClosedError,
)
from zentrale.telephony.ari.primitives import DigitRules, Digits
from zentrale.telephony.ari.subscriptions import Subscription

__all__ = [
    "ApplicationReplacedError",
    "AriAuthError",
    "AriBadRequestError",
    "AriClient",
    "AriConflictError",
    "AriCredentials",
    "AriError",
    "AriHttpError",
    "AriNotFoundError",
    "AriOptions",
    "AriServerError",
    "AriTransportError",
    "AriUnprocessableError",
    "Call",
    "CallFlow",
    "ChannelGoneError",
    "ClientClosedError",
    "ConnectionState",
    "CredentialsLike",
    "DigitRules",
    "Digits",
    "DispatchStats",
    "ReloadingCredentials",
    "ResyncHook",
    "Subscription",
]
