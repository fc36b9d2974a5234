"""Hot reload with the real file watcher: apply valid changes, refuse invalid ones.

The watcher may start a moment after the task does, so each test rewrites its change until
the reloader reports an outcome of the expected kind (generous deadline, no timing asserts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from zentrale.routing.engine import on_digits, start
from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.history import History
from zentrale.routing.reload import ReloadOutcome, RulesReloader
from zentrale.routing.steps import PlayAndHangup

from .support import BASE, facts

CHANGED = BASE.replace("sound:vm-goodbye", "sound:goodbye")
BROKEN = BASE.replace("{department: sales}", "{department: nobody}")
DEADLINE = 30.0
CLOCK = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


@contextlib.asynccontextmanager
async def watching(
    tmp_path: Path,
) -> AsyncIterator[tuple[RulesReloader, asyncio.Queue[ReloadOutcome]]]:
    live = tmp_path / "routing.yaml"
    live.write_text(BASE, encoding="utf-8")
    reloader = RulesReloader(live, History(tmp_path / "history"), clock=lambda: CLOCK)
    await reloader.load_initial()
    outcomes: asyncio.Queue[ReloadOutcome] = asyncio.Queue()
    reloader.subscribe(outcomes.put_nowait)
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.watch(stop))
    try:
        yield reloader, outcomes
    finally:
        stop.set()
        await asyncio.wait_for(task, DEADLINE)


async def change_until(
    write: Callable[[], None],
    outcomes: asyncio.Queue[ReloadOutcome],
    wanted: Callable[[ReloadOutcome], bool],
) -> ReloadOutcome:
    """Make the change, repeating it until an outcome satisfies `wanted`."""
    async with asyncio.timeout(DEADLINE):
        while True:
            write()
            with contextlib.suppress(TimeoutError):
                while True:
                    outcome = await asyncio.wait_for(outcomes.get(), 1.0)
                    if wanted(outcome):
                        return outcome


def writer(path: Path, text: str) -> Callable[[], None]:
    return lambda: path.write_text(text, encoding="utf-8")


@pytest.mark.asyncio
async def test_valid_change_is_applied_and_kept_in_history(tmp_path: Path) -> None:
    async with watching(tmp_path) as (reloader, outcomes):
        before = reloader.current
        outcome = await change_until(writer(reloader.path, CHANGED), outcomes, lambda o: o.applied)
    assert outcome.version == reloader.current.version != before.version
    assert reloader.current.document.prompts["bye"] == {"*": "sound:goodbye"}
    assert (reloader.applied, reloader.refused, reloader.last_error) == (2, 0, None)
    entries = History(tmp_path / "history").entries()
    assert [entry.version for entry in entries] == [before.version, outcome.version]


@pytest.mark.asyncio
async def test_invalid_change_is_refused_and_exposed(tmp_path: Path) -> None:
    async with watching(tmp_path) as (reloader, outcomes):
        before = reloader.current
        outcome = await change_until(
            writer(reloader.path, BROKEN), outcomes, lambda o: o.error is not None
        )
    assert reloader.current is before
    assert outcome.version == before.version
    assert reloader.refused >= 1
    status = reloader.status()
    assert status["version"] == before.version
    assert status["last_error"] == [
        f'{reloader.path}:31:7: error: menus.main.options."1": '
        "unknown department 'nobody' (defined: sales)"
    ]
    assert len(History(tmp_path / "history").entries()) == 1


@pytest.mark.asyncio
async def test_editor_style_replace_is_noticed(tmp_path: Path) -> None:
    async with watching(tmp_path) as (reloader, outcomes):

        def replace_file() -> None:
            temporary = tmp_path / ".routing.yaml.swp"
            temporary.write_text(CHANGED, encoding="utf-8")
            os.replace(temporary, reloader.path)

        await change_until(replace_file, outcomes, lambda o: o.applied)
    assert reloader.current.document.prompts["bye"] == {"*": "sound:goodbye"}


@pytest.mark.asyncio
async def test_calls_in_progress_keep_the_rules_they_started_with(tmp_path: Path) -> None:
    async with watching(tmp_path) as (reloader, outcomes):
        in_flight = start(reloader.current, facts())
        await change_until(writer(reloader.path, CHANGED), outcomes, lambda o: o.applied)
        new_call = start(reloader.current, facts())
    old_end = on_digits(in_flight.state, "0")
    new_end = on_digits(new_call.state, "0")
    assert isinstance(old_end, PlayAndHangup)
    assert isinstance(new_end, PlayAndHangup)
    assert (old_end.sound, new_end.sound) == ("sound:vm-goodbye", "sound:goodbye")


@pytest.mark.asyncio
async def test_unchanged_content_is_not_applied_again(tmp_path: Path) -> None:
    live = tmp_path / "routing.yaml"
    live.write_text(BASE, encoding="utf-8")
    reloader = RulesReloader(live)
    await reloader.load_initial()
    outcome = await reloader.reload()
    assert (outcome.applied, reloader.applied) == (False, 1)


@pytest.mark.asyncio
async def test_invalid_file_at_start_up_raises(tmp_path: Path) -> None:
    live = tmp_path / "routing.yaml"
    live.write_text(BROKEN, encoding="utf-8")
    reloader = RulesReloader(live)
    with pytest.raises(InvalidRulesError, match="unknown department 'nobody'"):
        await reloader.load_initial()
    with pytest.raises(RuntimeError, match="not loaded"):
        _ = reloader.current
