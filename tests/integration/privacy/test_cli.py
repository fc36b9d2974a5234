"""The `zentrale retention|hold|subject` commands, run as a real process on both databases."""

from __future__ import annotations

import asyncio
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from zentrale.db.session import Database
from zentrale.recording.keys.local import Keyring
from zentrale.recording.models import RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.testing.recordings import write_settings, zentrale_command

from .conftest import FakeClock, Maker, make_wav

NUMBER = "+905551112233"


def zentrale(config: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        zentrale_command(config, *args), capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.asyncio
async def test_retention_hold_and_subject_commands(
    db: Database,
    database_url: str,
    maker: Maker,
    store: LocalStore,
    keyring: Keyring,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    keyring_file = tmp_path / "keyring.json"
    keyring.save(keyring_file)
    rules = tmp_path / "retention.yaml"
    rules.write_text("default: 30d\n")
    config = write_settings(
        tmp_path / "zentrale.json",
        {
            "state_dir": str(tmp_path),
            "database": {"url": database_url},
            "storage": {"path": str(store.root)},
            "keys": {"recipients": [{"provider": "local", "keyring_file": str(keyring_file)}]},
            "retention": {"file": str(rules)},
        },
    )
    # Recordings made 40 days before now (the commands use the real clock).
    clock.now = clock.now.__class__.now(clock.now.tzinfo) - __import__("datetime").timedelta(
        days=40
    )
    old = await maker.recording(await maker.call("old", caller="+905550000009"))
    mine = await maker.recording(await maker.call("mine", caller=NUMBER))
    run = asyncio.to_thread

    bad = tmp_path / "bad.yaml"
    bad.write_text("default: 1y\nrules:\n  - name: a\n    when: {departmnt: x}\n    keep: 2y\n")
    code, out = await run(zentrale, config, "retention", "check", "--file", str(bad))
    assert code == 1
    assert f"{bad}:4:12: rules.0.when.departmnt: unknown field" in out
    code, out = await run(zentrale, config, "retention", "check")
    assert code == 0
    assert "default: keep 30 days" in out

    code, out = await run(
        zentrale, config, "hold", "add", "--number", NUMBER, "--reason", "court order 5"
    )
    assert code == 0, out
    hold_id = out.split()[1]
    code, out = await run(zentrale, config, "hold", "list")
    assert f"{hold_id}  number:+90555*****33  active" in out
    assert NUMBER not in out

    code, out = await run(zentrale, config, "retention", "run", "--dry-run")
    assert code == 0, out
    assert f"would destroy recording {old}" in out
    assert f"held recording {mine}" in out
    recordings = RecordingStore(db)
    assert (await recordings.get(old)).state is RecordingState.STORED
    code, out = await run(zentrale, config, "retention", "run")
    assert code == 0, out
    assert "2 destroyed, 0 due, 1 held, 0 failed" in out
    assert (await recordings.get(old)).state is RecordingState.DELETED

    zip_path = tmp_path / "subject.zip"
    code, out = await run(
        zentrale,
        config,
        "subject",
        "export",
        NUMBER,
        "--reason",
        "request 2026/17",
        "-o",
        str(zip_path),
    )
    assert code == 0, out
    with zipfile.ZipFile(zip_path) as archive:
        index = json.loads(archive.read("index.json"))
        assert archive.read(index["recordings"][0]["audio"]) == make_wav(1.0)

    code, out = await run(
        zentrale, config, "subject", "erase", NUMBER, "--reason", "request 17", "--yes"
    )
    assert code == 0, out
    first = json.JSONDecoder().raw_decode(out[out.index("{") :])[0]
    assert first["removed"] == []  # the number is on hold
    assert len(first["kept"]) == 2
    code, out = await run(zentrale, config, "hold", "release", hold_id, "--reason", "closed")
    assert code == 0, out
    receipt_file = tmp_path / "receipt.json"
    code, out = await run(
        zentrale,
        config,
        "subject",
        "erase",
        NUMBER,
        "--reason",
        "request 17",
        "--yes",
        "--receipt",
        str(receipt_file),
    )
    assert code == 0, out
    receipt = json.loads(receipt_file.read_text())
    assert ("recording", mine) in {(i["type"], i["id"]) for i in receipt["removed"]}
    assert NUMBER not in out
    assert (await recordings.get(mine)).state is RecordingState.DELETED
