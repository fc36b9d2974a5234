"""A survey as it is put to one caller: each question's sound in the caller's language.

Built from the routing rules (`surveys:`) for a language, with the rules' prompt fallbacks, by
the routing engine (after-call surveys) and by outbound campaigns alike. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from zentrale.routing.rules import Rules
from zentrale.routing.scale import Scale


@dataclass(frozen=True, slots=True)
class SurveyQuestion:
    """One question ready to play: where answers are stored, its sound, scale and patience."""

    name: str
    sound: str
    scale: Scale
    timeout: float
    retries: int


@dataclass(frozen=True, slots=True)
class SurveyPlan:
    """The questions of one survey in one language, and the sounds around them."""

    name: str
    questions: tuple[SurveyQuestion, ...]
    thanks: str | None
    retry: str | None


def plan_survey(rules: Rules, name: str, language: str) -> SurveyPlan:
    """Return survey NAME of RULES in LANGUAGE (KeyError when the rules have no such survey)."""
    survey = rules.document.surveys[name]
    questions = tuple(
        SurveyQuestion(
            name=question.name,
            sound=rules.sound(question.prompt, language),
            scale=survey.scale_of(question),
            timeout=question.timeout,
            retries=question.retries,
        )
        for question in survey.questions
    )
    thanks = rules.sound(survey.thanks, language) if survey.thanks else None
    retry = rules.sound(survey.retry_prompt, language) if survey.retry_prompt else None
    return SurveyPlan(name=name, questions=questions, thanks=thanks, retry=retry)
