"""Run an ASGI app with uvicorn inside the daemon's event loop, on a socket we bind ourselves.

Binding first means port 0 works (tests, several nodes on one host) and the real port is known
before anyone is told the URL. uvicorn's own signal handling is switched off: the daemon owns
SIGTERM and SIGHUP. Its access log is off too, since prompt URLs carry a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon handles signals


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    """Serve APP on SOCK until the block ends."""
    config = uvicorn.Config(app, access_log=False, log_config=None, lifespan="off")
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
