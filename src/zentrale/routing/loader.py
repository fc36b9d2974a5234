"""YAML loading that keeps node marks, so any document path can be turned into line:column.

ruamel.yaml's round-trip loader records where every key and item sits. The loaded tree is
handed to pydantic as is (its maps and sequences are dict and list subclasses); positions
are looked up only when there is something to report, which keeps valid loads fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from zentrale.routing.errors import DocPath, InvalidRulesError, Issue, Severity, format_path


@dataclass(frozen=True, slots=True)
class LoadedYaml:
    """A parsed document together with what is needed to locate its nodes."""

    source: str
    tree: Any

    def locate(self, path: DocPath) -> tuple[int, int]:
        """Return 1-based (line, column) of the deepest node on `path` that exists."""
        node, mark = self.tree, (0, 0)
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            node, mark = found
        return mark[0] + 1, mark[1] + 1

    def issue(self, path: DocPath, message: str, severity: Severity = "error") -> Issue:
        """Build an issue located at `path`."""
        line, column = self.locate(path)
        return Issue(self.source, line, column, format_path(path), message, severity)


def _child(node: Any, part: object) -> tuple[Any, tuple[int, int]] | None:
    """Return the child named `part` and its mark, comparing map keys as text."""
    marks = getattr(node, "lc", None)
    if marks is None:
        return None
    if isinstance(node, dict):
        key = next((key for key in node if str(key) == str(part)), _MISSING)
        return None if key is _MISSING else (node[key], tuple(marks.key(key)))
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part], tuple(marks.item(part))
    return None


_MISSING = object()


def load_yaml(text: str, source: str) -> LoadedYaml:
    """Parse `text`, raising `InvalidRulesError` with the position of any YAML syntax error."""
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        raise InvalidRulesError((_syntax_issue(error, source),)) from None
    except YAMLError as error:
        raise InvalidRulesError((Issue(source, 1, 1, "", f"not valid YAML: {error}"),)) from None
    return LoadedYaml(source, tree)


def _syntax_issue(error: MarkedYAMLError, source: str) -> Issue:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = " ".join(part for part in (error.context, error.problem) if part)
    return Issue(source, line, column, "", f"not valid YAML: {problem}")
