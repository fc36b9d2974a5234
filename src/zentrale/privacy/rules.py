"""Retention rules: how long recordings and call records are kept, read from YAML.

Rules match a call's department, direction, outcome or a recording's tag; the first rule
that matches wins, and the required `default` covers everything else. Matching is pure (facts
in, rule out); loading refuses a bad file with file, line, column and field of each problem,
the way the routing rules do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from zentrale.base.errors import ZentraleError
from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.calls.models import Direction, Outcome

DEFAULT_RULE = "default"
_PERIOD = re.compile(r"^(\d+)\s*(d|w|y)$")
_UNIT_DAYS = {"d": 1, "w": 7, "y": 365}


def parse_period(value: object) -> dt.timedelta:
    """Return the period of `180d`, `26w` or `2y` (a year is 365 days)."""
    match = _PERIOD.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a period; write it like 180d, 26w or 2y")
    days = int(match.group(1)) * _UNIT_DAYS[match.group(2)]
    if days <= 0:
        raise ValueError(f"{value!r}: a retention period must be at least one day")
    return dt.timedelta(days=days)


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


Period = Annotated[dt.timedelta, BeforeValidator(parse_period)]
Names = Annotated[tuple[str, ...], BeforeValidator(_listed), Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """What a rule looks at; every field given must match (a list means any of these)."""

    department: Names | None = None
    direction: Annotated[tuple[Direction, ...], BeforeValidator(_listed)] | None = None
    outcome: Annotated[tuple[Outcome, ...], BeforeValidator(_listed)] | None = None
    tag: Names | None = None


class RuleSpec(_Strict):
    """One rule as written."""

    name: str = Field(min_length=1, max_length=128)
    when: Match
    keep: Period


class RetentionDocument(_Strict):
    """The whole retention file."""

    default: Period
    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Facts:
    """What retention looks at for a recording or a call."""

    department: str | None
    direction: str | None
    outcome: str | None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rule:
    """The rule that applies: its name and how long data under it is kept."""

    name: str
    keep: dt.timedelta


@dataclass(frozen=True, slots=True)
class RetentionRules:
    """A validated retention file."""

    document: RetentionDocument
    source: str

    def rule_for(self, facts: Facts) -> Rule:
        """Return the first rule matching FACTS, else the default."""
        for spec in self.document.rules:
            if _matches(spec.when, facts):
                return Rule(spec.name, spec.keep)
        return Rule(DEFAULT_RULE, self.document.default)

    def names(self) -> list[str]:
        """Return every rule's name, the default last."""
        return [spec.name for spec in self.document.rules] + [DEFAULT_RULE]


def _matches(when: Match, facts: Facts) -> bool:
    checks = (
        when.department is None or facts.department in when.department,
        when.direction is None or facts.direction in when.direction,
        when.outcome is None or facts.outcome in when.outcome,
        when.tag is None or bool(facts.tags & set(when.tag)),
    )
    return all(checks)


class InvalidRetentionRulesError(ZentraleError):
    """A retention file that cannot be used; each problem names file, line, column, field."""

    code = "invalid-retention-rules"

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid retention rules:\n  " + "\n  ".join(self.problems))


def load_retention(path: Path) -> RetentionRules:
    """Read and validate the retention file at PATH (blocking)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRetentionRulesError([f"{path}:1:1: cannot read the file: {exc}"]) from None
    return parse_retention(text, str(path))


def parse_retention(text: str, source: str = "retention.yaml") -> RetentionRules:
    """Validate retention YAML TEXT; raise InvalidRetentionRulesError naming every problem."""
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise InvalidRetentionRulesError([f"{source}:{exc}"]) from None
    if not isinstance(tree, dict):
        raise InvalidRetentionRulesError(
            [f"{source}:1:1: the file must be a mapping with 'default'"]
        )
    try:
        document = RetentionDocument.model_validate(tree)
    except ValidationError as exc:
        raise InvalidRetentionRulesError(_located(exc, tree, source)) from None
    _check_names(document, tree, source)
    return RetentionRules(document, source)


def _located(exc: ValidationError, tree: Any, source: str) -> list[str]:
    found: set[tuple[int, int, str]] = set()
    for error in exc.errors():
        loc = _trim(tuple(error["loc"]))
        field = ".".join(str(part) for part in loc)
        missing = error["type"] == "missing"
        line, column = locate(tree, loc[:-1] if missing else loc)
        message = "required field is missing" if missing else _message(error)
        found.add((line, column, f"{source}:{line}:{column}: {field}: {message}"))
    return [text for _line, _column, text in sorted(found)]


def _trim(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic names the union member ("tuple[...]") inside the path; drop such parts.
    return tuple(part for part in loc if not (isinstance(part, str) and "[" in part))


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return (
            "unknown field (known: default, rules; name, when, keep; department, "
            "direction, outcome, tag)"
        )
    return str(error["msg"]).removeprefix("Value error, ")


def _check_names(document: RetentionDocument, tree: Any, source: str) -> None:
    seen: set[str] = set()
    for index, spec in enumerate(document.rules):
        if spec.name in seen or spec.name == DEFAULT_RULE:
            line, column = locate(tree, ("rules", index, "name"))
            raise InvalidRetentionRulesError(
                [f"{source}:{line}:{column}: rules.{index}.name: '{spec.name}' is used twice"]
            )
        seen.add(spec.name)
