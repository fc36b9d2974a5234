"""Exceptions of the ARI client: HTTP statuses mapped to types, connection failures, gone channels.

Call flows catch these (``NotFound`` when a channel hung up meanwhile, ``ChannelGone`` from the
awaitable primitives); the daemon's edge maps them to stable error codes.
"""

from __future__ import annotations


class AriError(Exception):
    """Base of every error raised by the ARI client."""


class AriHttpError(AriError):
    """ARI answered a REST request with an error status."""

    retriable = False

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}".strip())
        self.status = status
        self.method = method
        self.path = path
        self.message = message


class BadRequest(AriHttpError):
    """400: missing or invalid parameters."""


class AuthError(AriHttpError):
    """401/403: the ARI user or password is wrong or not allowed."""


class NotFound(AriHttpError):
    """404: the resource does not exist, e.g. the channel hung up meanwhile."""


class Conflict(AriHttpError):
    """409: wrong state, e.g. channel not in Stasis or a recording name already taken."""


class Unprocessable(AriHttpError):
    """422: valid syntax but unusable, e.g. an unknown recording format."""


class ServerError(AriHttpError):
    """5xx: Asterisk failed; repeated for idempotent requests before surfacing."""

    retriable = True


class AriTransportError(AriError):
    """The HTTP request never got an answer (connect failure, timeout, reset)."""

    retriable = True


class ApplicationReplacedError(AriError):
    """Another WebSocket took our Stasis application name; we stop instead of fighting."""


class ChannelGone(AriError):
    """The channel left Stasis, hung up or was destroyed while we waited on it."""

    def __init__(self, channel_id: str, reason: str) -> None:
        super().__init__(f"channel {channel_id} gone: {reason}")
        self.channel_id = channel_id
        self.reason = reason


class ClientClosed(AriError):
    """The ARI client was closed while an operation waited on it."""


_BY_STATUS: dict[int, type[AriHttpError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def error_for_status(status: int, method: str, path: str, message: str) -> AriHttpError:
    """Build the exception type that matches an HTTP error status."""
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, AriHttpError)
    return cls(status, method, path, message)
