"""Reload: a valid change is applied and kept in the history; a bad one leaves the last good set."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from zentrale.cli import main
from zentrale.knowledge.history import KnowledgeHistory
from zentrale.knowledge.reload import KnowledgeReloader

CLOCK = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
GOOD = "---\ntitle: Sales\ndepartments: [sales]\n---\nHello {customer.name}\n"
RULES = Path(__file__).parents[3] / "config" / "routing.yaml"


def write(directory: Path, text: str) -> None:
    (directory / "scripts").mkdir(parents=True, exist_ok=True)
    (directory / "scripts" / "sales.md").write_text(text, encoding="utf-8")


@pytest.mark.asyncio
async def test_a_bad_change_is_refused_and_the_last_good_set_stays_live(tmp_path: Path) -> None:
    live = tmp_path / "knowledge"
    write(live, GOOD)
    history = KnowledgeHistory(tmp_path / "history")
    reloader = KnowledgeReloader(live, lambda: frozenset({"sales"}), history, clock=lambda: CLOCK)
    first = await reloader.load_initial()
    write(live, GOOD.replace("{customer.name}", "{customer.nam}"))
    refused = await reloader.reload()
    assert (refused.applied, refused.version) == (False, first.version)
    assert refused.error is not None
    assert str(refused.error.issues[0]).startswith(f"{live}/scripts/sales.md:5:7: error:")
    assert reloader.current is first
    assert reloader.status()["refused"] == 1
    write(live, GOOD + "Bye.\n")
    applied = await reloader.reload()
    assert applied.applied
    assert reloader.current.version != first.version
    assert reloader.last_error is None
    unchanged = await reloader.reload()
    assert not unchanged.applied
    entries = history.entries()
    assert [entry.version for entry in entries] == [first.version, applied.version]
    assert history.files(entries[0]) == {"scripts/sales.md": GOOD}
    assert "+Bye." in history.diff(entries[1])


@pytest.mark.asyncio
async def test_a_bad_set_at_start_raises(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("[sales]", "[nobody]"))
    reloader = KnowledgeReloader(tmp_path, lambda: frozenset({"sales"}))
    with pytest.raises(Exception, match="unknown department 'nobody'"):
        await reloader.load_initial()


def test_cli_check_history_and_rollback(tmp_path: Path) -> None:
    live = tmp_path / "knowledge"
    write(live, GOOD.replace("[sales]", "[sails]"))
    runner = CliRunner()
    bad = runner.invoke(main, ["knowledge", "check", str(live), "--rules", str(RULES)])
    assert bad.exit_code == 1
    assert (
        f"{live}/scripts/sales.md:3:15: error: departments[0]: unknown department 'sails'"
        in bad.output
    )
    write(live, GOOD)
    ok = runner.invoke(main, ["knowledge", "check", str(live), "--rules", str(RULES)])
    assert ok.exit_code == 0, ok.output
    assert "1 script(s), 0 article(s)" in ok.output

    history = KnowledgeHistory(tmp_path / "history")
    reloader = KnowledgeReloader(live, lambda: None, history, clock=lambda: CLOCK)
    asyncio.run(reloader.reload())
    write(live, GOOD + "Changed.\n")
    asyncio.run(reloader.reload())
    listed = runner.invoke(
        main, ["knowledge", "history", "--history-dir", str(tmp_path / "history")]
    )
    assert listed.exit_code == 0
    assert len(listed.output.splitlines()) == 2
    back = runner.invoke(
        main,
        [
            "knowledge",
            "rollback",
            "1",
            "--history-dir",
            str(tmp_path / "history"),
            "--dir",
            str(live),
        ],
    )
    assert back.exit_code == 0, back.output
    assert (live / "scripts" / "sales.md").read_text(encoding="utf-8") == GOOD


@pytest.mark.asyncio
async def test_the_watcher_applies_a_saved_change_and_refuses_a_bad_one(tmp_path: Path) -> None:
    live = tmp_path / "knowledge"
    write(live, GOOD)
    reloader = KnowledgeReloader(live, lambda: frozenset({"sales"}), debounce_ms=50)
    first = await reloader.load_initial()
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.watch(stop))
    try:
        # The watcher may start a moment after the task: write until it reacts (no timing assert).
        async with asyncio.timeout(30):
            while reloader.refused == 0:
                write(live, GOOD.replace("[sales]", "[nobody]"))
                await asyncio.sleep(0.5)
            assert reloader.current is first
            while reloader.current is first:
                write(live, GOOD + "Saved.\n")
                await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert reloader.current.scripts[0].body.endswith("Saved.\n")
    assert reloader.last_error is None
