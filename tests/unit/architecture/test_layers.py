"""The architecture's contracts (pyproject's import-linter section) hold, and break when broken.

`scripts/test.sh` runs `lint-imports` on the tree; these tests show the contracts are not
vacuous: a copy of the package with one forbidden import added fails them, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the package copy under TREE/src with the repository's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of src/zentrale and pyproject.toml to break on purpose."""
    shutil.copytree(
        REPO / "src" / "zentrale",
        tmp_path / "src" / "zentrale",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"),
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_a_capability_importing_the_http_edge_breaks_the_layers(tree: Path) -> None:
    add_import(tree, "zentrale.recording.pipeline", "import zentrale.api.app")
    result = lint(tree)
    assert result.returncode != 0
    assert "zentrale.recording is not allowed to import zentrale.api" in result.stdout
    assert "zentrale.recording.pipeline -> zentrale.api.app" in result.stdout


def test_routing_importing_the_database_breaks_its_purity(tree: Path) -> None:
    add_import(tree, "zentrale.routing.engine", "import zentrale.db.session")
    result = lint(tree)
    assert result.returncode != 0
    assert "Routing imports no database, settings, telephony or network BROKEN" in result.stdout


def test_a_capability_importing_a_web_framework_breaks_the_http_contract(tree: Path) -> None:
    add_import(tree, "zentrale.customers.store", "import fastapi")
    result = lint(tree)
    assert result.returncode != 0
    assert "do not import HTTP frameworks BROKEN" in result.stdout


def test_a_type_checking_only_import_upwards_counts_too(tree: Path) -> None:
    add_import(
        tree,
        "zentrale.core.audit",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import zentrale.telephony.inbound",
    )
    result = lint(tree)
    assert result.returncode != 0
    assert "zentrale.core is not allowed to import zentrale.telephony" in result.stdout
