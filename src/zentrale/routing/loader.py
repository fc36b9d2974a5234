"""The routing document as parsed YAML with marks, turning document paths into issues.

Parsing and locating are shared with the settings loader (`zentrale.base.yamlmarks`); this
module adds the routing-specific `Issue` shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.routing.errors import DocPath, InvalidRulesError, Issue, Severity, format_path


@dataclass(frozen=True, slots=True)
class LoadedYaml:
    """A parsed document together with what is needed to locate its nodes."""

    source: str
    tree: Any

    def locate(self, path: DocPath) -> tuple[int, int]:
        """Return 1-based (line, column) of the deepest node on `path` that exists."""
        return locate(self.tree, path)

    def issue(self, path: DocPath, message: str, severity: Severity = "error") -> Issue:
        """Build an issue located at `path`."""
        line, column = self.locate(path)
        return Issue(
            file=self.source,
            line=line,
            column=column,
            path=format_path(path),
            message=message,
            severity=severity,
        )


def load_yaml(text: str, source: str) -> LoadedYaml:
    """Parse `text`, raising `InvalidRulesError` with the position of any YAML syntax error."""
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as error:
        issue = Issue(
            file=source,
            line=error.line,
            column=error.column,
            path="",
            message=f"not valid YAML: {error.problem}",
        )
        raise InvalidRulesError((issue,)) from None
    return LoadedYaml(source, tree)
