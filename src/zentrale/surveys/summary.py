"""Per-question summaries of survey answers (a campaign's results): counts, mean, distribution.

Pure: takes answer rows, returns figures in question order. The statistics reports
(`zentrale.stats`) give the per-department and per-period view; this is the campaign's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from zentrale.surveys.models import AnswerStatus, SurveyAnswer


@dataclass
class QuestionSummary:
    """How one question was answered."""

    position: int
    question: str
    scale: str
    answered: int = 0
    unanswered: int = 0
    abandoned: int = 0
    distribution: dict[int, int] = field(default_factory=dict)

    @property
    def mean(self) -> float | None:
        """Return the mean answer (None when nobody answered)."""
        total = sum(self.distribution.values())
        if not total:
            return None
        return round(sum(k * n for k, n in self.distribution.items()) / total, 2)


def summarise(answers: Iterable[SurveyAnswer]) -> list[QuestionSummary]:
    """Return one summary per question, in question order."""
    found: dict[tuple[int, str], QuestionSummary] = {}
    counts: dict[tuple[int, str], Counter[int]] = {}
    for row in answers:
        key = (row.position, row.question)
        summary = found.setdefault(key, QuestionSummary(row.position, row.question, row.scale))
        if row.status is AnswerStatus.ANSWERED and row.answer is not None:
            summary.answered += 1
            counts.setdefault(key, Counter())[row.answer] += 1
        elif row.status is AnswerStatus.UNANSWERED:
            summary.unanswered += 1
        else:
            summary.abandoned += 1
    for key, summary in found.items():
        summary.distribution = dict(sorted(counts.get(key, Counter()).items()))
    return [found[key] for key in sorted(found)]
