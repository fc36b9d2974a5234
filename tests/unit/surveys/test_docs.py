"""The example in docs/surveys.md is a valid routing file and says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.load import parse_rules
from zentrale.routing.survey import plan_survey

GUIDE = (Path(__file__).parents[3] / "docs" / "surveys.md").read_text()
(EXAMPLE,) = [b for b in re.findall(r"```yaml\n(.*?)```", GUIDE, re.DOTALL) if "version: 1" in b]


def test_the_example_loads_with_the_described_fallbacks() -> None:
    rules = parse_rules(EXAMPLE, "routing.yaml")
    english = plan_survey(rules, "zufriedenheit", "en")
    assert [q.sound for q in english.questions] == [
        "sound:en/survey-friendly",
        "sound:en/survey-solved",
        "sound:de/umfrage-empfehlung",
    ]
    assert [q.scale.text for q in english.questions] == ["1-5", "yes/no", "0-10"]


def test_the_error_shown_in_the_guide_is_the_one_given() -> None:
    with pytest.raises(InvalidRulesError) as caught:
        parse_rules(EXAMPLE.replace("scale: 1-5", "scale: 1-20"), "routing.yaml")
    message = str(caught.value.issues[0])
    shown = re.search(r"`(routing\.yaml:\d+:\d+: error:\s[^`]*)`", GUIDE, re.DOTALL)
    assert shown is not None
    assert message == " ".join(shown.group(1).split())
