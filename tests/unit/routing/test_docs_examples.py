"""Every complete rules document shown in the supervisor guide is valid and its cases pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zentrale.routing.load import parse_rules
from zentrale.routing.simulate import run_expectations

GUIDE = Path(__file__).parents[3] / "docs" / "routing.md"
BLOCKS = [
    block
    for block in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    if block.startswith("version: 1")
]


def test_the_guide_has_a_complete_example() -> None:
    assert BLOCKS, "docs/routing.md lost its complete examples"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: f"{len(block.splitlines())} lines")
def test_guide_example_is_valid_and_its_expect_cases_pass(block: str) -> None:
    rules = parse_rules(block, "docs/routing.md")
    results = run_expectations(rules)
    assert all(result.passed for result in results), results
