"""The recording pipeline's steps, from Asterisk's file to a verified, encrypted object.

One job per recording walks `fetch -> transcode -> encrypt -> upload -> verify -> commit ->
delete_source -> cleanup -> done` (the step is in the job row). Every step can run again: each
one first makes sure what it needs is in the workspace and rebuilds it from the step before
when it is not (after a restart swept the temporary files, say), and writes only under fixed
names (temporary files, the object key `YYYY/MM/<recording id>`, the row). So a retried or
resumed step repeats its work instead of doubling it: a recording is stored exactly once.
Asterisk's copy is deleted only after the stored object is verified and committed. Audio that
does not decode is stored as received, encrypted, and flagged corrupt; it is never dropped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from zentrale.base.clock import Clock, utcnow
from zentrale.base.errors import ZentraleError
from zentrale.recording import audio, vault
from zentrale.recording.keys.base import KeyWrapper
from zentrale.recording.models import JobStep, Recording, RecordingState
from zentrale.recording.sources import RecordingSource
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore, StoredRecording, WrappedKey
from zentrale.recording.workspace import Workspace

log = structlog.get_logger(__name__)

TWO_PARTY_SEPARATOR = "+"
"""A two-party recording's Asterisk name is `<customer recording>+<agent recording>`."""

_READ_SIZE = 1024 * 1024
_BEFORE_STORED = frozenset(
    {
        JobStep.FETCH,
        JobStep.TRANSCODE,
        JobStep.ENCRYPT,
        JobStep.UPLOAD,
        JobStep.VERIFY,
        JobStep.COMMIT,
    }
)


class VerificationFailedError(ZentraleError):
    """The stored object is not the one sealed (size or SHA-256 differ)."""

    code = "verification-failed"


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the steps need from the settings."""

    format: audio.StoredFormat
    storage_backend: str
    delete_source: bool = True


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


@dataclass(frozen=True, slots=True)
class SealedFacts:
    """The encrypt step's results, kept beside the ciphertext until committed."""

    sealed: dict[str, Any]
    sha256_plain: str
    sha256_cipher: str


def source_names(recording: Recording) -> list[str]:
    """Return the Asterisk names of a recording's sources (two for a two-party recording)."""
    return recording.asterisk_name.split(TWO_PARTY_SEPARATOR)


def object_key(recording: Recording) -> str:
    """Return where the recording's object is stored: `YYYY/MM/<recording id>`."""
    return f"{recording.created_at:%Y/%m}/{recording.id}"


class Pipeline:
    """Runs one step of a recording's job; every step is safe to run again."""

    def __init__(
        self,
        recordings: RecordingStore,
        source: RecordingSource,
        store: ObjectStore,
        recipients: Sequence[KeyWrapper],
        workspace: Workspace,
        config: PipelineConfig,
        clock: Clock = utcnow,
    ) -> None:
        self.recordings = recordings
        self.source = source
        self.store = store
        self.recipients = recipients
        self.workspace = workspace
        self.config = config
        self._clock = clock
        self.on_stored: list[Callable[[Recording], None]] = []
        """Called with each recording once committed as stored (metrics: pipeline latency)."""
        self._steps: dict[JobStep, tuple[Callable[[Recording], Awaitable[None]], JobStep]] = {
            JobStep.FETCH: (self.fetch, JobStep.TRANSCODE),
            JobStep.TRANSCODE: (self.transcode, JobStep.ENCRYPT),
            JobStep.ENCRYPT: (self.encrypt, JobStep.UPLOAD),
            JobStep.UPLOAD: (self.upload, JobStep.VERIFY),
            JobStep.VERIFY: (self.verify, JobStep.COMMIT),
            JobStep.COMMIT: (self.commit, JobStep.DELETE_SOURCE),
            JobStep.DELETE_SOURCE: (self.delete_source, JobStep.CLEANUP),
            JobStep.CLEANUP: (self.cleanup, JobStep.DONE),
        }

    async def run(self, step: JobStep, recording_id: str) -> JobStep:
        """Do STEP for the recording and return the step that follows."""
        action, following = self._steps[step]
        recording = await self.recordings.get(recording_id)
        if recording.state == RecordingState.STORED and step in _BEFORE_STORED:
            return following  # committed by an earlier run that died before recording it
        try:
            await action(recording)
        except BaseException:
            self.workspace.drop_plaintext(recording_id)
            raise
        return following

    def discard(self, recording_id: str) -> None:
        """Remove every temporary file of a recording (its job ended or was parked)."""
        self.workspace.remove(recording_id)

    # -- steps ------------------------------------------------------------------------------
    async def fetch(self, recording: Recording) -> None:
        """Fetch the source file(s) from Asterisk into the workspace."""
        for index, name in enumerate(source_names(recording)):
            target = self.workspace.source(recording.id, index)
            size = await self.source.fetch(name, target)
            log.debug("pipeline.fetched", recording_id=recording.id, name=name, size=size)

    async def transcode(self, recording: Recording) -> None:
        """Decode, merge, analyse and encode the audio (or keep it as received if corrupt)."""
        sources = await self._sources(recording)
        target = self.workspace.audio(recording.id, self.config.format.extension)
        facts = await asyncio.to_thread(_transcode, sources, self.config.format, target)
        if facts.corrupt:
            log.warning("pipeline.corrupt_audio", recording_id=recording.id)
        _write_json(self.workspace.analysis(recording.id), asdict(facts))

    async def encrypt(self, recording: Recording) -> None:
        """Seal the audio into a local encrypted object, then drop the plaintext."""
        audio_file, facts = await self._audio(recording)
        sealed_dir = self.workspace.sealed_dir(recording.id)
        key = object_key(recording)
        sealed = await asyncio.to_thread(
            _seal, LocalStore(sealed_dir), self.recipients, recording.id, audio_file, key
        )
        _write_json(self.workspace.sealed_meta(recording.id), asdict(sealed))
        self.workspace.drop_plaintext(recording.id)
        log.debug("pipeline.encrypted", recording_id=recording.id, corrupt=facts.corrupt)

    async def upload(self, recording: Recording) -> None:
        """Put the sealed object into the store (replacing an earlier attempt's)."""
        sealed = await self._sealed(recording)
        local = LocalStore(self.workspace.sealed_dir(recording.id))
        key = sealed.sealed["object_key"]
        size = await asyncio.to_thread(self.store.put, key, local.get(key))
        log.info("pipeline.uploaded", recording_id=recording.id, object_key=key, size=size)

    async def verify(self, recording: Recording) -> None:
        """Check the stored object's size and SHA-256 against what was sealed."""
        if not self.workspace.sealed_meta(recording.id).is_file():
            await self.upload(recording)  # the sealed facts are gone: seal and upload again
        sealed = await self._sealed(recording)
        await asyncio.to_thread(_verify_stored, self.store, sealed)

    async def commit(self, recording: Recording) -> None:
        """Write the stored object's metadata and wrapped keys into the recording row."""
        if not self.workspace.sealed_meta(recording.id).is_file():
            await self.verify(recording)
        sealed = await self._sealed(recording)
        facts = _read_facts(self.workspace.analysis(recording.id))
        await self.recordings.mark_stored(recording.id, self._stored(sealed, facts))
        if facts.corrupt:
            await self.recordings.mark_corrupt(recording.id)
        for observe in self.on_stored:
            observe(recording)
        log.info(
            "pipeline.stored",
            recording_id=recording.id,
            silent=facts.silent,
            corrupt=facts.corrupt,
            duration_s=facts.duration_s,
        )

    async def delete_source(self, recording: Recording) -> None:
        """Delete Asterisk's copy (only reached once the object is verified and committed)."""
        if not self.config.delete_source:
            return
        for name in source_names(recording):
            await self.source.delete(name)

    async def cleanup(self, recording: Recording) -> None:
        """Remove the recording's temporary files."""
        self.workspace.remove(recording.id)

    # -- inputs, rebuilt when missing --------------------------------------------------------
    async def _sources(self, recording: Recording) -> list[Path]:
        names = source_names(recording)
        paths = [self.workspace.source(recording.id, i) for i in range(len(names))]
        if not all(path.is_file() for path in paths):
            await self.fetch(recording)
        return paths

    async def _audio(self, recording: Recording) -> tuple[Path, AudioFacts]:
        analysis = self.workspace.analysis(recording.id)
        if analysis.is_file():
            facts = _read_facts(analysis)
            path = self.workspace.audio(recording.id, _extension(facts, self.config.format))
            if path.is_file():
                return path, facts
        await self.transcode(recording)
        facts = _read_facts(analysis)
        return self.workspace.audio(recording.id, _extension(facts, self.config.format)), facts

    async def _sealed(self, recording: Recording) -> SealedFacts:
        meta = self.workspace.sealed_meta(recording.id)
        sealed_dir = self.workspace.sealed_dir(recording.id)
        if not (meta.is_file() and sealed_dir.is_dir()):
            await self.encrypt(recording)
        return SealedFacts(**json.loads(meta.read_text()))

    def _stored(self, sealed: SealedFacts, facts: AudioFacts) -> StoredRecording:
        row = vault.SealedRecording.from_json(sealed.sealed)
        keys = [
            WrappedKey(k["key_id"], k["provider"], k["wrapped"])
            for k in sealed.sealed["wrapped_keys"]
        ]
        header = {"format_version": row.format_version, "segment_size": row.segment_size}
        return StoredRecording(
            plaintext_size=row.plaintext_size,
            object_size=row.object_size,
            sha256_plain=sealed.sha256_plain,
            sha256_cipher=sealed.sha256_cipher,
            storage_backend=self.config.storage_backend,
            object_key=row.object_key,
            wrapped_keys=keys,
            encryption_header=header,
            stored_at=self._clock(),
            duration_s=facts.duration_s,
            waveform=facts.waveform() or None,
            silent=facts.silent,
            format=facts.format,
        )


# -- blocking work (run in a thread) ---------------------------------------------------------
def _transcode(sources: Sequence[Path], fmt: audio.StoredFormat, target: Path) -> AudioFacts:
    try:
        segment = audio.load(sources)
        found = audio.analyse(segment)
        audio.encode(segment, fmt, target)
    except audio.AudioError:
        return _as_received(sources, target.with_name("audio.received"))
    peaks = base64.b64encode(found.peaks).decode()
    return AudioFacts(found.duration_s, peaks, found.silent, False, fmt.name)


def _as_received(sources: Sequence[Path], target: Path) -> AudioFacts:
    """Keep the received bytes (sources concatenated, sizes in `parts`) to store them as-is."""
    parts = []
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        for source in sources:
            data = source.read_bytes()
            out.write(data)
            parts.append(len(data))
    partial.replace(target)
    return AudioFacts(None, "", False, True, "received", tuple(parts))


def _extension(facts: AudioFacts, fmt: audio.StoredFormat) -> str:
    return "received" if facts.corrupt else fmt.extension


def _seal(
    local: LocalStore, recipients: Sequence[KeyWrapper], recording_id: str, path: Path, key: str
) -> SealedFacts:
    plain = hashlib.sha256()
    with path.open("rb") as file:
        sealed = vault.seal(
            local, recipients, recording_id, _hashed(_chunks(file), plain), object_key=key
        )
    cipher = hashlib.sha256()
    for chunk in local.get(key):
        cipher.update(chunk)
    return SealedFacts(sealed.to_json(), plain.hexdigest(), cipher.hexdigest())


def _verify_stored(store: ObjectStore, sealed: SealedFacts) -> None:
    key, expected_size = sealed.sealed["object_key"], sealed.sealed["object_size"]
    size = store.head(key).size
    digest = hashlib.sha256()
    for chunk in store.get(key):
        digest.update(chunk)
    if size != expected_size or digest.hexdigest() != sealed.sha256_cipher:
        raise VerificationFailedError(f"stored object {key} differs from the sealed one")


def _chunks(file: Any) -> Iterator[bytes]:
    while chunk := file.read(_READ_SIZE):
        yield chunk


def _hashed(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def _read_facts(path: Path) -> AudioFacts:
    data = json.loads(path.read_text())
    data["parts"] = tuple(data.get("parts", ()))
    return AudioFacts(**data)
