"""`zentrale prompts synthesize|check`: output and exit codes (0 fine, 1 problems, 2 usage)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from zentrale.cli.prompts import prompts

REPO = Path(__file__).resolve().parents[3]
RULES = str(REPO / "config" / "routing.yaml")
MANIFEST = str(REPO / "config" / "prompts.yaml")


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(prompts, list(args), env=env)
    return result.exit_code, result.output


def test_synthesize_then_offline_check_passes(tmp_path: Path) -> None:
    code, out = _run("synthesize", "--manifest", MANIFEST, "--out", str(tmp_path))
    assert code == 0
    assert "made  de/willkommen-hauptmenue" in out
    assert out.rstrip().endswith(f"{tmp_path}: 32 made, 0 up to date, 0 kept (your own recordings)")
    assert (
        _run("synthesize", "--manifest", MANIFEST, "--out", str(tmp_path))[1]
        .rstrip()
        .endswith("0 made, 32 up to date, 0 kept (your own recordings)")
    )
    code, out = _run("check", "--rules", RULES, "--dir", str(tmp_path))
    assert code == 0, out
    assert "assuming these are Asterisk's own sounds: sound:ss-noservice, sound:vm-goodbye" in out
    assert "34 sound reference(s) checked, 0 missing" in out


def test_check_lists_missing_prompts_and_exits_1(tmp_path: Path) -> None:
    code, out = _run("check", "--rules", RULES, "--dir", str(tmp_path / "empty"))
    assert code == 1
    assert "missing  prompts.welcome.de: sound:de/willkommen-hauptmenue: no file" in out
    assert out.count("missing  ") == 32


def test_prompts_dir_from_environment(tmp_path: Path) -> None:
    code, _ = _run(
        "synthesize", "--manifest", MANIFEST, env={"ZENTRALE_PROMPTS_DIR": str(tmp_path)}
    )
    assert code == 0
    assert (tmp_path / "zentrale" / "choose-language.wav").is_file()


def test_bad_manifest_exits_1_with_location(tmp_path: Path) -> None:
    manifest = tmp_path / "p.yaml"
    manifest.write_text("version: 1\nvoices: {de: de}\nprompts:\n  de/x: {fr: Bonjour}\n")
    code, out = _run("synthesize", "--manifest", str(manifest), "--out", str(tmp_path))
    assert code == 1
    assert f"{manifest}:4:10: error: prompts.de/x.fr: unknown language 'fr'" in out


def test_invalid_rules_exit_1(tmp_path: Path) -> None:
    rules = tmp_path / "routing.yaml"
    rules.write_text("version: 1\n")
    code, out = _run("check", "--rules", str(rules), "--dir", str(tmp_path))
    assert code == 1
    assert "missing required key" in out


def test_online_check_uses_asterisk_sounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, str]] = []

    async def fake_fetch(url: str, user: str, password: SecretStr) -> set[str]:
        asked.append((url, user, password.get_secret_value()))
        return {"vm-goodbye"}

    monkeypatch.setattr(
        sys.modules[prompts.callback.__module__], "fetch_asterisk_sounds", fake_fetch
    )
    _run("synthesize", "--manifest", MANIFEST, "--out", str(tmp_path))
    env = {"ZENTRALE_ARI__PASSWORD": "pw"}
    code, out = _run(
        "check", "--dir", str(tmp_path), "--rules", RULES, "--ari-url", "http://pbx/ari", env=env
    )
    assert asked == [("http://pbx/ari", "zentrale", "pw")]
    assert code == 1
    assert "assuming" not in out
    assert "missing  prompts.blocked.*: sound:ss-noservice" in out


def test_online_check_needs_a_password(tmp_path: Path) -> None:
    code, out = _run(
        "check",
        "--rules",
        RULES,
        "--dir",
        str(tmp_path),
        "--ari-url",
        "http://pbx/ari",
        env={"ZENTRALE_ARI__PASSWORD": ""},
    )
    assert code == 2
    assert "ZENTRALE_ARI__PASSWORD" in out


def test_unreachable_ari_is_reported(tmp_path: Path) -> None:
    env = {"ZENTRALE_ARI__PASSWORD": "pw"}
    url = "http://127.0.0.1:9/ari"
    code, out = _run("check", "--rules", RULES, "--dir", str(tmp_path), "--ari-url", url, env=env)
    assert code == 1
    assert f"cannot list Asterisk's sounds at {url}" in out
