"""One script or article file: YAML front matter (title, departments, tags) and a Markdown text.

A file starts with a line `---`, the front matter, and another `---`; the Markdown text
follows. Parsing reports every problem as an `Issue` with file, line and column, so the
supervisor who wrote it is pointed at the line to fix (as the routing rules do). Scripts may
use placeholders such as `{customer.name}`, filled in for the call the agent takes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.routing.errors import DocPath, Issue, format_path

Kind = Literal["script", "article"]
PLACEHOLDERS: dict[str, str] = {
    "customer.name": "name",
    "customer.customer_number": "customer_number",
    "customer.language": "language",
    "customer.numbers": "numbers",
    "caller": "caller",
    "department": "department",
    "agent.name": "agent",
}
"""Placeholder → field name in the filled script (`data-field` of the page)."""
CUSTOMER_FIELDS = frozenset(name for name in PLACEHOLDERS if name.startswith("customer."))
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
FILE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
BODY_LIMIT = 100_000


class FrontMatter(BaseModel):
    """The keys between the two `---` lines."""

    model_config = ConfigDict(extra="forbid", strict=True)
    title: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")


@dataclass(frozen=True, slots=True)
class Document:
    """A script or an article, validated."""

    id: str
    kind: Kind
    path: str
    title: str
    departments: tuple[str, ...]
    tags: tuple[str, ...]
    language: str | None
    body: str
    body_line: int
    """1-based line of the file on which the Markdown text starts."""
    departments_at: tuple[int, int] = (2, 1)
    """Line and column of the `departments:` key."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What parsing one file gave: the document (None if it has errors) and its issues."""

    document: Document | None
    issues: tuple[Issue, ...]


def parse_document(
    text: str, source: str, kind: Kind, departments: frozenset[str] | None
) -> Parsed:
    """Parse file TEXT (named SOURCE, `scripts/x.md`); check departments against DEPARTMENTS."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".md")
    issues: list[Issue] = []
    if not FILE_ID.fullmatch(name):
        issues.append(_at(source, 1, 1, "", f"file name '{name}.md': use a-z, 0-9, - and _ only"))
    split = _split(text, source)
    if isinstance(split, Issue):
        return Parsed(None, (*issues, split))
    front_text, body, body_line = split
    front, more, departments_at = _front_matter(front_text, source, departments)
    issues += more
    if not body.strip():
        issues.append(_at(source, body_line, 1, "", "the text after the front matter is empty"))
    if len(body) > BODY_LIMIT:
        issues.append(_at(source, body_line, 1, "", f"the text is over {BODY_LIMIT} characters"))
    if kind == "script":
        issues += placeholder_issues(body, source, body_line)
    if issues or front is None:
        return Parsed(None, tuple(issues))
    document = Document(
        id=name,
        kind=kind,
        path=source,
        title=front.title.strip(),
        departments=tuple(front.departments),
        tags=tuple(tag.strip() for tag in front.tags),
        language=front.language,
        body=body,
        body_line=body_line,
        departments_at=departments_at,
    )
    return Parsed(document, ())


def placeholder_issues(body: str, source: str, body_line: int) -> list[Issue]:
    """Return an issue for every `{...}` in BODY that is not a known placeholder."""
    issues = []
    for match in PLACEHOLDER.finditer(body):
        if match.group(1) in PLACEHOLDERS:
            continue
        line = body_line + body.count("\n", 0, match.start())
        column = match.start() - (body.rfind("\n", 0, match.start()) + 1) + 1
        known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        message = f"unknown placeholder {match.group(0)}{_close(match.group(1), PLACEHOLDERS)}"
        issues.append(_at(source, line, column, "", f"{message}; known: {known}"))
    return issues


def _split(text: str, source: str) -> tuple[str, str, int] | Issue:
    """Return (front matter, body, first body line), or the issue why the file has none."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return _at(
            source,
            1,
            1,
            "",
            "missing front matter: start the file with a line '---', then "
            "title: and departments:, and close it with another '---'",
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return _at(source, 1, 1, "", "the front matter is not closed: add a line '---' after it")


def _front_matter(
    text: str, source: str, departments: frozenset[str] | None
) -> tuple[FrontMatter | None, list[Issue], tuple[int, int]]:
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as error:
        issue = _at(source, error.line + 1, error.column, "", f"bad front matter: {error.problem}")
        return None, [issue], (2, 1)
    if not isinstance(tree, dict):
        message = "bad front matter: it must be keys such as title: and departments:"
        return None, [_at(source, 2, 1, "", message)], (2, 1)

    def located(path: DocPath, message: str) -> Issue:
        line, column = locate(tree, path)
        return _at(source, line + 1, column, format_path(path), message)

    try:
        front = FrontMatter.model_validate(_plain(tree))
    except ValidationError as error:
        return None, [_schema_issue(located, detail) for detail in error.errors()], (2, 1)
    issues = []
    if departments is not None:
        for index, department in enumerate(front.departments):
            if department not in departments:
                known = ", ".join(sorted(departments)) or "none"
                message = f"unknown department '{department}'{_close(department, departments)}"
                issues.append(located(("departments", index), f"{message}; known: {known}"))
    line, column = locate(tree, ("departments",))
    return front, issues, (line + 1, column)


def _schema_issue(issue: Callable[[DocPath, str], Issue], detail: Any) -> Issue:
    path = tuple(part for part in detail["loc"] if part != "[key]")
    kind = detail["type"]
    if kind == "extra_forbidden":
        known = ", ".join(FrontMatter.model_fields)
        return issue(path, f"unknown key '{path[-1]}' in the front matter; known: {known}")
    if kind == "missing":
        return issue(path[:-1], f"missing required key '{path[-1]}' in the front matter")
    return issue(path, f"{detail['msg']} (found {detail['input']!r})"[:300])


def _plain(value: Any) -> Any:
    """Turn ruamel's maps and sequences into plain ones (pydantic's strict mode wants those)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, str) else value


def _close(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _at(source: str, line: int, column: int, path: str, message: str) -> Issue:
    return Issue(file=source, line=line, column=column, path=path, message=message)
