"""Exceptions of the ARI client: HTTP statuses mapped to types, connection failures, gone channels.

Call flows catch these (``AriNotFoundError`` when a channel hung up meanwhile,
``ChannelGoneError`` from the awaitable primitives); they carry stable codes like every
ZentraleError.
"""

from __future__ import annotations

from zentrale.base.errors import ZentraleError


class AriError(ZentraleError):
    """Base of every error raised by the ARI client."""

    code = "ari"


class AriHttpError(AriError):
    """ARI answered a REST request with an error status."""

    code = "ari-http"

    retriable = False

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}".strip())
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class AriBadRequestError(AriHttpError):
    """400: missing or invalid parameters."""

    code = "ari-bad-request"


class AriAuthError(AriHttpError):
    """401/403: the ARI user or password is wrong or not allowed."""

    code = "ari-auth"


class AriNotFoundError(AriHttpError):
    """404: the resource does not exist, e.g. the channel hung up meanwhile."""

    code = "ari-not-found"


class AriConflictError(AriHttpError):
    """409: wrong state, e.g. channel not in Stasis or a recording name already taken."""

    code = "ari-conflict"


class AriUnprocessableError(AriHttpError):
    """422: valid syntax but unusable, e.g. an unknown recording format."""

    code = "ari-unprocessable"


class AriServerError(AriHttpError):
    """5xx: Asterisk failed; repeated for idempotent requests before surfacing."""

    code = "ari-server"

    retriable = True


class AriTransportError(AriError):
    """The request never got an answer (connect failure, timeout, reset, WebSocket closed).

    ``sent`` is False when the request surely never reached Asterisk (it may be repeated
    whatever its method), True when it may have been acted on.
    """

    code = "ari-transport"

    retriable = True

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ApplicationReplacedError(AriError):
    """Another WebSocket took our Stasis application name; we stop instead of fighting."""

    code = "application-replaced"


class ChannelGoneError(AriError):
    """The channel left Stasis, hung up or was destroyed while we waited on it."""

    code = "channel-gone"

    def __init__(self, channel_id: str, reason: str) -> None:
        super().__init__(f"channel {channel_id} gone: {reason}")
        self.channel_id = channel_id
        self.reason = reason


class ClientClosedError(AriError):
    """The ARI client was closed while an operation waited on it."""

    code = "client-closed"


_BY_STATUS: dict[int, type[AriHttpError]] = {
    400: AriBadRequestError,
    401: AriAuthError,
    403: AriAuthError,
    404: AriNotFoundError,
    409: AriConflictError,
    422: AriUnprocessableError,
}


def error_for_status(status: int, method: str, path: str, message: str) -> AriHttpError:
    """Build the exception type that matches an HTTP error status."""
    cls = AriServerError if status >= 500 else _BY_STATUS.get(status, AriHttpError)
    return cls(status, method, path, message)
