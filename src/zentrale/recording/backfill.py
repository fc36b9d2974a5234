"""Conversation figures for recordings stored before the pipeline's `talk` step existed.

`zentrale recordings analyse` finds the stored recordings without figures (`talk_customer_s`
NULL, state `stored`, not corrupt), decrypts each one in memory (`playback.open_plaintext`,
the same path as playback; no plaintext is written anywhere), decodes the stored audio with
pydub from the bytes (ffmpeg reads a pipe and writes a pipe), splits a stereo recording into
customer (left) and agent (right), works out the figures (`talk.conversation`) and keeps them
with `RecordingStore.set_talk`. One recording failing (key missing, object missing, audio not
decoding) is reported and the others go on.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select

from zentrale.base.errors import ZentraleError
from zentrale.db.session import Database
from zentrale.recording import talk
from zentrale.recording.audio import CorruptAudioError
from zentrale.recording.errors import RecordingNotFoundError
from zentrale.recording.keys.base import KeyUnwrapper
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.playback import open_plaintext, sealed_of
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.store import RecordingStore

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    from pydub import AudioSegment  # type: ignore[import-untyped]
    from pydub.exceptions import CouldntDecodeError  # type: ignore[import-untyped]

RATE = 8000
"""The figures are worked out at 8 kHz, as the pipeline's `talk` step does."""
DEMUXERS = {"opus": "ogg", "ogg": "ogg", "mp3": "mp3", "wav": "wav"}
Status = Literal["analysed", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one recording: analysed, skipped (and why) or failed (and why)."""

    recording_id: str
    status: Status
    reason: str = ""
    figures: talk.TalkFigures | None = None


@dataclass
class BackfillReport:
    """The outcome of every recording a run looked at, in order."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """Return how many recordings ended with STATUS."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> list[Outcome]:
        """The recordings that could not be analysed."""
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


async def pending(db: Database) -> list[str]:
    """Return the ids of stored, decodable recordings without figures, oldest first."""
    query = (
        select(Recording.id)
        .where(
            Recording.state == RecordingState.STORED,
            Recording.corrupt.is_(False),
            Recording.talk_customer_s.is_(None),
        )
        .order_by(Recording.created_at, Recording.id)
    )
    async with db.read() as session:
        return list(await session.scalars(query))


@dataclass
class Backfill:
    """Analyses stored recordings one after the other with the keys at hand."""

    recordings: RecordingStore
    store: ObjectStore
    unwrappers: Sequence[KeyUnwrapper]

    async def run(self, recording_ids: Iterable[str]) -> BackfillReport:
        """Analyse each recording; a failure is reported and the next one goes on."""
        report = BackfillReport()
        for recording_id in recording_ids:
            report.outcomes.append(await self.one(recording_id))
        return report

    async def one(self, recording_id: str) -> Outcome:
        """Analyse one recording unless it has figures or cannot have any."""
        try:
            recording = await self.recordings.get(recording_id)
        except RecordingNotFoundError as exc:
            return Outcome(recording_id, "failed", exc.message)
        why = skip_reason(recording)
        if why is not None:
            return Outcome(recording_id, "skipped", why)
        try:
            figures = await self._figures(recording)
        except ZentraleError as exc:
            return Outcome(recording_id, "failed", f"{exc.code}: {exc.message}")
        await self.recordings.set_talk(recording_id, figures)
        return Outcome(recording_id, "analysed", figures=figures)

    async def _figures(self, recording: Recording) -> talk.TalkFigures:
        chunks = await open_plaintext(self.store, self.unwrappers, sealed_of(recording), None)
        # Decryption (authenticated segment by segment), decoding and analysis block: a thread.
        return await asyncio.to_thread(lambda: figures_of_audio(b"".join(chunks), recording.format))


def skip_reason(recording: Recording) -> str | None:
    """Return why RECORDING is not analysed (None: it is due)."""
    if recording.talk_customer_s is not None:
        return "already analysed"
    if recording.state is not RecordingState.STORED:
        return f"not stored ({recording.state.value})"
    if recording.corrupt:
        return "stored as received (corrupt audio)"
    return None


def figures_of_audio(data: bytes, fmt: str) -> talk.TalkFigures:
    """Return the figures of one stored audio file (stereo: customer left, agent right)."""
    segment = decode_bytes(data, fmt)
    pcm = bytes(segment.raw_data)
    if segment.channels == 1:
        return talk.conversation(pcm, None, RATE)
    customer, agent = talk.stereo_channels(pcm)
    return talk.conversation(customer, agent, RATE)


def decode_bytes(data: bytes, fmt: str) -> AudioSegment:
    """Decode audio held in memory to 8 kHz 16-bit PCM, or raise CorruptAudioError."""
    demuxer = DEMUXERS.get(fmt)
    if demuxer is None:
        raise CorruptAudioError(f"stored format {fmt!r} is not audio this command decodes")
    try:
        # From a file object pydub pipes the bytes into ffmpeg and reads PCM back (WAV: no
        # ffmpeg at all); `from_file_using_temporary_files` is the one that writes files.
        segment = AudioSegment.from_file(io.BytesIO(data), format=demuxer)
    except (CouldntDecodeError, ValueError, IndexError, OSError, EOFError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CorruptAudioError(f"the stored {fmt} audio does not decode: {first}") from None
    if segment.channels > 2:
        raise CorruptAudioError(f"the stored audio has {segment.channels} channels, not 1 or 2")
    return segment.set_sample_width(talk.SAMPLE_WIDTH).set_frame_rate(RATE)
