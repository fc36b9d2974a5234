"""Test steps for the recording pipeline, registered through its plug-in point.

`probe` is an extra step that measures the plaintext sources (duration, peak) before they are
encrypted, the kind of step issue 20 adds; `crash_after` wraps a step so the process SIGKILLs
itself once that step's work is done, before the queue records it (fault injection stays on the
tests' side); `observed` wraps every step to log which ran for which recording.
"""

from __future__ import annotations

import array
import os
import signal
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from zentrale.recording.models import Recording
from zentrale.recording.steps import replaced
from zentrale.recording.steps.base import Action, Step, Tools, source_paths
from zentrale.recording.steps.products import SOURCES

PROBE = "probe"


@dataclass(frozen=True, slots=True)
class Figures:
    """What the probe measured in one plaintext source."""

    duration_s: float
    peak: int


def probe(record: Callable[[str, list[Figures]], None]) -> Step:
    """Return a step that measures each plaintext source and RECORDs (recording id, figures)."""

    async def measure(tools: Tools, recording: Recording) -> None:
        record(recording.id, [_figures(path) for path in source_paths(tools, recording)])

    return Step(PROBE, measure, needs=(SOURCES,))


def crash_after(steps: Sequence[Step], name: str) -> tuple[Step, ...]:
    """Return STEPS where the step NAME kills the process (SIGKILL) once its work is done."""
    return replaced(steps, name, lambda step: replace(step, action=_killing(step.action)))


def observed(steps: Sequence[Step], seen: list[tuple[str, str]]) -> tuple[Step, ...]:
    """Return STEPS that append (step name, recording id) to SEEN whenever one has run."""
    return tuple(replace(step, action=_logging(step, seen)) for step in steps)


def _killing(action: Action) -> Action:
    async def killing(tools: Tools, recording: Recording) -> None:
        await action(tools, recording)
        os.kill(os.getpid(), signal.SIGKILL)

    return killing


def _logging(step: Step, seen: list[tuple[str, str]]) -> Action:
    async def logging(tools: Tools, recording: Recording) -> None:
        await step.action(tools, recording)
        seen.append((str(step.name), recording.id))

    return logging


def _figures(path: Path) -> Figures:
    with wave.open(str(path), "rb") as file:
        rate, frames = file.getframerate(), file.readframes(file.getnframes())
    samples = array.array("h", frames)
    return Figures(len(samples) / rate, max((abs(s) for s in samples), default=0))
