"""Helpers for recording-pipeline tests and benchmarks: audio files, queued jobs, checks.

Make WAV files like Asterisk's (16-bit, 8 kHz, mono), queue them as finished recordings of a
call in a real database, write a settings file for a worker subprocess, decrypt what the
pipeline stored, and scan directories for plaintext audio left behind.
"""

from __future__ import annotations

import array
import datetime as dt
import io
import json
import math
import sys
import uuid
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, NewCall
from zentrale.db.session import Database
from zentrale.recording import vault
from zentrale.recording.bell import JobBell
from zentrale.recording.keys.base import KeyUnwrapper, wrapped_keys_from_json
from zentrale.recording.models import Recording
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.store import FinishedRecording, Queued, RecordingStore

AUDIO_MAGIC = (b"RIFF", b"OggS", b"ID3", b"fLaC", b"\xff\xfb", b"\xff\xf3")
RATE = 8000


def speech_like(seconds: float, amplitude: int = 8000, rate: int = RATE) -> bytes:
    """Return 16-bit mono samples: a 300 Hz tone whose level swells 3 times a second."""
    count = int(seconds * rate)
    samples = array.array("h", bytes(2 * count))
    for i in range(count):
        t = i / rate
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * 3 * t)
        samples[i] = int(amplitude * envelope * math.sin(2 * math.pi * 300 * t))
    return samples.tobytes()


def tone_wav(seconds: float, freq: float = 440.0, rate: int = RATE) -> bytes:
    """Return a whole mono 16-bit WAV file holding a sine tone of FREQ Hz."""
    count = int(seconds * rate)
    samples = array.array("h", bytes(2 * count))
    for i in range(count):
        samples[i] = int(12000 * math.sin(2 * math.pi * freq * i / rate))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def write_wav(path: Path, seconds: float, amplitude: int = 8000) -> Path:
    """Write a WAV like Asterisk's (silence when AMPLITUDE is 0)."""
    data = speech_like(seconds, amplitude) if amplitude else bytes(2 * int(seconds * RATE))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(data)
    return path


async def queue_recordings(
    db: Database,
    names: Sequence[str],
    call_id: str | None = None,
    fmt: str = "wav",
    bell: JobBell | None = None,
) -> list[Queued]:
    """Create one call and a finished recording (with its pipeline job) per Asterisk name
    (ringing BELL for each job, as the daemon's journal does)."""
    call_id = call_id or f"call-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.UTC)
    await CallStore(db).create(NewCall(id=call_id, direction=Direction.INBOUND, arrived_at=now))
    store = RecordingStore(db, bell=bell)
    return [await store.recording_finished(FinishedRecording(call_id, n, fmt)) for n in names]


def decrypt(store: ObjectStore, row: Recording, unwrappers: Sequence[KeyUnwrapper]) -> bytes:
    """Return the plaintext of a stored recording, authenticated."""
    assert row.object_key is not None
    assert row.object_size is not None
    sealed = vault.SealedRecording(
        recording_id=row.id,
        object_key=row.object_key,
        object_size=row.object_size,
        plaintext_size=row.plaintext_size or 0,
        format_version=1,
        segment_size=int((row.encryption_header or {}).get("segment_size", 65536)),
        wrapped_keys=tuple(wrapped_keys_from_json(row.wrapped_keys)),
    )
    return b"".join(vault.read(store, sealed, unwrappers))


def plaintext_audio(roots: Iterable[Path]) -> list[Path]:
    """Return every file under ROOTS that starts like an audio file (WAV, Ogg, MP3, FLAC)."""
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file() and not path.is_symlink() and _starts_like_audio(path):
                found.append(path)
    return found


def write_settings(path: Path, settings: dict[str, Any]) -> Path:
    """Write a settings file (JSON is YAML) for a `zentrale` subprocess."""
    path.write_text(json.dumps(settings, default=str, indent=2))
    return path


def zentrale_command(config: Path, *args: str) -> list[str]:
    """Return the command line running `zentrale --config CONFIG ARGS...` with this Python."""
    code = "from zentrale.cli import main; main()"
    return [sys.executable, "-c", code, "--config", str(config), "--log-format", "json", *args]


def _starts_like_audio(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return head.startswith(AUDIO_MAGIC)
