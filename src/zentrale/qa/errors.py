"""Errors of QA reviews: evaluations and scorecards not found, answers that do not fit."""

from __future__ import annotations

from zentrale.base.errors import InvalidRequestError, NotFoundError


class EvaluationNotFoundError(NotFoundError):
    """No evaluation with this id that the user may see."""

    code = "evaluation-not-found"


class ScorecardNotFoundError(NotFoundError):
    """No scorecard for this department."""

    code = "scorecard-not-found"


class InvalidAnswersError(InvalidRequestError):
    """The evaluation's answers do not fit the scorecard."""

    code = "invalid-answers"
