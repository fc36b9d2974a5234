"""The local keyring and public (X25519) key providers, and the multi-recipient helpers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from zentrale.recording.envelope import generate_data_key
from zentrale.recording.keys.base import (
    InvalidKeyMaterialError,
    NoMatchingKeyError,
    UnwrapFailedError,
    WrappedKey,
    unwrap_any,
    wrap_for_all,
    wrapped_keys_from_json,
    wrapped_keys_to_json,
)
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity, PublicKeyRecipient

RID = "rec-0001"


def test_local_wrap_unwrap_round_trip() -> None:
    provider = LocalKeyProvider(Keyring.generate("dev-1"))
    data_key = generate_data_key()
    wrapped = provider.wrap(data_key, RID)
    assert (wrapped.provider, wrapped.key_id) == ("local", "dev-1")
    assert data_key not in wrapped.blob
    assert provider.unwrap(wrapped, RID) == data_key


def test_local_unwrap_fails_for_another_recording_or_a_modified_blob() -> None:
    provider = LocalKeyProvider(Keyring.generate())
    wrapped = provider.wrap(generate_data_key(), RID)
    with pytest.raises(UnwrapFailedError, match="did not open"):
        provider.unwrap(wrapped, "rec-0002")
    modified = WrappedKey(wrapped.provider, wrapped.key_id, wrapped.blob[:-1] + b"\x00")
    with pytest.raises(UnwrapFailedError):
        provider.unwrap(modified, RID)


def test_a_keyring_with_the_same_key_id_but_another_key_fails() -> None:
    wrapped = LocalKeyProvider(Keyring.generate("k")).wrap(generate_data_key(), RID)
    with pytest.raises(UnwrapFailedError):
        LocalKeyProvider(Keyring.generate("k")).unwrap(wrapped, RID)


def test_a_rotated_keyring_still_unwraps_with_its_older_keys() -> None:
    old = Keyring.generate("2025")
    data_key = generate_data_key()
    wrapped = LocalKeyProvider(old).wrap(data_key, RID)
    rotated = Keyring(primary="2026", keys={**old.keys, "2026": os.urandom(32)})
    provider = LocalKeyProvider(rotated)
    assert provider.wrap(data_key, RID).key_id == "2026"
    assert provider.unwrap(wrapped, RID) == data_key


def test_keyring_file_round_trip_is_owner_only(tmp_path: Path) -> None:
    keyring = Keyring.generate()
    path = tmp_path / "keyring.json"
    keyring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.load(path) == keyring
    with pytest.raises(FileExistsError):
        keyring.save(path)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"primary": "a", "keys": {}}',
        '{"primary": "a", "keys": {"a": "c2hvcnQ="}}',
        '{"primary": "a", "keys": {"a": "!!"}}',
        "[]",
    ],
)
def test_broken_keyrings_are_refused(text: str) -> None:
    with pytest.raises(InvalidKeyMaterialError):
        Keyring.from_json(text)


def test_keyring_repr_hides_keys() -> None:
    keyring = Keyring.generate("x")
    assert keyring.keys["x"].hex() not in repr(keyring)
    assert str(list(keyring.keys["x"])) not in repr(keyring)


def test_public_wrap_needs_only_the_public_key() -> None:
    identity = PrivateKeyIdentity.generate()
    recipient = PublicKeyRecipient.from_pem(identity.public_pem())
    data_key = generate_data_key()
    wrapped = recipient.wrap(data_key, RID)
    assert wrapped.provider == "public"
    assert wrapped.key_id == identity.key_id
    assert wrapped.key_id.startswith("x25519:")
    assert len(wrapped.blob) == 32 + 32 + 16
    assert identity.unwrap(wrapped, RID) == data_key


def test_public_wraps_differ_each_time_because_of_the_ephemeral_key() -> None:
    recipient = PrivateKeyIdentity.generate().recipient()
    data_key = generate_data_key()
    assert recipient.wrap(data_key, RID).blob != recipient.wrap(data_key, RID).blob


def test_public_unwrap_fails_with_another_private_key_or_recording() -> None:
    identity = PrivateKeyIdentity.generate()
    wrapped = identity.recipient().wrap(generate_data_key(), RID)
    with pytest.raises(UnwrapFailedError, match="did not open"):
        identity.unwrap(wrapped, "rec-0002")
    other = PrivateKeyIdentity.generate()
    impostor = WrappedKey(wrapped.provider, other.key_id, wrapped.blob)
    with pytest.raises(UnwrapFailedError):
        other.unwrap(impostor, RID)
    assert not other.can_unwrap(wrapped)


def test_private_key_pem_round_trip(tmp_path: Path) -> None:
    identity = PrivateKeyIdentity.generate()
    path = tmp_path / "qa.key.pem"
    path.write_bytes(identity.private_pem())
    loaded = PrivateKeyIdentity.load(path)
    assert loaded.key_id == identity.key_id
    wrapped = identity.recipient().wrap(b"k" * 32, RID)
    assert loaded.unwrap(wrapped, RID) == b"k" * 32


def test_non_x25519_pem_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyMaterialError, match="not an X25519"):
        PublicKeyRecipient.from_pem(public_pem)


def test_several_recipients_each_open_the_same_data_key() -> None:
    qa, escrow = PrivateKeyIdentity.generate(), PrivateKeyIdentity.generate()
    dev = LocalKeyProvider(Keyring.generate())
    data_key = generate_data_key()
    wrapped = wrap_for_all(data_key, RID, [qa.recipient(), escrow.recipient(), dev])
    assert [w.key_id for w in wrapped] == [qa.key_id, escrow.key_id, dev.key_id]
    for unwrapper in (qa, escrow, dev):
        assert unwrap_any(wrapped, [unwrapper], RID) == data_key


def test_unwrap_any_tells_no_matching_key_from_a_failing_one() -> None:
    qa = PrivateKeyIdentity.generate()
    wrapped = wrap_for_all(generate_data_key(), RID, [qa.recipient()])
    with pytest.raises(NoMatchingKeyError, match=qa.key_id):
        unwrap_any(wrapped, [PrivateKeyIdentity.generate()], RID)
    with pytest.raises(UnwrapFailedError):
        unwrap_any(wrapped, [qa], "rec-0002")


def test_unwrap_any_falls_back_to_the_next_recipient() -> None:
    qa, escrow = PrivateKeyIdentity.generate(), PrivateKeyIdentity.generate()
    data_key = generate_data_key()
    good = escrow.recipient().wrap(data_key, RID)
    broken = qa.recipient().wrap(data_key, RID)
    broken = WrappedKey(broken.provider, broken.key_id, bytes(len(broken.blob)))
    assert unwrap_any([broken, good], [qa, escrow], RID) == data_key


def test_wrapping_for_nobody_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one recipient"):
        wrap_for_all(generate_data_key(), RID, [])


def test_wrapped_keys_json_round_trip_and_repr_hides_the_blob() -> None:
    wrapped = wrap_for_all(generate_data_key(), RID, [PrivateKeyIdentity.generate().recipient()])
    data = json.loads(json.dumps(wrapped_keys_to_json(wrapped)))
    assert wrapped_keys_from_json(data) == wrapped
    assert wrapped[0].blob.hex() not in repr(wrapped[0])
    assert "<hidden>" in repr(wrapped[0])
    with pytest.raises(InvalidKeyMaterialError):
        wrapped_keys_from_json({"not": "a list"})
    with pytest.raises(InvalidKeyMaterialError):
        wrapped_keys_from_json([{"provider": "local", "key_id": "x", "wrapped": "@@"}])


def test_failed_unwraps_are_logged_without_key_material() -> None:
    qa = PrivateKeyIdentity.generate()
    wrapped = qa.recipient().wrap(generate_data_key(), RID)
    with capture_logs() as logs, pytest.raises(UnwrapFailedError):
        unwrap_any([wrapped], [qa], "other")
    assert logs == [
        {
            "event": "unwrap failed",
            "key_id": qa.key_id,
            "error": "UnwrapFailedError",
            "log_level": "warning",
        }
    ]
