"""Survey score summaries from answer counts: mean, distribution, CSAT and NPS.

The database counts answers per value; this turns the counts of one scale into figures.
CSAT is the share of 4s and 5s on a 1-5 scale; NPS (0-10 scale) is the percentage of 9s
and 10s minus the percentage of 0s to 6s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleScores:
    """The answers given on one scale (such as `1-5`) in one row of a report."""

    scale: str
    count: int
    mean: float
    distribution: dict[int, int]
    csat: float | None = None
    nps: float | None = None


def scale_scores(scale: str, counts: Mapping[int, int]) -> ScaleScores:
    """Summarise COUNTS (answer value -> how many) given on SCALE."""
    total = sum(counts.values())
    mean = round(sum(value * n for value, n in counts.items()) / total, 3) if total else 0.0
    distribution = dict(sorted(counts.items()))
    csat = nps = None
    if scale == "1-5" and total:
        csat = round(sum(n for value, n in counts.items() if value >= 4) / total, 4)
    if scale == "0-10" and total:
        promoters = sum(n for value, n in counts.items() if value >= 9)
        detractors = sum(n for value, n in counts.items() if value <= 6)
        nps = round(100 * (promoters - detractors) / total, 1)
    return ScaleScores(
        scale=scale, count=total, mean=mean, distribution=distribution, csat=csat, nps=nps
    )
