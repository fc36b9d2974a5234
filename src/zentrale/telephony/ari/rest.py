"""REST transport of the ARI client: the event WebSocket or one pooled httpx client, error
mapping, bounded retries.

Resource helpers (``resources/``) call ``request`` with ``idempotent=True`` when repeating the
request cannot do harm (GET, DELETE, creations with our own ids); those are retried on 5xx and
transport errors. A request that never reached Asterisk (connect failure, socket not open) is
always retried. Each attempt goes over the WebSocket while one that answers REST is attached
(``wsrest``), else over HTTP; with ``rest_transport: websocket`` it waits for the socket instead.
Errors, retries and timeouts are the same on both. Binary bodies (stored recordings) are
streamed over HTTP (Asterisk refuses them on the WebSocket), never decoded as JSON.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Generator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from zentrale.telephony.ari.config import (
    AriOptions,
    CredentialsLike,
    basic_auth_header,
    reload_password,
)
from zentrale.telephony.ari.errors import AriHttpError, AriTransportError, error_for_status
from zentrale.telephony.ari.traffic import count_request
from zentrale.telephony.ari.wsrest import WsRest

log = structlog.get_logger(__name__)

Params = Mapping[str, str | int | float | bool | None]
# Never sent to Asterisk, so repeating is harmless whatever the method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def seg(value: str) -> str:
    """Quote one path segment (an id or name) for an ARI URL."""
    # Asterisk does not decode %3B: Local channel ids ("...;2") must keep their ';' raw.
    # RFC 3986 allows sub-delims, ':' and '@' in a segment; only '/', '?', '#', '%' need care.
    return quote(value, safe="!$&'()*+,;=:@")


def encode_params(params: Params | None) -> dict[str, str]:
    """Drop ``None`` values and spell booleans the way ARI expects."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class RestStats:
    """Counters of REST traffic for metrics."""

    __slots__ = ("errors", "requests", "retries", "ws_requests")

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0
        self.errors = 0
        self.ws_requests = 0
        """Attempts sent over the WebSocket (the rest went over HTTP)."""


class _LiveBasicAuth(httpx.Auth):
    """Basic auth with the credentials' current password; on a 401 it is read again and,
    if it changed, the request is sent once more with it."""

    def __init__(self, credentials: CredentialsLike) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = basic_auth_header(self._credentials)
        response = yield request
        if response.status_code == 401 and reload_password(self._credentials):
            request.headers["Authorization"] = basic_auth_header(self._credentials)
            yield request


class AriRest:
    """Pooled HTTP transport to ``/ari`` with Basic auth, timeouts and retries."""

    def __init__(
        self,
        credentials: CredentialsLike,
        options: AriOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options or AriOptions()
        self.stats = RestStats()
        self.ws = WsRest(self.options.request_timeout, self.options.connect_timeout)
        self._http = httpx.AsyncClient(
            base_url=credentials.base_url.rstrip("/") + "/",
            auth=_LiveBasicAuth(credentials),
            timeout=httpx.Timeout(
                self.options.request_timeout, connect=self.options.connect_timeout
            ),
            limits=httpx.Limits(max_connections=self.options.max_connections),
            transport=transport,
        )

    async def aclose(self) -> None:
        """End requests waiting on the WebSocket; close the connection pool."""
        self.ws.close()
        await self._http.aclose()

    @property
    def transport(self) -> str:
        """Where the next request goes: ``websocket`` or ``http``."""
        if self.ws.attached or self.options.rest_transport == "websocket":
            return "websocket"
        return "http"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send a request; return decoded JSON (``None`` for empty bodies) or raise."""
        safe = method in ("GET", "DELETE") if idempotent is None else idempotent
        return await self._send_with_retry(method, path, encode_params(params), body, safe)

    async def _send_with_retry(
        self, method: str, path: str, params: dict[str, str], body: Any, safe: bool
    ) -> Any:
        attempts = max(1, self.options.retry_attempts)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return await self._send_once(method, path, params, body)
            except (AriHttpError, AriTransportError) as exc:
                if last or not _may_retry(exc, safe):
                    self.stats.errors += 1
                    raise
                log.warning("ari.rest.retry", method=method, path=path, error=str(exc))
            self.stats.retries += 1
            await asyncio.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, method: str, path: str, params: dict[str, str], body: Any) -> Any:
        self.stats.requests += 1
        count_request()
        if self.ws.attached or self.options.rest_transport == "websocket":
            return await self._send_ws(method, path, params, body)
        response = await self._send_http(method, path, params, body)
        return response.json() if response.content else None

    async def _send_ws(self, method: str, path: str, params: dict[str, str], body: Any) -> Any:
        self.stats.ws_requests += 1
        wait = self.options.rest_transport == "websocket"
        reply = await self.ws.request(method, path, params, body, wait=wait)
        if reply.status >= 400:
            data = reply.body
            message = str(data.get("message", "")) if isinstance(data, dict) else reply.reason
            raise error_for_status(reply.status, method, path, message)
        return reply.body

    async def _send_http(
        self, method: str, path: str, params: dict[str, str], body: Any
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as exc:
            raise _transport_error(exc, method, path) from exc
        if response.status_code >= 400:
            raise error_for_status(response.status_code, method, path, _message(response))
        return response

    def _backoff(self, attempt: int) -> float:
        base = self.options.retry_backoff * (2**attempt)
        return random.uniform(base / 2, base)  # noqa: S311 - jitter, not crypto

    @asynccontextmanager
    async def stream(self, path: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open a GET whose binary body is yielded in chunks (never parsed as JSON)."""
        request = self._http.build_request("GET", path)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _transport_error(exc, "GET", path) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                raise error_for_status(response.status_code, "GET", path, _message(response))
            yield response.aiter_bytes()
        finally:
            await response.aclose()


def _may_retry(exc: AriHttpError | AriTransportError, safe: bool) -> bool:
    if isinstance(exc, AriTransportError):
        return safe or not exc.sent
    return safe and exc.retriable


def _transport_error(exc: httpx.TransportError, method: str, path: str) -> AriTransportError:
    message = f"{method} {path}: {type(exc).__name__}: {exc}"
    return AriTransportError(message, sent=not isinstance(exc, _NOT_SENT))


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    return str(data.get("message", "")) if isinstance(data, dict) else str(data)[:200]
