"""The recording pipeline's steps, one `Step` each, and `STANDARD`, the order they run in.

A step is a name (stored in the job row), an action, and the products it needs and makes
(`steps.base`, `steps.products`). A new step is one module defining its `Step` and one
registration: an entry in `STANDARD`, or, when the settings switch it on, an `inserted` call in
`zentrale.recording.setup.pipeline_steps`. The `Pipeline` checks the order against the needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zentrale.recording.steps.base import Step
from zentrale.recording.steps.finish import CLEANUP, COMMIT, DELETE_SOURCE
from zentrale.recording.steps.plaintext import FETCH, TRANSCODE
from zentrale.recording.steps.sealing import ENCRYPT, UPLOAD, VERIFY
from zentrale.recording.steps.talk import TALK

STANDARD: tuple[Step, ...] = (
    FETCH,
    TRANSCODE,
    TALK,
    ENCRYPT,
    UPLOAD,
    VERIFY,
    COMMIT,
    DELETE_SOURCE,
    CLEANUP,
)
"""From Asterisk's file to a verified, encrypted, committed object, then tidying up; the
conversation figures are worked out from the plaintext between transcoding and encryption."""


def inserted(steps: Sequence[Step], step: Step, *, after: str) -> tuple[Step, ...]:
    """Return STEPS with STEP registered right after the step named AFTER."""
    index = _index(steps, after)
    return (*steps[: index + 1], step, *steps[index + 1 :])


def replaced(steps: Sequence[Step], name: str, change: Callable[[Step], Step]) -> tuple[Step, ...]:
    """Return STEPS with the step named NAME replaced by CHANGE(step) (to wrap its action)."""
    index = _index(steps, name)
    return (*steps[:index], change(steps[index]), *steps[index + 1 :])


def _index(steps: Sequence[Step], name: str) -> int:
    for index, step in enumerate(steps):
        if step.name == name:
            return index
    raise ValueError(f"no pipeline step named {name!r}")
