"""The steps that bring the audio in: `fetch` Asterisk's file(s), `transcode` them.

Audio that does not decode is kept as received (the sources concatenated, their sizes in
`parts`) and flagged corrupt, so it is still encrypted and stored, never dropped.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import structlog

from zentrale.recording import audio
from zentrale.recording.models import JobStep, Recording
from zentrale.recording.steps.base import Step, Tools, source_names, source_paths, write_json
from zentrale.recording.steps.products import ANALYSIS, PLAINTEXT, SOURCES, AudioFacts

log = structlog.get_logger(__name__)


async def fetch(tools: Tools, recording: Recording) -> None:
    """Fetch the source file(s) from Asterisk into the workspace."""
    for index, name in enumerate(source_names(recording)):
        target = tools.workspace.source(recording.id, index)
        size = await tools.source.fetch(name, target)
        log.debug("pipeline.fetched", recording_id=recording.id, name=name, size=size)


async def transcode(tools: Tools, recording: Recording) -> None:
    """Decode, merge, analyse and encode the audio (or keep it as received if corrupt)."""
    sources = source_paths(tools, recording)
    fmt = tools.config.format
    target = tools.workspace.audio(recording.id, fmt.extension)
    facts = await asyncio.to_thread(_transcode, sources, fmt, target)
    if facts.corrupt:
        log.warning("pipeline.corrupt_audio", recording_id=recording.id)
    write_json(tools.workspace.analysis(recording.id), asdict(facts))


FETCH = Step(JobStep.FETCH, fetch, makes=(SOURCES,), saved=False)
TRANSCODE = Step(
    JobStep.TRANSCODE, transcode, needs=(SOURCES,), makes=(ANALYSIS, PLAINTEXT), saved=False
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
