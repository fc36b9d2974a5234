"""Turning routing YAML into `Rules`, or into located errors that say what is wrong.

Three stages, each reporting with file, line, column and document path: YAML syntax
(loader.py), the schema (schema.py, whose pydantic errors are translated here), and the
whole-document checks (validate.py). Only a file passing all three becomes `Rules`.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from zentrale.routing import schema
from zentrale.routing.entry import build_index
from zentrale.routing.errors import InvalidRulesError, Issue
from zentrale.routing.loader import LoadedYaml, load_yaml
from zentrale.routing.rules import Rules
from zentrale.routing.schema import RoutingDocument
from zentrale.routing.validate import check_document


def load_rules(path: Path) -> Rules:
    """Read and validate the routing file at `path` (blocking: run it off the event loop)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        issue = Issue(
            file=str(path), line=1, column=1, path="", message=f"cannot read file: {error}"
        )
        raise InvalidRulesError((issue,)) from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "routing.yaml") -> Rules:
    """Validate routing YAML `text`; raise `InvalidRulesError` listing every located error."""
    loaded = load_yaml(text, source)
    document = _validate_schema(loaded)
    findings = check_document(document)
    issues = sorted(
        (loaded.issue(path, message, severity) for path, message, severity in findings),
        key=lambda issue: (issue.line, issue.column),
    )
    if any(issue.severity == "error" for issue in issues):
        raise InvalidRulesError(tuple(issues))
    return _compile(document, source, text, tuple(issues))


def _validate_schema(loaded: LoadedYaml) -> RoutingDocument:
    if not isinstance(loaded.tree, dict):
        raise InvalidRulesError((loaded.issue((), "the file must be a YAML mapping of sections"),))
    try:
        return RoutingDocument.model_validate(loaded.tree)
    except ValidationError as error:
        issues = tuple(_schema_issue(loaded, detail) for detail in error.errors())
        raise InvalidRulesError(tuple(sorted(issues, key=lambda i: (i.line, i.column)))) from None


def _schema_issue(loaded: LoadedYaml, detail: ErrorDetails) -> Issue:
    path = tuple(part for part in detail["loc"] if part != "[key]")
    kind = detail["type"]
    if kind == "extra_forbidden":
        return loaded.issue(path, f"unknown key '{path[-1]}'{_suggestion(str(path[-1]))}")
    if kind == "missing":
        return loaded.issue(path[:-1], f"missing required key '{path[-1]}'")
    message = detail["msg"].removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error"):
        message += f" (found {_shown(detail['input'])})"
    return loaded.issue(path, message)


def _shown(value: Any) -> str:
    text = repr(value if not isinstance(value, dict | list) else type(value).__name__)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggestion(key: str) -> str:
    names = {
        name
        for model in vars(schema).values()
        if isinstance(model, type) and issubclass(model, schema.Strict)
        for name in model.model_fields
    }
    close = difflib.get_close_matches(key, sorted(names), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _compile(doc: RoutingDocument, source: str, text: str, warnings: tuple[Issue, ...]) -> Rules:
    zones = {
        name: ZoneInfo(schedule.timezone)
        for name, schedule in doc.schedules.items()
        if schedule.timezone is not None
    }
    return Rules(
        document=doc,
        source=source,
        text=text,
        version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:12],
        warnings=warnings,
        zone=ZoneInfo(doc.timezone),
        zones=zones,
        entry=build_index(doc.entry_rules),
    )
