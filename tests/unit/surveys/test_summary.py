"""Per-question summaries of answer rows: counts by status, mean and distribution."""

from __future__ import annotations

from zentrale.surveys.models import AnswerStatus, SurveyAnswer
from zentrale.surveys.summary import summarise

ANSWERED, UNANSWERED, ABANDONED = AnswerStatus


def _row(position: int, answer: int | None, status: AnswerStatus) -> SurveyAnswer:
    question, scale = ("zufrieden", "1-5") if position == 1 else ("wieder", "yes/no")
    return SurveyAnswer(
        position=position, question=question, scale=scale, answer=answer, status=status
    )


def test_questions_in_order_with_counts_mean_and_distribution() -> None:
    rows = [
        _row(2, 1, ANSWERED),
        _row(1, 4, ANSWERED),
        _row(1, 5, ANSWERED),
        _row(1, 4, ANSWERED),
        _row(1, None, UNANSWERED),
        _row(2, None, ABANDONED),
        _row(2, 2, ANSWERED),
    ]
    first, second = summarise(rows)
    assert (first.question, first.answered, first.unanswered, first.abandoned) == (
        "zufrieden",
        3,
        1,
        0,
    )
    assert (first.mean, first.distribution) == (4.33, {4: 2, 5: 1})
    assert (second.question, second.scale, second.answered, second.abandoned) == (
        "wieder",
        "yes/no",
        2,
        1,
    )
    assert second.distribution == {1: 1, 2: 1}


def test_nobody_answered() -> None:
    (only,) = summarise([_row(1, None, UNANSWERED)])
    assert (only.mean, only.distribution, only.unanswered) == (None, {}, 1)
    assert summarise([]) == []
