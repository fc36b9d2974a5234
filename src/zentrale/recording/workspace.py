"""The pipeline's private temporary directory: one subdirectory per recording in progress.

Plaintext audio exists only here, and only while a job needs it: sources fetched from
Asterisk and the transcoded file are removed as soon as the ciphertext is sealed, when a step
fails, when a job ends, and at start-up (a sweep of everything, for a worker killed mid-step).
The directory is created 0700 and must belong to one daemon only: its sweep at start-up
removes whatever it finds. Ciphertext and the sealed metadata may stay between steps.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PLAINTEXT_PATTERNS = ("source-*", "audio.*", "*.part")


class Workspace:
    """Paths of the files the pipeline keeps per recording between steps."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the directory (0700), or make an existing one private, and sweep it."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if stat.S_IMODE(self.root.stat().st_mode) != 0o700:
            os.chmod(self.root, 0o700)
        self.sweep()

    def sweep(self) -> int:
        """Remove everything under the directory (never the directory: it may be a mount)."""
        removed = 0
        for entry in self.root.iterdir() if self.root.is_dir() else ():
            _remove(entry)
            removed += 1
        if removed:
            log.info("pipeline.temp_swept", entries=removed)
        return removed

    def job(self, recording_id: str) -> Path:
        """Return the recording's private directory, created if needed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.root / recording_id
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def source(self, recording_id: str, index: int) -> Path:
        """Return where source number INDEX (0: customer or mixed, 1: agent) is kept."""
        return self.job(recording_id) / f"source-{index}.wav"

    def audio(self, recording_id: str, extension: str) -> Path:
        """Return where the transcoded (plaintext) audio is kept."""
        return self.job(recording_id) / f"audio.{extension}"

    def analysis(self, recording_id: str) -> Path:
        """Return where the audio analysis (duration, peaks, flags) is kept."""
        return self.job(recording_id) / "analysis.json"

    def sealed_dir(self, recording_id: str) -> Path:
        """Return the directory holding the sealed (encrypted) object before upload."""
        return self.job(recording_id) / "sealed"

    def sealed_meta(self, recording_id: str) -> Path:
        """Return where the sealed object's metadata (sizes, hashes, wrapped keys) is kept."""
        return self.job(recording_id) / "sealed.json"

    def drop_plaintext(self, recording_id: str) -> None:
        """Remove the recording's plaintext audio (sources, transcoded file, partial files)."""
        path = self.root / recording_id
        for pattern in PLAINTEXT_PATTERNS:
            for found in path.glob(pattern) if path.is_dir() else ():
                found.unlink(missing_ok=True)

    def remove(self, recording_id: str) -> None:
        """Remove everything kept for the recording."""
        _remove(self.root / recording_id)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
