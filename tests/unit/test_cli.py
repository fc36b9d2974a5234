"""The `zentrale` command: help everywhere, settings errors as clear messages."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zentrale.cli import main


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += all_commands(command, path)
    return found


@pytest.mark.parametrize("path", [(), *all_commands(main)], ids=lambda p: " ".join(p) or "main")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_expected_commands_exist() -> None:
    names = {" ".join(path) for path in all_commands(main)}
    assert {
        "demo",
        "config check",
        "sandbox up",
        "sandbox down",
        "sandbox status",
        "routing check",
        "routing simulate",
    } <= names


def test_config_check_prints_settings_without_secrets(tmp_path: Path) -> None:
    settings = tmp_path / "z.yaml"
    settings.write_text("ari:\n  app: node7\n")
    result = CliRunner().invoke(
        main,
        ["--config", str(settings), "config", "check"],
        env={"ZENTRALE_ARI__PASSWORD": "topsecret1"},
    )
    assert result.exit_code == 0, result.output
    assert "ari.app = node7" in result.output
    assert "topsecret1" not in result.output


def test_bad_settings_stop_with_file_line_and_key(tmp_path: Path) -> None:
    settings = tmp_path / "z.yaml"
    settings.write_text("logging:\n  level: chatty\n")
    result = CliRunner().invoke(main, ["--config", str(settings), "config", "check"])
    assert result.exit_code == 1
    assert f"{settings}:2:3: logging.level:" in result.output


def test_sandbox_status_when_not_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["config", "check"], env={"ZENTRALE_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0
    status = CliRunner().invoke(
        main, ["sandbox", "status"], env={"ZENTRALE_STATE_DIR": str(tmp_path)}
    )
    assert status.exit_code == 3
    assert "is not running" in status.output


def test_db_upgrade_uses_the_database_of_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZENTRALE_DATABASE__URL", raising=False)
    monkeypatch.delenv("ZENTRALE_CONFIG", raising=False)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    target = tmp_path / "configured.db"
    config = tmp_path / "zentrale.yaml"
    config.write_text(f"database:\n  url: sqlite+aiosqlite:///{target}\n")
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert target.exists()
    assert not (work / "var").exists()
