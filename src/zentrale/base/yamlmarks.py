"""YAML parsing that keeps where every node sits, so errors can name a line and column.

Settings and routing rules are both written by people, and a message that points at the line to
fix is the whole point. ruamel.yaml's round-trip loader records each key's and item's position;
the parsed tree is handed to pydantic as is (its maps and sequences are dict and list
subclasses), and positions are looked up only when there is something to report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from zentrale.base.errors import ZentraleError


class YamlSyntaxError(ZentraleError):
    """The text is not well-formed YAML; line and column are 1-based."""

    code = "yaml-syntax"

    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"{line}:{column}: not valid YAML: {problem}")
        self.line, self.column, self.problem = line, column, problem


def parse_yaml(text: str) -> Any:
    """Parse TEXT keeping marks; raise YamlSyntaxError with the position of a syntax error."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise YamlSyntaxError(line, column, problem) from None
    except YAMLError as error:
        raise YamlSyntaxError(1, 1, str(error)) from None


def locate(tree: Any, path: Sequence[object]) -> tuple[int, int]:
    """Return 1-based (line, column) of the deepest node on PATH that exists in TREE."""
    node, mark = tree, (0, 0)
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        node, mark = found
    return mark[0] + 1, mark[1] + 1


def _child(node: Any, part: object) -> tuple[Any, tuple[int, int]] | None:
    """Return the child named PART and its mark, comparing map keys as text."""
    marks = getattr(node, "lc", None)
    if marks is None:
        return None
    if isinstance(node, dict):
        key = next((key for key in node if str(key) == str(part)), _MISSING)
        return None if key is _MISSING else (node[key], tuple(marks.key(key)))
    index = int(part) if isinstance(part, int | str) and str(part).isdigit() else -1
    if isinstance(node, list) and 0 <= index < len(node):
        return node[index], tuple(marks.item(index))
    return None


_MISSING = object()
