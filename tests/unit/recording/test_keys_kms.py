"""The KMS key provider against moto's KMS over HTTP on loopback (no in-process mocking)."""

from __future__ import annotations

import pytest

from zentrale.recording.aws import AwsClient, ClientSettings, make_client
from zentrale.recording.envelope import generate_data_key
from zentrale.recording.keys.base import (
    KeyProviderError,
    KeyServiceUnavailableError,
    UnwrapFailedError,
    WrappedKey,
    unwrap_any,
    wrap_for_all,
)
from zentrale.recording.keys.kms import KmsKeyProvider, encryption_context
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.testing.moto import free_port

RID = "rec-0001"


def new_key(client: AwsClient) -> str:
    return str(client.create_key(Description="zentrale test")["KeyMetadata"]["Arn"])


def test_wrap_unwrap_round_trip_names_the_key_arn(kms_client: AwsClient) -> None:
    arn = new_key(kms_client)
    provider = KmsKeyProvider(kms_client, arn)
    data_key = generate_data_key()
    wrapped = provider.wrap(data_key, RID)
    assert (wrapped.provider, wrapped.key_id) == ("kms", arn)
    assert data_key not in wrapped.blob
    assert provider.unwrap(wrapped, RID) == data_key


def test_an_alias_is_recorded_as_the_key_arn(kms_client: AwsClient) -> None:
    arn = new_key(kms_client)
    kms_client.create_alias(AliasName="alias/zentrale-qa", TargetKeyId=arn)
    wrapped = KmsKeyProvider(kms_client, "alias/zentrale-qa").wrap(generate_data_key(), RID)
    assert wrapped.key_id == arn


def test_the_encryption_context_binds_the_recording(kms_client: AwsClient) -> None:
    provider = KmsKeyProvider(kms_client, new_key(kms_client))
    wrapped = provider.wrap(generate_data_key(), RID)
    with pytest.raises(UnwrapFailedError, match="KMS refused"):
        provider.unwrap(wrapped, "rec-0002")
    assert encryption_context(RID)["zentrale:recording-id"] == RID


def test_a_wrap_presented_as_another_keys_fails(kms_client: AwsClient) -> None:
    provider = KmsKeyProvider(kms_client, new_key(kms_client))
    wrapped = provider.wrap(generate_data_key(), RID)
    other = WrappedKey("kms", new_key(kms_client), wrapped.blob)
    with pytest.raises(UnwrapFailedError):
        provider.unwrap(other, RID)


def test_a_modified_blob_fails(kms_client: AwsClient) -> None:
    provider = KmsKeyProvider(kms_client, new_key(kms_client))
    wrapped = provider.wrap(generate_data_key(), RID)
    broken = WrappedKey("kms", wrapped.key_id, wrapped.blob[:-2] + b"\x00\x00")
    with pytest.raises(UnwrapFailedError):
        provider.unwrap(broken, RID)


def test_kms_and_an_offline_escrow_key_as_recipients(kms_client: AwsClient) -> None:
    kms = KmsKeyProvider(kms_client, new_key(kms_client))
    escrow = PrivateKeyIdentity.generate()
    data_key = generate_data_key()
    wrapped = wrap_for_all(data_key, RID, [kms, escrow.recipient()])
    assert unwrap_any(wrapped, [kms], RID) == data_key
    assert unwrap_any(wrapped, [escrow], RID) == data_key


def test_an_unknown_key_fails_to_wrap(kms_client: AwsClient) -> None:
    provider = KmsKeyProvider(kms_client, "arn:aws:kms:us-east-1:123456789012:key/missing")
    with pytest.raises(KeyProviderError, match="KMS encrypt failed"):
        provider.wrap(generate_data_key(), RID)


def test_an_unreachable_kms_is_retriable_and_falls_back_to_escrow() -> None:
    settings = ClientSettings(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="testing",
        secret_access_key="testing",
        connect_timeout=0.5,
        max_attempts=1,
    )
    client = make_client("kms", settings)
    try:
        kms = KmsKeyProvider(client, "arn:aws:kms:us-east-1:123456789012:key/x")
        with pytest.raises(KeyServiceUnavailableError):
            kms.wrap(generate_data_key(), RID)
        escrow = PrivateKeyIdentity.generate()
        data_key = generate_data_key()
        kms_wrapped = WrappedKey("kms", kms.key_id, b"\x01" * 64)
        wrapped = [kms_wrapped, escrow.recipient().wrap(data_key, RID)]
        with pytest.raises(KeyServiceUnavailableError):
            unwrap_any(wrapped[:1], [kms], RID)
        assert unwrap_any(wrapped, [kms, escrow], RID) == data_key
    finally:
        client.close()
