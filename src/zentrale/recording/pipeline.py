"""The recording pipeline: runs one registered step of a recording's job, safe to run again.

One job per recording walks the steps in their registered order (`steps.STANDARD`: `fetch ->
transcode -> encrypt -> upload -> verify -> commit -> delete_source -> cleanup -> done`; the
step is in the job row). Before a step runs, the pipeline makes sure the products it needs are
still there and rebuilds a missing one by running its maker again (after a restart swept the
temporary files, say). Steps write only under fixed names (temporary files, the object key
`YYYY/MM/<recording id>`, the row), so a retried or resumed step repeats its work instead of
doubling it: a recording is stored exactly once. A recording already committed skips every
step up to `commit`. Asterisk's copy is deleted only after the stored object is verified and
committed. Audio that does not decode is stored as received, encrypted, and flagged corrupt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zentrale.base.clock import Clock, utcnow
from zentrale.base.errors import ZentraleError
from zentrale.recording.keys.base import KeyWrapper
from zentrale.recording.models import JobStep, Recording, RecordingState
from zentrale.recording.sources import RecordingSource
from zentrale.recording.steps import STANDARD
from zentrale.recording.steps.base import PipelineConfig, Product, Step, Tools
from zentrale.recording.steps.products import COMMITTED
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.workspace import Workspace

__all__ = ["Pipeline", "PipelineConfig", "StepOrderError", "UnknownStepError"]

NAME_LENGTH = 32
"""The job row keeps the step's name in a VARCHAR(32)."""


class UnknownStepError(ZentraleError):
    """A job waits for a step this pipeline does not have (removed or not registered)."""

    code = "unknown-step"


class StepOrderError(ZentraleError):
    """The registered steps cannot run in this order (a need made by no earlier step)."""

    code = "step-order"


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
        steps: Sequence[Step] = STANDARD,
    ) -> None:
        self.tools = Tools(recordings, source, store, recipients, workspace, config, clock)
        self.steps = tuple(steps)
        self._makers = _makers(self.steps)
        self._following = _following(self.steps)
        self._until_committed = _up_to_maker(self.steps, COMMITTED)

    @property
    def recordings(self) -> RecordingStore:
        """The recordings' store."""
        return self.tools.recordings

    @property
    def store(self) -> ObjectStore:
        """The object store the recordings go to."""
        return self.tools.store

    @property
    def workspace(self) -> Workspace:
        """The private temporary directory."""
        return self.tools.workspace

    @property
    def on_stored(self) -> list[Callable[[Recording], None]]:
        """Called with each recording once committed as stored (metrics: pipeline latency)."""
        return self.tools.on_stored

    async def run(self, name: str, recording_id: str, recording: Recording | None = None) -> str:
        """Do the step NAME for the recording and return the name of the step that follows.

        RECORDING is the row as last read (read here when None). A worker reads it once for
        the steps it runs in a row, and again after a step that `changes_state` (the steps
        write results to the row, but read from it only what the call fixed and its state).
        """
        step, following = self._step(name), self._following[name]
        if recording is None:
            recording = await self.recordings.get(recording_id)
        if recording.state == RecordingState.STORED and name in self._until_committed:
            return following  # committed by an earlier run that died before recording it
        try:
            await self._ensure(step.needs, recording)
            await step.action(self.tools, recording)
        except BaseException:
            self.workspace.drop_plaintext(recording_id)
            raise
        return following

    def changes_state(self, name: str) -> bool:
        """Tell whether the step NAME moves the recording's state (the row is then stale)."""
        return COMMITTED in self._step(name).makes

    def saved_after(self, name: str) -> bool:
        """Tell whether the job's progress must be written as soon as the step NAME is done."""
        return self._step(name).saved

    def discard(self, recording_id: str) -> None:
        """Remove every temporary file of a recording (its job ended or was parked)."""
        self.workspace.remove(recording_id)

    def _step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise UnknownStepError(f"no pipeline step {name!r}: was it removed or renamed?")

    async def _ensure(self, needs: Sequence[Product], recording: Recording) -> None:
        """Rebuild every missing product in NEEDS by running its maker (and its needs) again."""
        for product in needs:
            if not product.present(self.tools, recording):
                maker = self._makers[product.name]
                await self._ensure(maker.needs, recording)
                await maker.action(self.tools, recording)


def _makers(steps: Sequence[Step]) -> dict[str, Step]:
    """Map each product to the step that makes it, checking every need is made earlier."""
    makers: dict[str, Step] = {}
    names: set[str] = set()
    for step in steps:
        _check_name(step.name, names)
        for product in step.needs:
            if product.name not in makers:
                raise StepOrderError(
                    f"step {step.name!r} needs {product.name!r} made by none before"
                )
        makers.update((product.name, step) for product in step.makes)
        names.add(step.name)
    return makers


def _check_name(name: str, taken: set[str]) -> None:
    if name in taken or name == JobStep.DONE or not 0 < len(name) <= NAME_LENGTH:
        raise StepOrderError(f"step name {name!r} is taken, reserved or too long")


def _following(steps: Sequence[Step]) -> dict[str, str]:
    names = [step.name for step in steps]
    return dict(zip(names, [*names[1:], JobStep.DONE], strict=True))


def _up_to_maker(steps: Sequence[Step], product: Product) -> frozenset[str]:
    """Return the names of the steps up to and including the one that makes PRODUCT."""
    for index, step in enumerate(steps):
        if product in step.makes:
            return frozenset(s.name for s in steps[: index + 1])
    return frozenset()
