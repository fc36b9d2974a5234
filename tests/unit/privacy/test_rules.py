"""Retention rules: parsing with located errors, and first-match-wins matching (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from zentrale.privacy.rules import (
    Facts,
    InvalidRetentionRulesError,
    load_retention,
    parse_period,
    parse_retention,
)

REPO = Path(__file__).resolve().parents[3]
RULES = """\
default: 1y
rules:
  - name: complaints
    when: {tag: [complaint, escalated]}
    keep: 2y
  - name: sales-inbound
    when: {department: sales, direction: inbound}
    keep: 180d
  - name: unanswered
    when: {outcome: [abandoned, no_answer]}
    keep: 4w
"""


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidRetentionRulesError) as caught:
        parse_retention(text, "r.yaml")
    return caught.value.problems


@pytest.mark.parametrize(
    ("facts", "rule", "days"),
    [
        (
            Facts(
                department="sales",
                direction="inbound",
                outcome="answered",
                tags=frozenset({"complaint"}),
            ),
            "complaints",
            730,
        ),
        (Facts("sales", "inbound", "answered"), "sales-inbound", 180),
        (Facts("sales", "outbound", "answered"), "default", 365),
        (Facts("support", "inbound", "abandoned"), "unanswered", 28),
        (
            Facts(department=None, direction=None, outcome=None, tags=frozenset({"escalated"})),
            "complaints",
            730,
        ),
        (Facts(None, None, None), "default", 365),
    ],
)
def test_the_first_matching_rule_wins(facts: Facts, rule: str, days: int) -> None:
    found = parse_retention(RULES).rule_for(facts)
    assert (found.name, found.keep) == (rule, dt.timedelta(days=days))


def test_the_example_file_is_valid() -> None:
    rules = load_retention(REPO / "config" / "retention.yaml")
    assert rules.names() == ["complaints", "sales", "default"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: []\n", "r.yaml:1:1: default: required field is missing"),
        ("default: 1 year\n", "r.yaml:1:1: default: '1 year' is not a period"),
        ("default: 0d\n", "r.yaml:1:1: default: '0d': a retention period must be at least"),
        (
            "default: 1y\nrules:\n  - name: a\n    when: {dept: x}\n    keep: 2y\n",
            "r.yaml:4:12: rules.0.when.dept: unknown field",
        ),
        (
            "default: 1y\nrules:\n  - name: a\n    when: {direction: sideways}\n    keep: 2y\n",
            "r.yaml:4:12: rules.0.when.direction.0: Input should be 'inbound' or 'outbound'",
        ),
        (
            "default: 1y\nrules:\n  - name: a\n    keep: 2y\n",
            "r.yaml:3:5: rules.0.when: required field is missing",
        ),
        (
            "default: 1y\nrules:\n  - {name: a, when: {tag: x}, keep: 2y}\n"
            "  - {name: a, when: {tag: y}, keep: 1y}\n",
            "r.yaml:4:6: rules.1.name: 'a' is used twice",
        ),
        ("default: [1y\n", "r.yaml:2:1: not valid YAML"),
        ("- 1y\n", "r.yaml:1:1: the file must be a mapping"),
    ],
)
def test_a_bad_file_is_refused_naming_file_line_and_field(text: str, expected: str) -> None:
    found = problems(text)
    assert any(problem.startswith(expected) for problem in found), found


def test_every_problem_is_reported_in_file_order() -> None:
    found = problems("default: x\nrules:\n  - name: a\n    when: {outcome: maybe}\n    keep: y\n")
    assert [p.split(": ")[0] for p in found] == ["r.yaml:1:1", "r.yaml:4:12", "r.yaml:5:5"]


def test_a_missing_file_is_named() -> None:
    with pytest.raises(
        InvalidRetentionRulesError, match=r"nowhere\.yaml:1:1: cannot read the file"
    ):
        load_retention(Path("/nowhere.yaml"))


@pytest.mark.parametrize(("text", "days"), [("180d", 180), ("26w", 182), ("2y", 730)])
def test_periods(text: str, days: int) -> None:
    assert parse_period(text) == dt.timedelta(days=days)
