"""Connection settings of the ARI client: credentials (password hidden) and tuning options.

The daemon's configuration builds an ``AriCredentials``; any object with the same four
attributes (e.g. the sandbox's) is accepted. ``AriOptions`` holds timeouts, retry and
reconnect tuning with production defaults; tests shorten them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import structlog
from pydantic import BaseModel, ConfigDict, SecretStr

log = structlog.get_logger(__name__)


class CredentialsLike(Protocol):
    """What the client needs to reach ARI."""

    @property
    def base_url(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> SecretStr: ...
    @property
    def app(self) -> str: ...


class AriCredentials(BaseModel):
    """ARI base URL (``http://host:port/ari``), user, password and Stasis app name."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    username: str
    password: SecretStr
    app: str


class ReloadingCredentials:
    """Credentials whose password is read again on demand (on a 401, on SIGHUP).

    `zentrale sandbox up` or an operator may change the ARI password while the daemon runs;
    READ returns the current one (from its file), and `reload` swaps it in when it changed.
    """

    def __init__(
        self, base_url: str, username: str, app: str, read: Callable[[], SecretStr]
    ) -> None:
        self.base_url, self.username, self.app = base_url, username, app
        self._read = read
        self._password = read()

    def __repr__(self) -> str:
        return f"ReloadingCredentials(base_url={self.base_url!r}, app={self.app!r})"

    @property
    def password(self) -> SecretStr:
        """Return the password as last read."""
        return self._password

    def reload(self) -> bool:
        """Read the password again; tell whether it changed (a failed read keeps the old)."""
        try:
            fresh = self._read()
        except Exception as exc:  # the file is being rewritten, or gone: keep what we have
            log.warning("ari.credentials_unreadable", error=str(exc))
            return False
        if fresh.get_secret_value() == self._password.get_secret_value():
            return False
        self._password = fresh
        log.warning("ari.credentials_reloaded", url=self.base_url)
        return True


def reload_password(credentials: CredentialsLike) -> bool:
    """Re-read CREDENTIALS' password if they can (see ReloadingCredentials); True if changed."""
    reload = getattr(credentials, "reload", None)
    return bool(reload()) if callable(reload) else False


def basic_auth_header(credentials: CredentialsLike) -> str:
    """The ``Authorization`` header value (kept out of URLs and logs)."""
    raw = f"{credentials.username}:{credentials.password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


RestTransport = Literal["auto", "websocket", "http"]
"""How REST requests travel: over the event WebSocket (Asterisk 22's RESTRequest), over HTTP,
or ``auto``: probe at every connect and use the WebSocket when Asterisk answers it."""


IGNORED_EVENTS = ("ChannelVarset", "ChannelDialplan", "ChannelConnectedLine", "ChannelCallerId")
"""Event types no zentrale flow reads: 64 of the 96 events of a bench call (docs/performance.md),
most from the dialplan of Local channels and Asterisk's bookkeeping of bridged channels."""


@dataclass(frozen=True)
class AriOptions:
    """Timeouts, retries, reconnect backoff, REST transport and dispatch tuning."""

    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    max_connections: int = 20
    retry_attempts: int = 3
    retry_backoff: float = 0.2
    ping_interval: float = 3.0
    ping_timeout: float = 3.0
    open_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_reset_after: float = 10.0
    lane_idle_timeout: float = 30.0
    max_message_size: int = 16 * 1024 * 1024
    rest_transport: RestTransport = "auto"
    probe_timeout: float = 2.0
    """How long ``auto`` waits for the answer to its probe before choosing HTTP."""
    ignored_events: tuple[str, ...] = IGNORED_EVENTS
    """Event types Asterisk is asked not to send (at every connect, ``PUT
    applications/{app}/eventFilter``; an Asterisk without it sends them, the client ignores
    them); empty: every event (clearing a filter an earlier client left on the app)."""


def events_url(base_url: str, app: str) -> str:
    """WebSocket URL of the event stream for ``app`` (no credentials in it)."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = f"app={app}&subscribeAll=false"
    return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))
