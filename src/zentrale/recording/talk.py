"""Conversation figures from the two channels: who spoke when, dead air, overtalk, monologues.

zentrale records each party in its own channel (customer left, agent right), so who spoke
when needs no speech model: a documented energy detector per channel is enough.

- Each channel is cut into 20 ms frames; a frame is voiced when its RMS is above both an
  absolute floor (`VOICE_RMS`, about -41 dBFS, the level below which the pipeline already
  calls a recording silent) and four times the channel's own noise floor (its 10th-percentile
  frame), so line hiss and the other party's echo (30 dB down on a clean line) stay unvoiced.
- Voiced frames become speech segments: pauses shorter than `MERGE_GAP_S` (between words)
  are bridged, and segments shorter than `MIN_SPEECH_S` (clicks, key tones) dropped.
- Dead air is a stretch of at least `DEAD_AIR_S` in which neither party speaks, between the
  first and the last speech of the call. Overtalk is both parties speaking at once for at least
  `MIN_OVERTALK_S`. A monologue is one party's run of speech that the other does not
  interrupt, with no pause of `DEAD_AIR_S` or more inside it.

Pure functions of the PCM samples (16-bit little endian): the pipeline runs them on the
plaintext before it is encrypted, and keeps only the figures and segment times, never audio.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

with warnings.catch_warnings():
    # The stdlib's audioop (pydub's own dependency) warns at import on Python 3.11+.
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    import audioop

FRAME_S = 0.02
VOICE_RMS = 300
NOISE_FACTOR = 4.0
MERGE_GAP_S = 0.3
MIN_SPEECH_S = 0.1
DEAD_AIR_S = 2.0
MIN_OVERTALK_S = 0.2
SAMPLE_WIDTH = 2

Party = Literal["customer", "agent", "mixed"]
Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Segment:
    """One party speaking from START to END seconds into the recording."""

    party: Party
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """Return the segment's length."""
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class TalkFigures:
    """What QA staff see of a conversation, computed from the two channels."""

    duration_s: float
    parties: int
    """2 when each party had its own channel; 1 for one mixed channel (no ratio, no overtalk)."""
    customer_talk_s: float
    agent_talk_s: float
    silence_s: float
    longest_silence_s: float
    overtalk_s: float
    overtalk_count: int
    longest_monologue_s: float
    longest_monologue_party: Party | None
    agent_talk_ratio: float | None
    segments: tuple[Segment, ...]
    silences: tuple[Span, ...]
    overtalks: tuple[Span, ...]

    def as_json(self) -> dict[str, object]:
        """Return the figures and segment times as JSON-ready data (no audio)."""
        return {
            "segments": [[s.party, round(s.start, 2), round(s.end, 2)] for s in self.segments],
            "silences": [[round(a, 2), round(b, 2)] for a, b in self.silences],
            "overtalks": [[round(a, 2), round(b, 2)] for a, b in self.overtalks],
        }


def speech_segments(pcm: bytes, frame_rate: int, party: Party) -> list[Segment]:
    """Return the speech segments of one mono 16-bit channel."""
    voiced = _voiced_frames(pcm, frame_rate)
    spans = _spans(voiced)
    merged = _merge(spans, MERGE_GAP_S)
    return [Segment(party, a, b) for a, b in merged if b - a >= MIN_SPEECH_S]


def conversation(customer: bytes, agent: bytes | None, frame_rate: int) -> TalkFigures:
    """Return the figures of a two-party recording (AGENT None: one mixed channel)."""
    if agent is None:
        segments = speech_segments(customer, frame_rate, "mixed")
        duration = len(customer) / SAMPLE_WIDTH / frame_rate
        return _figures(duration, segments, [], [], parties=1)
    duration = max(len(customer), len(agent)) / SAMPLE_WIDTH / frame_rate
    theirs = speech_segments(customer, frame_rate, "customer")
    ours = speech_segments(agent, frame_rate, "agent")
    return _figures(duration, theirs, ours, _overlaps(theirs, ours), parties=2)


def stereo_channels(pcm: bytes) -> tuple[bytes, bytes]:
    """Split interleaved 16-bit stereo PCM into (left, right) mono PCM."""
    return audioop.tomono(pcm, SAMPLE_WIDTH, 1, 0), audioop.tomono(pcm, SAMPLE_WIDTH, 0, 1)


def _voiced_frames(pcm: bytes, frame_rate: int) -> list[bool]:
    step = int(frame_rate * FRAME_S) * SAMPLE_WIDTH
    levels = [audioop.rms(pcm[i : i + step], SAMPLE_WIDTH) for i in range(0, len(pcm), step)]
    if not levels:
        return []
    floor = sorted(levels)[len(levels) // 10]
    threshold = max(VOICE_RMS, floor * NOISE_FACTOR)
    return [level > threshold for level in levels]


def _spans(voiced: Sequence[bool]) -> list[Span]:
    spans: list[Span] = []
    start: int | None = None
    for index, on in enumerate([*voiced, False]):
        if on and start is None:
            start = index
        elif not on and start is not None:
            spans.append((start * FRAME_S, index * FRAME_S))
            start = None
    return spans


def _merge(spans: Sequence[Span], gap: float) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _overlaps(first: Sequence[Segment], second: Sequence[Segment]) -> list[Span]:
    found: list[Span] = []
    i = j = 0
    while i < len(first) and j < len(second):
        a, b = first[i], second[j]
        start, end = max(a.start, b.start), min(a.end, b.end)
        if end - start >= MIN_OVERTALK_S:
            found.append((start, end))
        if a.end < b.end:
            i += 1
        else:
            j += 1
    return _merge(found, 0.0)


def _silences(segments: Sequence[Segment]) -> list[Span]:
    speech = _merge([(s.start, s.end) for s in segments], 0.0)
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(speech)]
    return [(start, end) for start, end in gaps if end - start >= DEAD_AIR_S]


def _monologue(segments: Sequence[Segment]) -> tuple[float, Party | None]:
    longest: tuple[float, Party | None] = (0.0, None)
    run: Segment | None = None
    for segment in sorted(segments, key=lambda s: s.start):
        joins = run is not None and run.party == segment.party
        if run is not None and joins and segment.start - run.end < DEAD_AIR_S:
            run = Segment(run.party, run.start, max(run.end, segment.end))
        else:
            run = segment  # the other party spoke (or a long pause): a new run starts
        if run.seconds > longest[0]:
            longest = (run.seconds, run.party)
    return longest


def _figures(
    duration: float,
    first: list[Segment],
    second: list[Segment],
    overtalks: list[Span],
    *,
    parties: int,
) -> TalkFigures:
    segments = sorted([*first, *second], key=lambda s: (s.start, s.party))
    silences = _silences(segments)
    customer = sum(s.seconds for s in segments if s.party != "agent")
    agent = sum(s.seconds for s in second)
    monologue, speaker = _monologue(segments)
    talk = customer + agent
    return TalkFigures(
        duration_s=round(duration, 3),
        parties=parties,
        customer_talk_s=round(customer, 3),
        agent_talk_s=round(agent, 3),
        silence_s=round(sum(b - a for a, b in silences), 3),
        longest_silence_s=round(max((b - a for a, b in silences), default=0.0), 3),
        overtalk_s=round(sum(b - a for a, b in overtalks), 3),
        overtalk_count=len(overtalks),
        longest_monologue_s=round(monologue, 3),
        longest_monologue_party=speaker,
        agent_talk_ratio=round(agent / talk, 4) if parties == 2 and talk > 0 else None,
        segments=tuple(segments),
        silences=tuple(silences),
        overtalks=tuple(overtalks),
    )
