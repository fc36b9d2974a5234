"""The history of applied versions and the `history` / `rollback` commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from zentrale.cli.routing import routing
from zentrale.routing.history import History

from .support import BASE, load

WHEN = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CHANGED = BASE.replace("sound:vm-goodbye", "sound:goodbye")


def recorded(tmp_path: Path) -> History:
    history = History(tmp_path / "history")
    history.record(load(), WHEN)
    history.record(load(CHANGED), WHEN + dt.timedelta(minutes=5))
    return history


def test_versions_are_numbered_with_hash_time_and_diff(tmp_path: Path) -> None:
    history = recorded(tmp_path)
    first, second = history.entries()
    assert (first.number, first.version, first.applied_at) == (1, load().version, WHEN)
    assert second.version == load(CHANGED).version
    assert history.text(second) == CHANGED
    diff = history.diff(second)
    assert f"+++ version 2 {second.version}" in diff
    assert "-  bye: sound:vm-goodbye\n+  bye: sound:goodbye\n" in diff
    assert history.diff(first).startswith("--- version nothing")


def test_find_by_number_or_hash_prefix(tmp_path: Path) -> None:
    history = recorded(tmp_path)
    second = history.entries()[1]
    assert history.find("2") == second
    assert history.find(second.version[:6]) == second
    with pytest.raises(KeyError, match="no version '99'"):
        history.find("99")


def test_empty_history(tmp_path: Path) -> None:
    assert History(tmp_path / "none").entries() == []
    result = CliRunner().invoke(routing, ["history", "--history-dir", str(tmp_path / "none")])
    assert "no versions recorded" in result.output


def test_history_command_lists_and_shows_diffs(tmp_path: Path) -> None:
    recorded(tmp_path)
    directory = str(tmp_path / "history")
    listing = CliRunner().invoke(routing, ["history", "--history-dir", directory])
    assert listing.exit_code == 0
    assert [line.split()[:2] for line in listing.output.splitlines()] == [
        ["1", load().version],
        ["2", load(CHANGED).version],
    ]
    diff = CliRunner().invoke(routing, ["history", "--history-dir", directory, "--diff", "2"])
    assert "+  bye: sound:goodbye" in diff.output


def test_rollback_writes_the_old_version_to_the_live_file(tmp_path: Path) -> None:
    recorded(tmp_path)
    live = tmp_path / "routing.yaml"
    live.write_text(CHANGED, encoding="utf-8")
    args = ["rollback", "1", "--history-dir", str(tmp_path / "history"), "--file", str(live)]
    result = CliRunner().invoke(routing, args)
    assert result.exit_code == 0, result.output
    assert live.read_text(encoding="utf-8") == BASE
    assert f"now holds version 1 {load().version}" in result.output


def test_rollback_refuses_a_version_this_schema_no_longer_accepts(tmp_path: Path) -> None:
    history = recorded(tmp_path)
    stale = history.entries()[0].stem.with_suffix(".yaml")
    stale.write_text(BASE.replace("version: 1", "version: 0"), encoding="utf-8")
    live = tmp_path / "routing.yaml"
    live.write_text(CHANGED, encoding="utf-8")
    args = ["rollback", "1", "--history-dir", str(tmp_path / "history"), "--file", str(live)]
    result = CliRunner().invoke(routing, args)
    assert result.exit_code == 1
    assert "routing schema version 0 is not supported" in result.output
    assert live.read_text(encoding="utf-8") == CHANGED


def test_rollback_to_an_unknown_version_is_a_usage_error(tmp_path: Path) -> None:
    recorded(tmp_path)
    args = [
        "rollback",
        "77",
        "--history-dir",
        str(tmp_path / "history"),
        "--file",
        str(tmp_path / "routing.yaml"),
    ]
    assert CliRunner().invoke(routing, args).exit_code == 2
