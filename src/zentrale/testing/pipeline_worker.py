"""A pipeline worker process for the fault tests: `python -m zentrale.testing.pipeline_worker`.

It runs what `zentrale recordings work --source-dir DIR --until-idle --lease 1 --backoff 0.05`
runs (the settings' steps, through `recording.setup.pipeline_running`), with test steps added:
`--probe DIR` registers the `probe` step after `transcode` (figures written to
`DIR/<recording id>.json`, one line per run appended to `DIR/runs`), and `--crash-after STEP`
makes the process SIGKILL itself once that step's work is done, before the queue records it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from zentrale.config.settings import Settings, load_settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording.models import JobStep
from zentrale.recording.setup import pipeline_running, pipeline_steps
from zentrale.recording.sources import DirectorySource
from zentrale.recording.steps import inserted
from zentrale.recording.steps.base import Step
from zentrale.recording.worker import WorkerOptions
from zentrale.testing.pipeline_steps import Figures, crash_after, probe

OPTIONS = WorkerOptions(lease=1, backoff_initial=0.05, poll=0.25)


def steps(settings: Settings, probe_dir: Path | None, crash: str | None) -> tuple[Step, ...]:
    """Return the settings' steps with the probe and the crash asked for."""
    found = pipeline_steps(settings)
    if probe_dir is not None:
        found = inserted(found, probe(_writer(probe_dir)), after=JobStep.TRANSCODE)
    return crash_after(found, crash) if crash else found


def _writer(directory: Path) -> Callable[[str, list[Figures]], None]:
    def write(recording_id: str, figures: list[Figures]) -> None:
        text = json.dumps([asdict(f) for f in figures])
        (directory / f"{recording_id}.json").write_text(text)
        with (directory / "runs").open("a") as runs:
            runs.write(f"{recording_id}\n")

    return write


async def work(settings: Settings, source_dir: Path, found: Sequence[Step]) -> None:
    """Run the workers with FOUND until no job is pending or running."""
    async with Database.open(settings.database.url.get_secret_value()) as db:
        await upgrade_engine(db.engine)
        source = DirectorySource(source_dir)
        async with pipeline_running(settings, db, source, OPTIONS, steps=found) as pool:
            await pool.wait_idle()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and work until idle."""
    parser = argparse.ArgumentParser(prog="python -m zentrale.testing.pipeline_worker")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--source-dir", type=Path, required=True)
    parser.add_argument("--probe", type=Path)
    parser.add_argument("--crash-after")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    found = steps(settings, args.probe, args.crash_after)
    asyncio.run(work(settings, args.source_dir, found))


if __name__ == "__main__":
    main()
