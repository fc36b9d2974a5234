"""`zentrale recordings`: keys generate and decrypt, whole and by range, and its failures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from zentrale.cli.recordings import recordings
from zentrale.recording import vault
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.keys.kms import KmsKeyProvider
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.storage.local import LocalStore
from zentrale.testing.moto import MotoServer

AUDIO = os.urandom(200_000)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_keys_generate_x25519_writes_an_owner_only_private_key(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(
        recordings, ["keys", "generate", "--type", "x25519", "--out", str(tmp_path / "qa")]
    )
    assert result.exit_code == 0, result.output
    identity = PrivateKeyIdentity.load(tmp_path / "qa.key.pem")
    assert result.output.startswith(identity.key_id)
    assert stat.S_IMODE((tmp_path / "qa.key.pem").stat().st_mode) == 0o600
    again = runner.invoke(
        recordings, ["keys", "generate", "--type", "x25519", "--out", str(tmp_path / "qa")]
    )
    assert again.exit_code == 1
    assert "exists" in again.output


def test_keys_generate_local_keyring(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    args = ["keys", "generate", "--type", "local", "--out", str(path), "--key-id", "dev"]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 0, result.output
    assert Keyring.load(path).primary == "dev"


def sealed_object(tmp_path: Path) -> tuple[Path, Path, PrivateKeyIdentity, Keyring]:
    qa, ring = PrivateKeyIdentity.generate(), Keyring.generate("escrow")
    store = LocalStore(tmp_path / "store")
    sealed = vault.seal(store, [qa.recipient(), LocalKeyProvider(ring)], "rec-9", [AUDIO])
    (tmp_path / "qa.key.pem").write_bytes(qa.private_pem())
    (tmp_path / "ring.json").write_text(ring.to_json())
    keys = tmp_path / "row.json"
    keys.write_text(json.dumps(sealed.to_json()))
    return store.path_for(sealed.object_key), keys, qa, ring


def test_decrypt_with_an_identity_or_a_keyring(runner: CliRunner, tmp_path: Path) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    for option, path in [("--identity", "qa.key.pem"), ("--keyring", "ring.json")]:
        out = tmp_path / f"out{option}.wav"
        args = [
            "decrypt",
            str(obj),
            "--keys",
            str(keys),
            option,
            str(tmp_path / path),
            "-o",
            str(out),
        ]
        result = runner.invoke(recordings, args)
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == AUDIO


def test_decrypt_a_range_to_stdout_with_a_bare_key_list(runner: CliRunner, tmp_path: Path) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(json.loads(keys.read_text())["wrapped_keys"]))
    args = [
        "decrypt",
        str(obj),
        "--keys",
        str(bare),
        "--recording-id",
        "rec-9",
        "--identity",
        str(tmp_path / "qa.key.pem"),
        "--range",
        "70000-140000",
        "-o",
        "-",
    ]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == AUDIO[70000:140000]


def test_decrypt_refuses_a_tampered_object_and_leaves_no_output(
    runner: CliRunner, tmp_path: Path
) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    data = bytearray(obj.read_bytes())
    data[-5] ^= 1
    obj.write_bytes(bytes(data))
    out = tmp_path / "out.wav"
    args = [
        "decrypt",
        str(obj),
        "--keys",
        str(keys),
        "--identity",
        str(tmp_path / "qa.key.pem"),
        "-o",
        str(out),
    ]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 1
    assert "did not decrypt" in result.output
    assert "final segment" in result.output
    assert not out.exists()


def test_decrypt_with_a_key_that_wrapped_nothing_fails(runner: CliRunner, tmp_path: Path) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    stranger = tmp_path / "stranger.key.pem"
    stranger.write_bytes(PrivateKeyIdentity.generate().private_pem())
    args = ["decrypt", str(obj), "--keys", str(keys), "--identity", str(stranger), "-o", "-"]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 1
    assert "none of the keys given wrapped this recording" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give at least one of --identity"),
        (["--identity", "qa.key.pem", "--range", "12"], "is not START-END"),
    ],
)
def test_decrypt_usage_errors(
    runner: CliRunner, tmp_path: Path, extra: list[str], message: str
) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    extra = [str(tmp_path / a) if a.endswith(".pem") else a for a in extra]
    result = runner.invoke(
        recordings, ["decrypt", str(obj), "--keys", str(keys), *extra, "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert message in result.output


def test_decrypt_needs_the_recording_id_for_a_bare_list(runner: CliRunner, tmp_path: Path) -> None:
    obj, keys, _, _ = sealed_object(tmp_path)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(json.loads(keys.read_text())["wrapped_keys"]))
    args = [
        "decrypt",
        str(obj),
        "--keys",
        str(bare),
        "--identity",
        str(tmp_path / "qa.key.pem"),
        "-o",
        "-",
    ]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 2
    assert "--recording-id is needed" in result.output


def test_decrypt_through_kms(
    runner: CliRunner, tmp_path: Path, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = make_client("kms", ClientSettings(endpoint_url=moto_server.endpoint_url))
    try:
        arn = client.create_key()["KeyMetadata"]["Arn"]
        store = LocalStore(tmp_path / "store")
        sealed = vault.seal(store, [KmsKeyProvider(client, arn)], "rec-k", [AUDIO])
    finally:
        client.close()
    keys = tmp_path / "row.json"
    keys.write_text(json.dumps(sealed.to_json()))
    out = tmp_path / "out.wav"
    args = [
        "decrypt",
        str(store.path_for("rec-k")),
        "--keys",
        str(keys),
        "--kms",
        "--kms-endpoint",
        moto_server.endpoint_url,
        "-o",
        str(out),
    ]
    result = runner.invoke(recordings, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == AUDIO
