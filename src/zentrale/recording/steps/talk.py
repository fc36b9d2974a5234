"""The `talk` step: conversation figures from the plaintext sources, before encryption.

Runs after `transcode`, on the fetched sources still in the workspace (one channel per party
for a two-party recording, one mixed channel otherwise), and keeps only the figures and the
segment times on the recording's row (`zentrale.recording.talk`). Audio that does not decode
gets no figures; it is stored as received by the other steps all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog

from zentrale.recording import audio, talk
from zentrale.recording.models import JobStep, Recording
from zentrale.recording.steps.base import Step, Tools, source_paths
from zentrale.recording.steps.products import SOURCES

log = structlog.get_logger(__name__)

RATE = 8000
"""Telephone speech lives below 4 kHz: the figures are worked out at 8 kHz whatever came in."""


async def analyse_talk(tools: Tools, recording: Recording) -> None:
    """Work out who spoke when from the sources and keep the figures on the row."""
    figures = await asyncio.to_thread(figures_of, source_paths(tools, recording))
    if figures is None:
        log.info("pipeline.talk_skipped", recording_id=recording.id, why="audio does not decode")
        return
    await tools.recordings.set_talk(recording.id, figures)
    log.debug(
        "pipeline.talk",
        recording_id=recording.id,
        overtalk_s=figures.overtalk_s,
        dead_air_s=figures.silence_s,
    )


def figures_of(sources: Sequence[Path]) -> talk.TalkFigures | None:
    """Return the figures of one mixed source or two party sources (None: not decodable)."""
    try:
        channels = [_mono(path) for path in sources]
    except audio.AudioError:
        return None
    if len(channels) == 1:
        return talk.conversation(channels[0], None, RATE)
    return talk.conversation(channels[0], channels[1], RATE)


def _mono(path: Path) -> bytes:
    segment = audio.decode(path).set_channels(1).set_frame_rate(RATE)
    return bytes(segment.raw_data)


TALK = Step(JobStep.TALK, analyse_talk, needs=(SOURCES,), saved=False)
