"""S3 storage against moto's standalone S3 server on loopback: streaming, multipart, failures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from zentrale.recording import vault
from zentrale.recording.aws import AwsClient, ClientSettings, make_client
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.storage.base import ObjectNotFoundError, StorageUnavailableError
from zentrale.recording.storage.s3 import MIN_PART_SIZE, S3Settings, S3Store
from zentrale.testing.moto import (
    MotoServer,
    restart_moto_server,
    start_moto_server,
    stop_moto_server,
)

pytestmark = pytest.mark.s3

BUCKET = "recordings"


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    # One server per test: tests stop and restart it, and a fresh one starts empty.
    server = start_moto_server()
    yield server
    stop_moto_server(server)


def client_settings(server: MotoServer, checksums: bool = True) -> ClientSettings:
    return ClientSettings(
        endpoint_url=server.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=1,
        read_timeout=5,
        max_attempts=1,
        checksums=checksums,
    )


def create_bucket(server: MotoServer) -> None:
    client = make_client("s3", client_settings(server))
    try:
        client.create_bucket(Bucket=BUCKET)
    finally:
        client.close()


def open_store(
    server: MotoServer, checksums: bool = True, sse_kms_key_id: str | None = None
) -> S3Store:
    settings = S3Settings(
        bucket=BUCKET,
        prefix="zentrale/",
        client=client_settings(server, checksums),
        multipart_threshold=1024 * 1024,
        part_size=MIN_PART_SIZE,
        chunk_size=64 * 1024,
        sse_kms_key_id=sse_kms_key_id,
    )
    return S3Store.connect(settings)


@pytest.fixture
def store(moto_server: MotoServer) -> Iterator[S3Store]:
    create_bucket(moto_server)
    s3 = open_store(moto_server)
    yield s3
    s3.close()


@pytest.fixture
def raw_client(moto_server: MotoServer) -> Iterator[AwsClient]:
    client = make_client("s3", client_settings(moto_server))
    yield client
    client.close()


def test_put_get_range_head_delete(store: S3Store) -> None:
    data = os.urandom(300_000)
    assert store.put("2026/05/rec-1", iter([data[:1000], data[1000:]])) == len(data)
    chunks = list(store.get("2026/05/rec-1"))
    assert len(chunks) > 1
    assert b"".join(chunks) == data
    assert b"".join(store.get_range("2026/05/rec-1", 70_000, 140_001)) == data[70_000:140_001]
    assert b"".join(store.get_range("2026/05/rec-1", 299_990, 400_000)) == data[299_990:]
    assert list(store.get_range("2026/05/rec-1", 400_000, 500_000)) == []
    assert store.head("2026/05/rec-1").size == len(data)
    assert store.exists("2026/05/rec-1")
    store.delete("2026/05/rec-1")
    store.delete("2026/05/rec-1")
    assert not store.exists("2026/05/rec-1")


def test_objects_are_stored_under_the_prefix(store: S3Store, raw_client: AwsClient) -> None:
    store.put("rec-1", [b"abc"])
    listed = raw_client.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [item["Key"] for item in listed] == ["zentrale/rec-1"]


def test_an_empty_object(store: S3Store) -> None:
    assert store.put("empty", []) == 0
    assert list(store.get("empty")) == []
    assert list(store.get_range("empty", 0, 10)) == []


def test_missing_objects(store: S3Store) -> None:
    with pytest.raises(ObjectNotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(ObjectNotFoundError):
        store.get_range("nope", 0, 10)
    with pytest.raises(ObjectNotFoundError):
        store.head("nope")


def test_list_by_prefix_across_pages(store: S3Store) -> None:
    keys = [f"2026/05/rec-{i:04d}" for i in range(1005)] + ["2026/06/rec-x"]
    for key in keys:
        store.put(key, [b"x"])
    assert sorted(store.list("2026/05/")) == keys[:-1]
    assert len(list(store.list())) == 1006


def test_large_objects_go_up_in_parts(store: S3Store, raw_client: AwsClient) -> None:
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    pieces = (data[i : i + 100_000] for i in range(0, len(data), 100_000))
    assert store.put("big", pieces) == len(data)
    head = raw_client.head_object(Bucket=BUCKET, Key="zentrale/big", PartNumber=1)
    assert head["PartsCount"] == 3
    assert b"".join(store.get("big")) == data
    start = MIN_PART_SIZE - 10
    assert b"".join(store.get_range("big", start, start + 20)) == data[start : start + 20]


@pytest.mark.parametrize("checksums", [True, False])
def test_the_checksum_switch_decides_whether_crc32_is_sent(
    moto_server: MotoServer, raw_client: AwsClient, checksums: bool
) -> None:
    create_bucket(moto_server)
    store = open_store(moto_server, checksums=checksums)
    try:
        data = os.urandom(MIN_PART_SIZE + 1)
        store.put("big", [data])
        store.put("small", [b"abc"])
        assert b"".join(store.get("big")) == data
        assert b"".join(store.get("small")) == b"abc"
    finally:
        store.close()
    for key in ("zentrale/small", "zentrale/big"):
        head = raw_client.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert ("ChecksumCRC32" in head) is checksums


def test_sse_kms_is_requested_when_configured(
    moto_server: MotoServer, raw_client: AwsClient
) -> None:
    create_bucket(moto_server)
    store = open_store(moto_server, sse_kms_key_id="alias/recordings-at-rest")
    try:
        store.put("small", [b"abc"])
        store.put("big", [os.urandom(MIN_PART_SIZE + 1)])
    finally:
        store.close()
    for key in ("zentrale/small", "zentrale/big"):
        head = raw_client.head_object(Bucket=BUCKET, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == "alias/recordings-at-rest"


class SourceFailedError(Exception):
    pass


def failing_source() -> Iterator[bytes]:
    yield os.urandom(MIN_PART_SIZE + 10)
    raise SourceFailedError("encoder crashed")


def test_a_failed_multipart_upload_is_aborted_and_leaves_no_object(
    store: S3Store, raw_client: AwsClient
) -> None:
    with pytest.raises(SourceFailedError):
        store.put("broken", failing_source())
    assert not store.exists("broken")
    assert raw_client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_stopped_server_is_unavailable_then_recovers(
    moto_server: MotoServer, store: S3Store
) -> None:
    store.put("rec-1", [b"before"])
    stop_moto_server(moto_server)
    with pytest.raises(StorageUnavailableError):
        store.put("rec-2", [b"during"])
    with pytest.raises(StorageUnavailableError):
        store.get("rec-1")
    with pytest.raises(StorageUnavailableError):
        store.head("rec-1")
    with pytest.raises(StorageUnavailableError):
        list(store.list())
    restart_moto_server(moto_server)
    create_bucket(moto_server)  # moto keeps state in memory: the restarted server is empty
    store.put("rec-2", [b"after"])
    assert b"".join(store.get("rec-2")) == b"after"


def test_sealed_recordings_round_trip_through_s3(store: S3Store) -> None:
    qa = PrivateKeyIdentity.generate()
    audio = os.urandom(3 * MIN_PART_SIZE // 2)
    chunks = (audio[i : i + 8000] for i in range(0, len(audio), 8000))
    sealed = vault.seal(store, [qa.recipient()], "rec-0001", chunks, object_key="2026/rec-0001")
    assert store.head("2026/rec-0001").size == sealed.object_size
    assert sealed.plaintext_size == len(audio)
    assert b"".join(vault.read(store, sealed, [qa])) == audio
    got = b"".join(
        vault.read_range(
            store=store, sealed=sealed, unwrappers=[qa], start=1_000_000, end=1_200_000
        )
    )
    assert got == audio[1_000_000:1_200_000]
