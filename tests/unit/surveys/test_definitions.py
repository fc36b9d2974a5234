"""Survey definitions in the routing file: the new question form, the old one, located errors."""

from __future__ import annotations

import pytest

from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.load import parse_rules
from zentrale.routing.survey import plan_survey

RULES = """\
version: 1
timezone: Europe/Berlin
languages: {available: [de, en], default: de, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
  frage1: {de: "sound:de/frage1", en: "sound:en/question1"}
  frage2: {de: "sound:de/frage2"}
  nochmal: {de: "sound:de/nochmal", en: "sound:en/again"}
  danke: {de: "sound:de/danke", en: "sound:en/thanks"}
departments:
  service:
    agents: [{endpoint: "PJSIP/1001", name: Anna}]
    on_max_wait: {play_and_hangup: bye}
    survey: zufriedenheit
surveys:
  zufriedenheit:
    questions:
      - {id: freundlich, prompt: frage1, scale: 1-5, timeout: 5s, retries: 2}
      - {prompt: frage2, scale: yes/no}
      - {id: empfehlung, prompt: frage1, scale: 0-10}
    retry_prompt: nochmal
    thanks: danke
  alt: {questions: [frage1, frage2], max_digit: 3}
entry_rules:
  - {name: all, action: {department: service}}
"""


def _error(old: str, new: str) -> str:
    assert old in RULES, old
    with pytest.raises(InvalidRulesError) as caught:
        parse_rules(RULES.replace(old, new, 1), "routing.yaml")
    (issue,) = caught.value.issues
    return str(issue)


def test_questions_with_scales_in_each_language_with_fallbacks() -> None:
    rules = parse_rules(RULES)
    english = plan_survey(rules, "zufriedenheit", "en")
    assert [(q.name, q.sound, q.scale.text, q.timeout, q.retries) for q in english.questions] == [
        ("freundlich", "sound:en/question1", "1-5", 5.0, 2),
        ("frage2", "sound:de/frage2", "yes/no", 8.0, 1),  # no English: the default language
        ("empfehlung", "sound:en/question1", "0-10", 8.0, 1),
    ]
    assert (english.thanks, english.retry) == ("sound:en/thanks", "sound:en/again")


def test_bare_prompt_names_still_work_with_max_digit() -> None:
    plan = plan_survey(parse_rules(RULES), "alt", "de")
    assert [(q.name, q.scale.text) for q in plan.questions] == [
        ("frage1", "1-3"),
        ("frage2", "1-3"),
    ]
    assert plan.thanks is None


def test_a_bad_scale_names_file_line_and_field() -> None:
    line = RULES.splitlines().index("      - {prompt: frage2, scale: yes/no}") + 1
    message = _error("scale: yes/no", "scale: 1-20")
    assert message.startswith(f"routing.yaml:{line}:")
    assert "surveys.zufriedenheit.questions[1].scale" in message
    assert "'1-20' is not an answer scale" in message


def test_an_unknown_question_prompt_is_located() -> None:
    message = _error("{prompt: frage2,", "{prompt: frage9,")
    assert "surveys.zufriedenheit.questions[1].prompt" in message
    assert "unknown prompt 'frage9'" in message


def test_repeated_question_names_are_refused() -> None:
    message = _error("id: empfehlung, ", "id: freundlich, ")
    assert "surveys.zufriedenheit" in message
    assert "question names repeat: freundlich" in message


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("timeout: 5s", "timeout: soon", "is not a duration"),
        ("retries: 2", "retries: 9", "less than or equal to 5"),
        ("retry_prompt: nochmal", "retry_prompt: fehlt", "unknown prompt 'fehlt'"),
        ("scale: 1-5,", "scael: 1-5,", "unknown key 'scael'"),
    ],
)
def test_other_question_errors(old: str, new: str, said: str) -> None:
    assert said in _error(old, new)
