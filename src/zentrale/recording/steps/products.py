"""The products the standard steps leave for each other, and the facts files they keep.

Fetch leaves the `SOURCES` (Asterisk's files), transcode the `ANALYSIS` (duration, peaks,
flags: `AudioFacts`) and the `PLAINTEXT` (the encoded audio), encrypt the `SEALED` object and
its facts (`SealedFacts`), upload and verify the `UPLOADED` and `VERIFIED` object, commit the
`COMMITTED` row. A check looks only at what is at hand (files, the row): it is asked about a
product once the job has passed the step that made it, to find what a restart swept away.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zentrale.recording import audio
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.steps.base import Product, Tools, read_json, source_paths


@dataclass(frozen=True, slots=True)
class AudioFacts:
    """The transcode step's findings, kept beside the audio until committed."""

    duration_s: float | None
    peaks: str
    silent: bool
    corrupt: bool
    format: str
    parts: tuple[int, ...] = ()

    def waveform(self) -> bytes:
        """Return the peaks as bytes (one per 100 ms)."""
        return base64.b64decode(self.peaks)

    def extension(self, fmt: audio.StoredFormat) -> str:
        """Return the extension of the kept audio: the stored format's, or `received`."""
        return "received" if self.corrupt else fmt.extension


@dataclass(frozen=True, slots=True)
class SealedFacts:
    """The encrypt step's results, kept beside the ciphertext until committed."""

    sealed: dict[str, Any]
    sha256_plain: str
    sha256_cipher: str


def audio_facts(tools: Tools, recording: Recording) -> AudioFacts:
    """Return the transcode step's findings for the recording."""
    data = read_json(tools.workspace.analysis(recording.id))
    data["parts"] = tuple(data.get("parts", ()))
    return AudioFacts(**data)


def plaintext_path(tools: Tools, recording: Recording) -> Path:
    """Return where the transcoded (plaintext) audio is kept."""
    extension = audio_facts(tools, recording).extension(tools.config.format)
    return tools.workspace.audio(recording.id, extension)


def sealed_facts(tools: Tools, recording: Recording) -> SealedFacts:
    """Return the encrypt step's results for the recording."""
    return SealedFacts(**read_json(tools.workspace.sealed_meta(recording.id)))


def _sources_present(tools: Tools, recording: Recording) -> bool:
    return all(path.is_file() for path in source_paths(tools, recording))


def _analysis_present(tools: Tools, recording: Recording) -> bool:
    return tools.workspace.analysis(recording.id).is_file()


def _plaintext_present(tools: Tools, recording: Recording) -> bool:
    return _analysis_present(tools, recording) and plaintext_path(tools, recording).is_file()


def _sealed_present(tools: Tools, recording: Recording) -> bool:
    sealed_dir = tools.workspace.sealed_dir(recording.id)
    return _sealed_meta_present(tools, recording) and sealed_dir.is_dir()


def _sealed_meta_present(tools: Tools, recording: Recording) -> bool:
    return tools.workspace.sealed_meta(recording.id).is_file()


def _committed(tools: Tools, recording: Recording) -> bool:
    return recording.state == RecordingState.STORED


SOURCES = Product("sources", _sources_present)
"""Asterisk's file(s), `temp/<id>/source-N.wav`: plaintext."""
ANALYSIS = Product("analysis", _analysis_present)
"""`temp/<id>/analysis.json`: duration, peaks, silent, corrupt, stored format."""
PLAINTEXT = Product("plaintext", _plaintext_present)
"""The transcoded audio, `temp/<id>/audio.<ext>` (with its analysis)."""
SEALED = Product("sealed", _sealed_present)
"""The encrypted object in `temp/<id>/sealed/` and its facts in `sealed.json`."""
UPLOADED = Product("uploaded", _sealed_meta_present)
"""The sealed object in the store; its facts (`sealed.json`) say which sealing it is."""
VERIFIED = Product("verified", _sealed_meta_present)
"""The stored object checked against the sealed facts kept beside it."""
COMMITTED = Product("committed", _committed)
"""The recording row marked stored; steps up to its maker are skipped from then on."""
