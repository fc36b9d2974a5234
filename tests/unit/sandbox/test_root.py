"""The sandbox root: mirror discovery, recipe stamps, and messages when something is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.sandbox import root
from zentrale.sandbox.errors import SandboxUnavailableError


def apt_dir(tmp_path: Path, sources: str = "", lists: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if sources:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(sources)
    if lists:
        (tmp_path / "sources.list").write_text(lists)
    return tmp_path


def test_mirror_from_deb822_sources_skips_the_security_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZENTRALE_SANDBOX_MIRROR", raising=False)
    sources = (
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert root.find_mirror(apt_dir(tmp_path, sources=sources)) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZENTRALE_SANDBOX_MIRROR", raising=False)
    lists = "# comment\ndeb [arch=amd64] https://ftp.example/debian bookworm main\n"
    assert root.find_mirror(apt_dir(tmp_path, lists=lists)) == "https://ftp.example/debian"


def test_mirror_override_and_missing_mirror_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZENTRALE_SANDBOX_MIRROR", "http://local/debian")
    assert root.find_mirror(apt_dir(tmp_path)) == "http://local/debian"
    monkeypatch.delenv("ZENTRALE_SANDBOX_MIRROR")
    with pytest.raises(SandboxUnavailableError, match="set ZENTRALE_SANDBOX_MIRROR"):
        root.find_mirror(tmp_path)


def test_not_root_is_named_with_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(root.os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailableError) as caught:
        root.check_prerequisites()
    message = str(caught.value)
    assert "root privileges" in message
    assert "docs/operator.md" in message


def test_missing_debootstrap_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(root.shutil, "which", lambda name: None if name == "debootstrap" else "/x")
    with pytest.raises(SandboxUnavailableError, match=r"apt-get install debootstrap"):
        root.ensure_root(tmp_path / "cache", root.Recipe(packages=("asterisk", "zentrale-test")))


def test_recipe_stamp_decides_rebuilds(tmp_path: Path) -> None:
    recipe = root.Recipe()
    assert not root.is_current(tmp_path, recipe)
    (tmp_path / root.STAMP).write_text(recipe.digest() + "\n")
    assert root.is_current(tmp_path, recipe)
    assert not root.is_current(tmp_path, root.Recipe(packages=(*recipe.packages, "sox")))


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZENTRALE_SANDBOX_CACHE", str(tmp_path))
    assert root.default_cache_dir() == tmp_path
    monkeypatch.delenv("ZENTRALE_SANDBOX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert root.default_cache_dir() == tmp_path / "xdg" / "zentrale" / "sandbox"
