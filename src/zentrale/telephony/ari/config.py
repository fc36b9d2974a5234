"""Connection settings of the ARI client: credentials (password hidden) and tuning options.

The daemon's configuration builds an ``AriCredentials``; any object with the same four
attributes (e.g. the sandbox's) is accepted. ``AriOptions`` holds timeouts, retry and
reconnect tuning with production defaults; tests shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, SecretStr


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


@dataclass(frozen=True)
class AriOptions:
    """Timeouts, retries, reconnect backoff and dispatch tuning."""

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


def events_url(base_url: str, app: str) -> str:
    """WebSocket URL of the event stream for ``app`` (no credentials in it)."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = f"app={app}&subscribeAll=false"
    return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))
