"""`zentrale recordings analyse`: conversation figures for recordings stored before the `talk`
step, from real encrypted recordings, run as a real process on SQLite and PostgreSQL.

A two-party stereo recording (customer left, agent right) holds tones at scripted times with
line noise and 30 dB crosstalk, encoded as the pipeline stores it (opus, mp3, wav) and sealed
into a local store. The command decrypts it in memory, and the figures it writes must match
the script: talk per party, dead air and overtalk within 2 %, every boundary within 100 ms.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import math
import random
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from zentrale.calls.store import CallStore
from zentrale.core.models import AuditEntry
from zentrale.db.session import Database
from zentrale.recording import audio, talk, vault
from zentrale.recording.keys.base import KeyWrapper
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity, PublicKeyRecipient
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import (
    FinishedRecording,
    RecordingStore,
    StoredRecording,
    WrappedKey,
)
from zentrale.testing.recordings import write_settings, zentrale_command

from .conftest import FakeClock, inbound

RATE = 8000
AMPLITUDE = 3000  # about -20 dBFS
DURATION = 18.0
# (start, seconds) of each party's speech: the truth the figures are checked against.
CUSTOMER = [(1.0, 3.0), (10.0, 2.0), (15.0, 1.5)]
AGENT = [(3.5, 4.0), (13.0, 2.5)]
TRUTH = {
    "talk_customer_s": 6.5,
    "talk_agent_s": 6.5,
    "dead_air_s": 2.5,  # 7.5 to 10.0: neither speaks
    "longest_dead_air_s": 2.5,
    "overtalk_s": 1.0,  # 3.5 to 4.0 and 15.0 to 15.5
    "agent_talk_ratio": 0.5,
}
BOUNDARY_S = 0.1


def channel(parts: list[tuple[float, float]], hz: float, seed: int) -> list[float]:
    """Line noise for DURATION seconds with a tone of HZ in each (start, seconds) part."""
    rng = random.Random(seed)
    samples = [rng.uniform(-20, 20) for _ in range(int(DURATION * RATE))]
    for start, seconds in parts:
        first = int(start * RATE)
        for i in range(int(seconds * RATE)):
            samples[first + i] += AMPLITUDE * math.sin(2 * math.pi * hz * i / RATE)
    return samples


def pcm(own: list[float], other: list[float]) -> bytes:
    """16-bit PCM of OWN with OTHER mixed in 30 dB down (a clean line's crosstalk)."""
    mixed = [a + b * 10 ** (-30 / 20) for a, b in zip(own, other, strict=True)]
    return array.array("h", [max(-32768, min(32767, round(x))) for x in mixed]).tobytes()


def stored_audio(fmt: str, tmp_path: Path) -> bytes:
    """The scripted conversation as the pipeline stores it: stereo, in FORMAT."""
    customer, agent = channel(CUSTOMER, 440, 1), channel(AGENT, 620, 2)
    left, right = (
        audio.AudioSegment(data=pcm(a, b), sample_width=2, frame_rate=RATE, channels=1)
        for a, b in ((customer, agent), (agent, customer))
    )
    target = tmp_path / f"script.{audio.FORMATS[fmt].extension}"
    audio.encode(audio.merge_stereo(left, right), audio.FORMATS[fmt], target)
    data = target.read_bytes()
    target.unlink()
    return data


async def store_recording(
    db: Database,
    clock: FakeClock,
    store: LocalStore,
    recipients: list[KeyWrapper],
    call_id: str,
    fmt: str,
    data: bytes,
) -> str:
    """Make a call with a stored recording of DATA sealed to RECIPIENTS; return its id."""
    await CallStore(db, clock).create(inbound(call_id))
    recordings = RecordingStore(db, clock)
    finished = FinishedRecording(call_id=call_id, asterisk_name=f"{call_id}-1", format=fmt)
    queued = await recordings.recording_finished(finished)
    rid = queued.recording_id
    sealed = vault.seal(store, recipients, rid, [data], object_key=f"2026/03/{rid}")
    keys = sealed.to_json()["wrapped_keys"]
    await recordings.mark_stored(
        rid,
        StoredRecording(
            plaintext_size=sealed.plaintext_size,
            object_size=sealed.object_size,
            sha256_plain=hashlib.sha256(data).hexdigest(),
            sha256_cipher=hashlib.sha256(b"".join(store.get(sealed.object_key))).hexdigest(),
            storage_backend="local",
            object_key=sealed.object_key,
            wrapped_keys=[WrappedKey(k["key_id"], k["provider"], k["wrapped"]) for k in keys],
            encryption_header={"format_version": 1, "segment_size": sealed.segment_size},
            stored_at=clock.now,
            duration_s=DURATION,
            waveform=b"\x00",
            format=fmt,
        ),
    )
    return rid


def zentrale(config: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        zentrale_command(config, *args), capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, done.stdout + done.stderr


def spans(segments: list[list[object]], party: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for p, a, b in segments if p == party]  # type: ignore[arg-type]


def truth(script: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(a, a + s) for a, s in script]


def assert_matches_script(row: object) -> None:
    for column, expected in TRUTH.items():
        found = getattr(row, column)
        assert abs(found - expected) <= 0.02 * expected, (column, found, expected)
    assert row.overtalk_count == 2  # type: ignore[attr-defined]
    segments = row.talk_segments["segments"]  # type: ignore[attr-defined]
    for party, script in (("customer", CUSTOMER), ("agent", AGENT)):
        found = spans(segments, party)
        assert len(found) == len(script), (party, found)
        for (a, b), (c, d) in zip(found, truth(script), strict=True):
            assert abs(a - c) <= BOUNDARY_S, (party, found)
            assert abs(b - d) <= BOUNDARY_S, (party, found)


@pytest.mark.asyncio
async def test_analyse_backfills_stored_recordings(
    db: Database, database_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "objects")
    keyring = Keyring.generate("test")
    keyring_file = tmp_path / "keyring.json"
    keyring.save(keyring_file)
    lost = PrivateKeyIdentity.generate()  # its private key is not configured
    lost_file = tmp_path / "lost.key.pem"
    lost_file.write_bytes(lost.private_pem())
    ours: list[KeyWrapper] = [LocalKeyProvider(keyring)]
    theirs: list[KeyWrapper] = [PublicKeyRecipient.from_pem(lost.public_pem())]
    made = {
        fmt: await store_recording(
            db, clock, store, ours, f"c-{fmt}", fmt, stored_audio(fmt, tmp_path)
        )
        for fmt in ("opus", "mp3", "wav")
    }
    opus = stored_audio("opus", tmp_path)
    keyless = await store_recording(db, clock, store, theirs, "c-keyless", "opus", opus)
    done = await store_recording(db, clock, store, ours, "c-done", "opus", opus)
    analysed_before = talk.conversation(b"\x00" * 1600, b"\x00" * 1600, RATE)
    await RecordingStore(db, clock).set_talk(done, analysed_before)
    config = write_settings(
        tmp_path / "zentrale.json",
        {
            "state_dir": str(tmp_path),
            "database": {"url": database_url},
            "storage": {"path": str(store.root)},
            "keys": {"recipients": [{"provider": "local", "keyring_file": str(keyring_file)}]},
        },
    )

    code, out = await asyncio.to_thread(zentrale, config, "recordings", "analyse", "--all")

    assert code == 1, out
    assert "analysed 3, skipped 0, failed 1" in out
    assert f"failed {keyless}: recording-unavailable: no key at hand opens" in out
    recordings = RecordingStore(db, clock)
    for rid in made.values():
        assert_matches_script(await recordings.get(rid))
    assert (await recordings.get(keyless)).talk_segments is None
    assert (await recordings.get(done)).talk_customer_s == 0.0  # left alone

    # Named ones: an analysed recording is skipped; the missing key given: the rest is done.
    code, out = await asyncio.to_thread(
        zentrale, config, "recordings", "analyse", done, keyless, "--identity", str(lost_file)
    )
    assert code == 0, out
    assert f"skipped {done}: already analysed" in out
    assert "analysed 1, skipped 1, failed 0" in out
    assert_matches_script(await recordings.get(keyless))

    code, out = await asyncio.to_thread(zentrale, config, "recordings", "analyse", "--all")
    assert code == 0
    assert "analysed 0, skipped 0, failed 0" in out
    code, out = await asyncio.to_thread(zentrale, config, "recordings", "analyse")
    assert code == 2
    assert "give --all or recording ids" in out

    async with db.read() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "recordings.analyse")
                .order_by(AuditEntry.seq)
            )
        )
    assert [(e.detail["analysed"], e.detail["failed"]) for e in entries] == [(3, 1), (1, 0), (0, 0)]
    assert entries[1].detail["ids"] == [done, keyless]
