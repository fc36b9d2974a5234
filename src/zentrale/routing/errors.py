"""Problems found in a routing file, each with file, line, column and document path.

Every stage (YAML syntax, schema, whole-document checks, `expect:` cases) reports `Issue`
values; `InvalidRulesError` carries the errors of a refused file to the reloader and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zentrale.base.errors import ZentraleError

Severity = Literal["error", "warning"]
PathPart = str | int
DocPath = tuple[PathPart, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a routing file, located for the supervisor who wrote it."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {where}{self.message}"


class InvalidRulesError(ZentraleError):
    """A routing file that must not replace the rules in use."""

    code = "invalid-rules"

    def __init__(self, issues: tuple[Issue, ...]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def format_path(path: DocPath) -> str:
    """Return `menus.main.options."3"` style text for a document path."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if part.isidentifier() else f'"{part}"'
            text += f".{name}" if text else name
    return text
