"""A real moto server (S3 and KMS protocols) on loopback, for integration tests.

Plain helpers rather than fixtures, so any test module or conftest can wrap them: start a
`moto.server` subprocess on a free port, wait until it answers HTTP, stop it (and start it
again on the same port to test recovery). The server keeps its state in memory; a restart
starts empty.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

HOST = "127.0.0.1"


@dataclass(slots=True)
class MotoServer:
    """A running (or stopped) moto server process."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """Return the URL boto3 clients use as endpoint."""
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_moto_server(port: int | None = None, timeout: float = 30.0) -> MotoServer:
    """Start moto's standalone server and return once it answers."""
    server = MotoServer(port=port or free_port())
    restart_moto_server(server, timeout)
    return server


def restart_moto_server(server: MotoServer, timeout: float = 30.0) -> None:
    """Start the (stopped) server again on its port and wait until it answers."""
    command = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(server.port)]
    server.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(server, timeout)
    except BaseException:
        stop_moto_server(server)
        raise


def wait_until_answering(server: MotoServer, timeout: float) -> None:
    """Poll the server until it answers HTTP; raise RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {server.process.returncode}")
        try:
            httpx.get(f"{server.endpoint_url}/moto-api/", timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        return
    raise RuntimeError(f"moto server on port {server.port} did not answer in {timeout}s")


def stop_moto_server(server: MotoServer, timeout: float = 10.0) -> None:
    """Stop the server process and reap it."""
    process, server.process = server.process, None
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
