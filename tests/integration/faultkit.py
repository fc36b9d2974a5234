"""Faults on demand for the drills: a TCP proxy that can cut a dependency off and restore it,
and a small disk that fills up.

`TcpProxy` listens on a loopback port and forwards every connection to a target (PostgreSQL on
127.0.0.1:5432 in the drills). `cut()` aborts every connection in flight and stops listening,
so clients see resets and then "connection refused", as when the server goes down; `restore()`
listens again on the same port. It runs on the test's event loop: while it serves, the test
awaits (never blocks the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
CHUNK = 64 * 1024


@dataclass
class TcpProxy:
    """Forward connections from a loopback port to TARGET_HOST:TARGET_PORT, until cut."""

    target_host: str
    target_port: int
    port: int = 0
    connections: int = 0
    """Connections accepted so far (all time)."""
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def up(self) -> bool:
        """Tell whether the proxy listens (the dependency is reachable)."""
        return self._server is not None

    async def restore(self) -> None:
        """Listen (again, on the same port once it has one)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accepted, HOST, self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        """Stop listening and abort every connection in flight."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            writer.transport.abort()
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.create_task(_pump(reader, up_writer)),
            asyncio.create_task(_pump(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
                self._pipes.discard(task)
            for side in (writer, up_writer):
                self._writers.discard(side)
                side.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


@contextlib.asynccontextmanager
async def proxied(target_host: str, target_port: int) -> AsyncIterator[TcpProxy]:
    """Run a `TcpProxy` to the target for the block; cut it on leaving."""
    proxy = TcpProxy(target_host, target_port)
    await proxy.restore()
    try:
        yield proxy
    finally:
        await proxy.cut()


@contextlib.contextmanager
def small_disk(mount: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of SIZE (`8m`) at MOUNT, made if missing; unmount it afterwards."""
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(path: Path) -> None:
    """Write zeros to PATH until its disk is full."""
    with path.open("wb") as file, contextlib.suppress(OSError):
        while True:
            file.write(bytes(64 * 1024))
            file.flush()
