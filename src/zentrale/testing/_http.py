"""A tiny HTTP/1.1 request reader and response writer for the fake ARI server.

Only what httpx and websockets send to the fake: a request line, headers, a Content-Length body,
keep-alive. Not a general HTTP server.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    406: "Not Acceptable",
    409: "Conflict",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class HttpRequest:
    """One parsed request: method, path (without ``/ari``), query, headers, raw head, body."""

    method: str
    target: str
    headers: dict[str, str]
    head: bytes
    body: bytes = b""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = unquote(parts.path)
        self.query = dict(parse_qsl(parts.query))

    def json(self) -> Any:
        """Decoded JSON body, ``{}`` when empty."""
        return json.loads(self.body) if self.body else {}

    def params(self) -> dict[str, Any]:
        """Query parameters merged with JSON body fields (ARI accepts both)."""
        body = self.json()
        return {**self.query, **(body if isinstance(body, dict) else {})}

    @property
    def is_websocket(self) -> bool:
        """Whether this is a WebSocket upgrade request."""
        return self.headers.get("upgrade", "").lower() == "websocket"


@dataclass
class HttpResponse:
    """A response to write: status, body bytes, content type."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @property
    def reason(self) -> str:
        """The reason phrase of the status."""
        return _REASONS.get(self.status, "Status")

    @classmethod
    def of_json(cls, status: int, data: Any) -> HttpResponse:
        """JSON response."""
        return cls(status, json.dumps(data).encode())

    def encode(self) -> bytes:
        """Serialised response with keep-alive headers."""
        head = (
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Status')}\r\n"
            f"Content-Type: {self.content_type}\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        )
        return head.encode("latin-1") + self.body


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """Read one request, or ``None`` at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return HttpRequest(method=method, target=target, headers=headers, head=head, body=body)
