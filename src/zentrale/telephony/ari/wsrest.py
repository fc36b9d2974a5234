"""REST over the event WebSocket: Asterisk 22's ``RESTRequest`` / ``RESTResponse`` messages.

The connection attaches the open socket here once it knows Asterisk answers requests on it (a
probe at connect, or ``rest_transport: websocket``) and detaches it when the socket closes.
A request is one text frame ``{"type": "RESTRequest", "request_id", "method", "uri",
"content_type", "message_body"}``; the reader hands every ``RESTResponse`` to ``resolve``,
which wakes the request with the same ``request_id``. Asterisk runs the requests of one socket
one after another, in the order they were sent. Requests still waiting when the socket closes
end with ``AriTransportError`` (sent: Asterisk may have acted on them).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import structlog
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from zentrale.telephony.ari.errors import AriTransportError

log = structlog.get_logger(__name__)

PROBE_URI = "asterisk/ping"
"""What the probe asks: cheap, read-only, answered by every Asterisk 22 with ARI."""


@dataclass(frozen=True)
class WsReply:
    """One RESTResponse: status, reason and the decoded JSON body (``None`` when empty)."""

    status: int
    reason: str
    body: Any


def request_message(
    request_id: str, method: str, path: str, params: Mapping[str, str], body: Any
) -> bytes:
    """Encode one RESTRequest (query parameters in the URI, a JSON body as a string)."""
    uri = path.lstrip("/")
    if params:
        uri += "?" + urlencode(params)
    message: dict[str, Any] = {
        "type": "RESTRequest",
        "request_id": request_id,
        "method": method,
        "uri": uri,
    }
    if body is not None:
        message["content_type"] = "application/json"
        message["message_body"] = orjson.dumps(body).decode()
    return orjson.dumps(message)


def decode_reply(raw: Mapping[str, Any]) -> WsReply:
    """Read a RESTResponse's status and body (a body that is not JSON is kept as text)."""
    text = raw.get("message_body")
    body: Any = None
    if isinstance(text, str) and text:
        try:
            body = orjson.loads(text)
        except ValueError:
            body = {"message": text[:200]}
    status = raw.get("status_code")
    return WsReply(
        status if isinstance(status, int) else 500, str(raw.get("reason_phrase", "")), body
    )


class WsRest:
    """Requests in flight on the event WebSocket, matched to their responses by id."""

    def __init__(self, request_timeout: float, wait_connected: float) -> None:
        self._timeout = request_timeout
        self._wait_connected = wait_connected
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[Mapping[str, Any] | None]] = {}
        self._ids = itertools.count(1)
        self._attached = asyncio.Event()
        self._closed = False
        self.late = 0
        """Responses that came after their request timed out (or with an unknown id)."""

    @property
    def attached(self) -> bool:
        """Whether a socket that answers REST requests is open now."""
        return self._ws is not None

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    def next_id(self) -> str:
        """A request id unique within this client."""
        return f"z{next(self._ids)}"

    def attach(self, ws: ClientConnection) -> None:
        """Use WS for requests from now on."""
        self._ws = ws
        self._attached.set()

    def detach(self, why: str) -> None:
        """Stop using the socket; the requests still waiting end with a transport error."""
        self._ws = None
        self._attached.clear()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_result(None)
        if pending:
            log.warning("ari.wsrest.dropped_in_flight", requests=len(pending), why=why)

    def close(self) -> None:
        """The client is closing: end everything still waiting."""
        self._closed = True
        self.detach("client closed")

    def resolve(self, raw: Mapping[str, Any]) -> None:
        """Hand a RESTResponse to the request waiting for it (called by the reader)."""
        future = self._pending.pop(str(raw.get("request_id", "")), None)
        if future is None or future.done():
            self.late += 1
            return
        future.set_result(raw)

    async def request(
        self, method: str, path: str, params: Mapping[str, str], body: Any, *, wait: bool
    ) -> WsReply:
        """Send one request and wait for its response.

        When no socket is attached, WAIT says to wait (up to the connect timeout) for one;
        otherwise, or when none comes, it fails as not sent.
        """
        ws = self._ws
        if ws is None and wait and not self._closed:
            try:
                async with asyncio.timeout(self._wait_connected):
                    await self._attached.wait()
            except TimeoutError:
                pass
            ws = self._ws
        if ws is None:
            raise AriTransportError(
                f"{method} {path}: the ARI WebSocket is not connected", sent=False
            )
        if ws.state is not State.OPEN:
            raise AriTransportError(f"{method} {path}: the ARI WebSocket is closing", sent=False)
        request_id = self.next_id()
        future: asyncio.Future[Mapping[str, Any] | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[request_id] = future
        try:
            await ws.send(request_message(request_id, method, path, params, body), text=True)
        except ConnectionClosed as exc:
            # The frame may have been written before the close was noticed: count it as sent.
            self._pending.pop(request_id, None)
            raise AriTransportError(
                f"{method} {path}: the ARI WebSocket closed while sending the request"
            ) from exc
        return await self._answer(request_id, future, method, path)

    async def _answer(
        self,
        request_id: str,
        future: asyncio.Future[Mapping[str, Any] | None],
        method: str,
        path: str,
    ) -> WsReply:
        try:
            async with asyncio.timeout(self._timeout):
                raw = await future
        except TimeoutError:
            self._pending.pop(request_id, None)
            raise AriTransportError(
                f"{method} {path}: no RESTResponse within {self._timeout:g} s"
            ) from None
        if raw is None:
            raise AriTransportError(
                f"{method} {path}: the ARI WebSocket closed with the request in flight"
            )
        return decode_reply(raw)
