"""Scorecards: per-department review forms in YAML, validated with file:line errors, and scoring.

`config/scorecards.yaml` maps department names (or `default`) to a scorecard of sections
and weighted questions; a question is answered yes/no or on a 1-5 scale, and an `auto_fail`
question answered "no" (or 1) fails the whole evaluation. Scoring is pure: `score(card,
answers)` returns the percentage and the verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zentrale.base.errors import ZentraleError
from zentrale.base.yamlmarks import YamlSyntaxError, locate, parse_yaml
from zentrale.qa.errors import InvalidAnswersError

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
DEFAULT = "default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Strict):
    """One question: yes/no or a 1-5 scale, weighted; `auto_fail` fails the evaluation."""

    id: Ident
    text: str = Field(min_length=1, max_length=300)
    text_de: str | None = Field(default=None, max_length=300)
    kind: Literal["yes_no", "scale"] = "yes_no"
    weight: float = Field(default=1.0, gt=0, le=100)
    auto_fail: bool = False


class Section(_Strict):
    """A titled group of questions."""

    id: Ident
    title: str = Field(min_length=1, max_length=120)
    title_de: str | None = Field(default=None, max_length=120)
    questions: tuple[Question, ...] = Field(min_length=1)


class Scorecard(_Strict):
    """The review form of one department."""

    title: str = Field(min_length=1, max_length=120)
    pass_mark: float = Field(default=80, ge=0, le=100)
    sections: tuple[Section, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scorecard:
        seen: set[str] = set()
        for question in self.questions():
            if question.id in seen:
                raise ValueError(f"question id {question.id!r} is used twice")
            seen.add(question.id)
        return self

    def questions(self) -> list[Question]:
        """Return every question, in order."""
        return [question for section in self.sections for question in section.questions]

    def version(self) -> str:
        """Return a short hash of the definition, stored with each evaluation."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _File(_Strict):
    version: Literal[1] = 1
    scorecards: dict[Ident, Scorecard]


class ScorecardError(ZentraleError):
    """The scorecards file is invalid; each problem names file:line:column."""

    code = "scorecard"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid scorecards:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Scorecards:
    """The loaded scorecards, by department."""

    cards: Mapping[str, Scorecard]

    def for_department(self, department: str | None) -> tuple[str, Scorecard] | None:
        """Return (name, scorecard) for DEPARTMENT, else the default one, else None."""
        if department is not None and department in self.cards:
            return department, self.cards[department]
        if DEFAULT in self.cards:
            return DEFAULT, self.cards[DEFAULT]
        return None


def parse_scorecards(text: str, source: str = "<scorecards>") -> Scorecards:
    """Parse and validate TEXT; raise ScorecardError with positions."""
    try:
        tree = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ScorecardError([f"{source}:{exc}"]) from None
    try:
        parsed = _File.model_validate(tree)
    except ValidationError as exc:
        raise ScorecardError([_describe(error, tree, source) for error in exc.errors()]) from None
    return Scorecards(parsed.scorecards)


def load_scorecards(path: Path) -> Scorecards:
    """Load PATH; a missing file means no scorecards (evaluations are then refused)."""
    if not path.is_file():
        return Scorecards({})
    return parse_scorecards(path.read_text(encoding="utf-8"), str(path))


def _describe(error: Mapping[str, Any], tree: Any, source: str) -> str:
    loc = tuple(str(part) for part in error["loc"])
    line, column = locate(tree, loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{source}:{line}:{column}: {'.'.join(loc) or '(top)'}: {message}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The computed result of an evaluation."""

    score: float
    auto_failed: bool
    passed: bool


def score(card: Scorecard, answers: Mapping[str, Any]) -> Verdict:
    """Score ANSWERS (question id -> bool or 1-5) against CARD; raise InvalidAnswersError."""
    questions = card.questions()
    _check_keys(questions, answers)
    earned = total = 0.0
    auto_failed = False
    for question in questions:
        fraction = _fraction(question, answers[question.id])
        earned += fraction * question.weight
        total += question.weight
        auto_failed = auto_failed or (question.auto_fail and fraction == 0)
    percent = 0.0 if auto_failed else round(100 * earned / total, 1)
    return Verdict(percent, auto_failed, not auto_failed and percent >= card.pass_mark)


def _check_keys(questions: list[Question], answers: Mapping[str, Any]) -> None:
    expected = {question.id for question in questions}
    missing, extra = expected - set(answers), set(answers) - expected
    if missing or extra:
        parts = [f"missing: {', '.join(sorted(missing))}"] if missing else []
        parts += [f"unknown: {', '.join(sorted(extra))}"] if extra else []
        raise InvalidAnswersError("answers do not fit the scorecard (" + "; ".join(parts) + ")")


def _fraction(question: Question, answer: Any) -> float:
    if question.kind == "yes_no":
        if not isinstance(answer, bool):
            raise InvalidAnswersError(f"{question.id}: answer true or false")
        return 1.0 if answer else 0.0
    if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= 5:
        raise InvalidAnswersError(f"{question.id}: answer a whole number from 1 to 5")
    return (answer - 1) / 4
