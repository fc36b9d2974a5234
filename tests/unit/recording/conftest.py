"""Fixtures for recording tests: a real moto server (KMS protocol) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zentrale.recording.aws import AwsClient, ClientSettings, make_client
from zentrale.testing.moto import MotoServer, start_moto_server, stop_moto_server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto_server()
    yield server
    stop_moto_server(server)


def client_settings(server: MotoServer) -> ClientSettings:
    return ClientSettings(
        endpoint_url=server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=1,
        read_timeout=5,
        max_attempts=1,
    )


@pytest.fixture
def kms_client(moto_server: MotoServer) -> Iterator[AwsClient]:
    client = make_client("kms", client_settings(moto_server))
    yield client
    client.close()
