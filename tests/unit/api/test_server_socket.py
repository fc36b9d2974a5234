"""The API's listening socket: connections accepted on it send small writes at once.

asyncio switches Nagle's algorithm off (TCP_NODELAY) only for sockets whose protocol says TCP;
an accepted socket takes its protocol from the listening one. Bound with protocol 0, every
response on a kept-alive connection (headers, then body: two writes) waited ~40 ms for the
client's delayed ACK, and each server-sent event after the first did too (measured: 44 ms per
request to `/api/health`, 0.9 ms with the socket bound as TCP).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from zentrale.api.server import bind


@pytest.mark.asyncio
async def test_connections_accepted_on_the_api_socket_have_nagle_off() -> None:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listening = bind("127.0.0.1", 0)
    server = await loop.create_server(Probe, sock=listening)
    try:
        assert listening.proto == socket.IPPROTO_TCP
        port = listening.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
