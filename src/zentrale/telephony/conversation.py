"""A conversation: a mixing bridge joining the caller and one party, recorded if the rules say.

The recording is a bridge recording (both sides mixed) named after the call. Pauses (a
sensitive entry) are kept as markers in seconds from the recording's start. Closing stops the
recording, waits for Asterisk's RecordingFinished and hands the recording to the journal, which
queues it for the pipeline in the same transaction as the call's timeline event.
"""

from __future__ import annotations

import contextlib
import time

import structlog

from zentrale.db.models import EventKind
from zentrale.db.recordings import FinishedRecording
from zentrale.telephony.ari import AriClient, AriError, Subscription
from zentrale.telephony.ari.events import RecordingFailed, RecordingFinished
from zentrale.telephony.journal import Journal

log = structlog.get_logger(__name__)

RECORDING_FORMAT = "wav"


class Conversation:
    """One bridge between the caller and a party, and its recording."""

    def __init__(self, ari: AriClient, journal: Journal, call_id: str, number: int) -> None:
        self.ari = ari
        self.journal = journal
        self.call_id = call_id
        self.bridge_id = f"conv-{call_id}-{number}"
        self.recording: str | None = None
        self._events: Subscription | None = None
        self._started = 0.0
        self._paused_at: float | None = None
        self.markers: list[tuple[float, float]] = []

    async def open(self, *channel_ids: str, record: bool) -> None:
        """Create the bridge, add the channels, and start recording when RECORD."""
        await self.ari.bridges.create(self.bridge_id, kind="mixing")
        for channel_id in channel_ids:
            await self.ari.bridges.add_channel(self.bridge_id, channel_id)
        if record:
            await self._record()

    async def _record(self) -> None:
        name = f"{self.call_id}-{self.bridge_id.rsplit('-', 1)[-1]}"
        self._events = self.ari.subscribe(
            f"bridge:{self.bridge_id}",
            lambda event: isinstance(event, RecordingFinished | RecordingFailed),
        )
        await self.ari.bridges.record(self.bridge_id, name, fmt=RECORDING_FORMAT)
        self.recording, self._started = name, time.monotonic()
        self.journal.event(self.call_id, EventKind.RECORDING_STARTED, {"name": name})

    async def pause(self) -> None:
        """Pause the recording (nothing of what follows is kept) and mark where."""
        if self.recording is None or self._paused_at is not None:
            return
        await self.ari.recordings.pause(self.recording)
        self._paused_at = time.monotonic() - self._started
        self.journal.event(self.call_id, EventKind.RECORDING_PAUSED, {"at": self._paused_at})

    async def resume(self) -> None:
        """Resume a paused recording."""
        if self.recording is None or self._paused_at is None:
            return
        with contextlib.suppress(AriError):
            await self.ari.recordings.unpause(self.recording)
        resumed = time.monotonic() - self._started
        self.markers.append((round(self._paused_at, 2), round(resumed, 2)))
        self._paused_at = None
        self.journal.event(self.call_id, EventKind.RECORDING_RESUMED, {"at": resumed})

    async def close(self) -> None:
        """Stop the recording, hand it over, and destroy the bridge; safe to call twice."""
        if self.recording is not None:
            await self._finish_recording(self.recording)
            self.recording = None
        with contextlib.suppress(AriError):
            await self.ari.bridges.destroy(self.bridge_id)

    async def _finish_recording(self, name: str) -> None:
        if self._paused_at is not None:
            await self.resume()
        with contextlib.suppress(AriError):
            await self.ari.recordings.stop(name)
        duration = await self._finished_duration()
        self.journal.recording_finished(
            FinishedRecording(self.call_id, name, RECORDING_FORMAT, duration, tuple(self.markers))
        )
        log.info("recording.finished", name=name, duration=duration)

    async def _finished_duration(self) -> float | None:
        assert self._events is not None
        with self._events:
            try:
                event = await self._events.get(10.0)
            except (TimeoutError, AriError):
                # Asterisk went away: hand the recording over anyway, the pipeline finds
                # out whether the file exists and keeps retrying until it can tell.
                return None
        if isinstance(event, RecordingFinished):
            return float(event.recording.duration) if event.recording.duration else None
        log.warning("recording.failed", call_id=self.call_id)
        return None
