"""Run an ASGI app with uvicorn inside the daemon's event loop, on a socket we bind ourselves.

Binding first means port 0 works (tests, several nodes on one host) and the real port is known
before anyone is told the URL. uvicorn's own signal handling is switched off: the daemon owns
SIGTERM and SIGHUP. Its access log is off too, since prompt URLs carry a token.

Forwarded headers (`X-Forwarded-For`, `-Proto`) are believed only from TRUSTED_PROXIES (the
setting `http.trusted_proxies`, empty by default): uvicorn's own default trusts 127.0.0.1,
which behind a same-host proxy passing the header on lets any client choose the address the
audit log records and the sign-in limit counts. The `server` header is not sent, and the
request line and headers are bounded (h11's buffer, uvicorn's header-count limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

MAX_HEADER_BYTES = 32 * 1024  # request line and headers together


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon handles signals


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto
    # says TCP, and accepted sockets take the listening socket's; with proto 0 every response
    # on a kept-alive connection waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """Return uvicorn's settings: quiet, no `server` header, forwarded headers only from proxies."""
    return {
        "access_log": False,
        "log_config": None,
        "lifespan": "off",
        "server_header": False,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": list(trusted_proxies) if trusted_proxies else [],
        # h11 rather than httptools: only h11 bounds the request line and headers.
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }


@asynccontextmanager
async def serving(
    app: ASGIApp, sock: socket.socket, trusted_proxies: Sequence[str] = ()
) -> AsyncIterator[None]:
    """Serve APP on SOCK until the block ends, believing forwarded headers of TRUSTED_PROXIES."""
    config = uvicorn.Config(app, **options(trusted_proxies))
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
    while not server.started:
        if task.done():
            task.result()  # raises what stopped the server
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()
