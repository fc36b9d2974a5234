"""A conversation: a mixing bridge joining the caller and one party, recorded if the rules say.

By default the recording is a bridge recording (both sides mixed) named `<call id>-<n>`. With
`two_party`, each side is recorded on its own: a snoop channel spies on what the customer says
and another on what the agent says (`spy=in`), each recorded as `<call id>-<n>-caller` and
`<call id>-<n>-agent`; they are handed over as ONE recording named `<caller>+<agent>`, which
the pipeline fetches as two files and merges into stereo (customer left, agent right). Pauses
(a sensitive entry) pause every part and are kept as markers in seconds from the recording's
start: Asterisk leaves the paused stretch out of the file. Closing stops the recording(s),
waits for Asterisk's RecordingFinished and hands the recording to the journal, which queues it
for the pipeline in the same transaction as the call's timeline event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from zentrale.calls.models import EventKind
from zentrale.recording.store import FinishedRecording
from zentrale.telephony.ari import (
    AriBadRequestError,
    AriClient,
    AriError,
    AriNotFoundError,
    AriUnprocessableError,
    ChannelGoneError,
    Subscription,
)
from zentrale.telephony.ari.events import RecordingFailed, RecordingFinished, StasisStart
from zentrale.telephony.journal import Journal

log = structlog.get_logger(__name__)

RECORDING_FORMAT = "wav"
TWO_PARTY_SEPARATOR = "+"
SNOOP_ARGS = "snoop"
"""Stasis argument of our snoop channels: the call centre must leave them alone."""


def _ended(event: object) -> bool:
    return isinstance(event, RecordingFinished | RecordingFailed)


class WaitingRoom:
    """A bridge of the caller's own, playing music while they wait in a queue, their agent
    consults somebody, or a named agent is rung for them.

    Music started on the caller's channel (ARI channel MOH) right after their conversation's
    bridge was destroyed is not heard: measured on Asterisk 22, the caller heard RMS 0.0 through
    a whole consultation and in the queue after a blind transfer
    (tests/integration/flows/test_sip_consult_music.py). Bridge music is heard, as on hold
    (telephony/hold.py). The caller is taken out of the room (`leave`) before the flow goes
    on, into a conversation or another step, so they join the next bridge from none as a
    caller from the queue does. One room per call, destroyed when the call ends (`close`).
    """

    def __init__(self, ari: AriClient, call_id: str) -> None:
        self.ari = ari
        self.bridge_id = f"wait-{call_id}"
        self.created = False
        self.playing = False
        self.inside: str | None = None
        """The channel in the room (None: nobody, or they left for a conversation)."""

    async def enter(self, channel_id: str, music_class: str | None) -> None:
        """Put CHANNEL_ID in the room with MUSIC_CLASS playing; a caller gone raises
        ChannelGoneError, a failure of the music only costs the music (logged)."""
        if not self.created:
            await self.ari.bridges.create(self.bridge_id, kind="mixing")
            self.created = True
        try:
            await self.ari.bridges.add_channel(self.bridge_id, channel_id)
        except (AriBadRequestError, AriNotFoundError, AriUnprocessableError) as exc:
            raise ChannelGoneError(channel_id, f"gone before the waiting room: {exc}") from None
        self.inside = channel_id
        try:
            await self.ari.bridges.moh_start(self.bridge_id, music_class)
            self.playing = True
        except AriError as exc:
            log.warning("call.waiting_music_failed", bridge=self.bridge_id, error=str(exc))

    async def quiet(self) -> None:
        """Stop the music: the caller has left for a conversation."""
        self.inside = None
        if self.playing:
            self.playing = False
            with contextlib.suppress(AriError):
                await self.ari.bridges.moh_stop(self.bridge_id)

    async def leave(self) -> None:
        """Take the caller out of the room (if in it) and stop the music."""
        if self.inside is not None:
            with contextlib.suppress(AriError):
                await self.ari.bridges.remove_channel(self.bridge_id, self.inside)
        await self.quiet()

    async def close(self) -> None:
        """Destroy the room; safe to call twice."""
        if self.created:
            self.created = self.playing = False
            with contextlib.suppress(AriError):
                await self.ari.bridges.destroy(self.bridge_id)


class Conversation:
    """One bridge between the caller and a party, and its recording."""

    def __init__(
        self,
        ari: AriClient,
        journal: Journal,
        call_id: str,
        number: int,
        *,
        two_party: bool = False,
    ) -> None:
        self.ari = ari
        self.journal = journal
        self.call_id = call_id
        self.two_party = two_party
        self.bridge_id = f"conv-{call_id}-{number}"
        self.recording: str | None = None
        self._parts: list[str] = []
        self._events: list[Subscription] = []
        self._snoops: list[str] = []
        self._started = 0.0
        self._paused_at: float | None = None
        self._pausing = asyncio.Lock()
        """One pause or resume at a time (the API and the menus may ask at once)."""
        self.markers: list[tuple[float, float]] = []
        self._closed = False

    async def open(self, *channel_ids: str, record: bool, customer: str | None = None) -> None:
        """Create the bridge, add the channels, and start recording when RECORD.

        CUSTOMER (default: the first channel) is the left channel of a two-party recording.
        """
        await self.ari.bridges.create(self.bridge_id, kind="mixing")
        await self._add(channel_ids)
        if not record:
            return
        if self.two_party and len(channel_ids) == 2:
            left = customer or channel_ids[0]
            right = next(c for c in channel_ids if c != left)
            await self._record_parties(left, right)
        else:
            await self._record()

    async def _add(self, channel_ids: tuple[str, ...]) -> None:
        """Add the channels in one request; if one is gone, find out which one by one."""
        if len(channel_ids) > 1:
            with contextlib.suppress(AriBadRequestError, AriNotFoundError, AriUnprocessableError):
                # Asterisk adds all or none: a party gone makes the whole request fail.
                await self.ari.bridges.add_channels(self.bridge_id, channel_ids)
                return
        for channel_id in channel_ids:
            try:
                await self.ari.bridges.add_channel(self.bridge_id, channel_id)
            except (AriBadRequestError, AriNotFoundError, AriUnprocessableError) as exc:
                # Asterisk answers 400 "Channel not found" (or 404/422) for a party that hung
                # up a moment ago: for the flow that is the party leaving, not a failure.
                raise ChannelGoneError(channel_id, f"gone before the bridge: {exc}") from None

    async def adopt(self, channel_ids: list[str]) -> None:
        """Take over this conversation from a daemon that died: its bridge and recording.

        The bridge and the recording went on in Asterisk while no daemon ran. A recording still
        live is followed to its end (one file for the whole conversation); one that is gone is
        started again under a new name while both parties are still there, so the rest of the
        conversation is kept too.
        """
        base = self._name()
        parts = [f"{base}-caller", f"{base}-agent"] if self.two_party else [base]
        if all([await self._live(part) for part in parts]):
            if self.two_party:
                self._snoops = [f"snoop-{part}" for part in parts]
                keys = [f"channel:{snoop_id}" for snoop_id in self._snoops]
            else:
                keys = [f"bridge:{self.bridge_id}"]
            self._events = [self.ari.subscribe(key, _ended) for key in keys]
            self._adopted(TWO_PARTY_SEPARATOR.join(parts), parts)
            return
        if self.two_party:
            self._snoops = [f"snoop-{part}" for part in parts]
            await self._hang_up_snoops()
        if len(channel_ids) < 2:
            return  # the conversation is over: nothing more to record
        if self.two_party:
            await self._record_parties(channel_ids[0], channel_ids[1], f"{base}-resumed")
        else:
            await self._record(f"{base}-resumed")

    async def _live(self, name: str) -> bool:
        try:
            live = await self.ari.recordings.live(name)
        except AriError:
            return False
        return live.state in ("recording", "paused", "queued")

    def _adopted(self, name: str, parts: list[str]) -> None:
        self.recording, self._parts, self._started = name, parts, time.monotonic()
        log.info("recording.adopted", name=name)

    def _name(self) -> str:
        return f"{self.call_id}-{self.bridge_id.rsplit('-', 1)[-1]}"

    async def _record(self, name: str | None = None) -> None:
        name = name or self._name()
        self._events.append(self.ari.subscribe(f"bridge:{self.bridge_id}", _ended))
        await self.ari.bridges.record(self.bridge_id, name, fmt=RECORDING_FORMAT)
        self._started_recording(name, [name])

    async def _record_parties(self, customer: str, agent: str, base: str | None = None) -> None:
        base = base or self._name()
        parts = [f"{base}-caller", f"{base}-agent"]
        for name, channel_id in zip(parts, (customer, agent), strict=True):
            await self._record_party(name, channel_id)
        self._started_recording(TWO_PARTY_SEPARATOR.join(parts), parts)

    async def _record_party(self, name: str, channel_id: str) -> None:
        snoop_id = f"snoop-{name}"
        with self.ari.subscribe(f"channel:{snoop_id}", lambda e: isinstance(e, StasisStart)) as s:
            # The app args tell the call centre this channel is our snoop, not a call.
            await self.ari.channels.snoop(
                channel_id, self.ari.app, spy="in", snoop_id=snoop_id, app_args=SNOOP_ARGS
            )
            self._snoops.append(snoop_id)
            await s.get(5.0)  # recording needs the snoop channel inside Stasis
        self._events.append(self.ari.subscribe(f"channel:{snoop_id}", _ended))
        await self.ari.channels.record(snoop_id, name, fmt=RECORDING_FORMAT)

    def _started_recording(self, name: str, parts: list[str]) -> None:
        self.recording, self._parts, self._started = name, parts, time.monotonic()
        self.journal.event(self.call_id, EventKind.RECORDING_STARTED, {"name": name})

    @property
    def paused(self) -> bool:
        """Tell whether the recording is paused now."""
        return self._paused_at is not None

    async def pause(self) -> None:
        """Pause the recording (nothing of what follows is kept) and mark where; a part that
        cannot be paused unpauses the parts already paused and raises."""
        async with self._pausing:
            if self.recording is None or self._paused_at is not None:
                return
            paused: list[str] = []
            try:
                for part in self._parts:
                    await self.ari.recordings.pause(part)
                    paused.append(part)
            except Exception:
                await self._unpause(paused)
                raise
            self._paused_at = time.monotonic() - self._started
            self.journal.event(self.call_id, EventKind.RECORDING_PAUSED, {"at": self._paused_at})

    async def resume(self) -> None:
        """Resume a paused recording."""
        async with self._pausing:
            if self.recording is None or self._paused_at is None:
                return
            await self._unpause(self._parts)
            resumed = time.monotonic() - self._started
            self.markers.append((round(self._paused_at, 2), round(resumed, 2)))
            self._paused_at = None
            self.journal.event(self.call_id, EventKind.RECORDING_RESUMED, {"at": resumed})

    async def _unpause(self, parts: list[str]) -> None:
        for part in parts:
            with contextlib.suppress(AriError):
                await self.ari.recordings.unpause(part)

    async def close(self) -> None:
        """Stop the recording, hand it over once Asterisk says it finished, and destroy the
        bridge; a second call does nothing.

        The `stop` stays although destroying the bridge ends a bridge recording as well: on
        the sandbox Asterisk 22, the RecordingFinished of a recording ended that way reached
        the app for 10 of 12 bridges (docs/performance.md), and it is the sign that the file
        is complete.
        """
        if self._closed:
            return
        self._closed = True
        if self.recording is not None:
            await self._finish_recording(self.recording)
            self.recording = None
        await self._hang_up_snoops()
        with contextlib.suppress(AriError):
            await self.ari.bridges.destroy(self.bridge_id)

    async def _finish_recording(self, name: str) -> None:
        if self._paused_at is not None:
            await self.resume()
        for part in self._parts:
            with contextlib.suppress(AriError):
                await self.ari.recordings.stop(part)
        durations = [await self._finished_duration(events) for events in self._events]
        self._events = []
        known = [d for d in durations if d is not None]
        duration = max(known) if known else None
        self.journal.recording_finished(
            FinishedRecording(
                call_id=self.call_id,
                asterisk_name=name,
                format=RECORDING_FORMAT,
                duration_s=duration,
                pause_markers=tuple(self.markers),
            )
        )
        log.info("recording.finished", name=name, duration=duration, parts=len(self._parts))

    async def _hang_up_snoops(self) -> None:
        for snoop_id in self._snoops:
            with contextlib.suppress(AriError):
                await self.ari.channels.hangup(snoop_id)
        self._snoops = []

    async def _finished_duration(self, events: Subscription) -> float | None:
        with events:
            try:
                event = await events.get(10.0)
            except (TimeoutError, AriError):
                # Asterisk went away: hand the recording over anyway, the pipeline finds
                # out whether the file exists and keeps retrying until it can tell.
                return None
        if isinstance(event, RecordingFinished):
            return float(event.recording.duration) if event.recording.duration else None
        log.warning("recording.failed", call_id=self.call_id)
        return None
