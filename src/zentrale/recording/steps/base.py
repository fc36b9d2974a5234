"""What a pipeline step is: a name, an action, and the products it needs and makes.

A `Step` is registered by putting it in the ordered list the `Pipeline` runs
(`zentrale.recording.steps.STANDARD`, extended in `recording.setup.pipeline_steps`). Its name is
stored in the job row while the step is next, so it must stay the same across releases. Its
action is an async function of the `Tools` and the `Recording` that may run again after a crash
or a retry. A `Product` is something a step leaves in the workspace (or the store, or the row)
for later steps, with a check that it is still there; the pipeline rebuilds a missing one by
running its maker again before a step that needs it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zentrale.base.clock import Clock
from zentrale.recording import audio
from zentrale.recording.keys.base import KeyWrapper
from zentrale.recording.models import Recording
from zentrale.recording.sources import RecordingSource
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.workspace import Workspace

TWO_PARTY_SEPARATOR = "+"
"""A two-party recording's Asterisk name is `<customer recording>+<agent recording>`."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """What the steps need from the settings."""

    format: audio.StoredFormat
    storage_backend: str
    delete_source: bool = True


@dataclass(slots=True)
class Tools:
    """What every step may use: the recordings, the source, the store, the keys, the files."""

    recordings: RecordingStore
    source: RecordingSource
    store: ObjectStore
    recipients: Sequence[KeyWrapper]
    workspace: Workspace
    config: PipelineConfig
    clock: Clock
    on_stored: list[Callable[[Recording], None]] = field(default_factory=list)
    """Called with each recording once committed as stored (metrics: pipeline latency)."""


Action = Callable[[Tools, Recording], Awaitable[None]]
"""A step's work for one recording; safe to run again."""


@dataclass(frozen=True, slots=True)
class Product:
    """Something a step leaves for later steps, and how to tell it is still there."""

    name: str
    present: Callable[[Tools, Recording], bool]


@dataclass(frozen=True, slots=True)
class Step:
    """One registered pipeline step: its stored name, its action, what it needs and makes."""

    name: str
    action: Action
    needs: tuple[Product, ...] = ()
    makes: tuple[Product, ...] = ()
    saved: bool = True
    """Whether the job's row is moved past this step as soon as it is done, so that a crash
    never makes it run again (a step that calls a paid service, or counts). The standard steps
    say False: redoing them after a crash costs less than a database write after each, and
    the worker writes their progress only every few seconds (`WorkerOptions.checkpoint`)."""


def source_names(recording: Recording) -> list[str]:
    """Return the Asterisk names of a recording's sources (two for a two-party recording)."""
    return recording.asterisk_name.split(TWO_PARTY_SEPARATOR)


def object_key(recording: Recording) -> str:
    """Return where the recording's object is stored: `YYYY/MM/<recording id>`."""
    return f"{recording.created_at:%Y/%m}/{recording.id}"


def source_paths(tools: Tools, recording: Recording) -> list[Path]:
    """Return where the recording's fetched sources are kept (customer or mixed first)."""
    count = len(source_names(recording))
    return [tools.workspace.source(recording.id, index) for index in range(count)]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write DATA as JSON to PATH atomically (a temporary name, then renamed)."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    """Return the JSON object kept at PATH."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data
