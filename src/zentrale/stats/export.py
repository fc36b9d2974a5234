"""A report's rows as JSON-ready dictionaries and as CSV (one line per department/agent and period).

The CSV flattens the survey scores to the two summaries supervisors ask for: the mean and
CSAT of 1-5 answers and the NPS of 0-10 answers; the JSON keeps every scale's distribution.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from zentrale.stats.report import StatsRow
from zentrale.stats.spec import ReportSpec

CSV_COLUMNS = (
    "key",
    "period_start",
    "offered",
    "answered",
    "abandoned",
    "abandoned_short",
    "dropped",
    "abandon_rate",
    "service_level",
    "answered_in_service_level",
    "avg_wait",
    "p90_wait",
    "avg_handle",
    "conversations",
    "transfers",
    "overflows",
    "surveys_answered",
    "surveys_unanswered",
    "surveys_abandoned",
    "score_mean_1_5",
    "csat",
    "nps",
    "suggestions",
    "analysed_recordings",
    "avg_agent_talk_share",
    "avg_overtalk_share",
    "avg_longest_dead_air",
)


def row_dict(row: StatsRow) -> dict[str, Any]:
    """Return ROW's figures as plain JSON values."""
    return {
        "key": row.key,
        "period_start": row.period_start.isoformat(),
        "offered": row.offered,
        "answered": row.answered,
        "abandoned": row.abandoned,
        "abandoned_short": row.abandoned_short,
        "dropped": row.dropped,
        "abandon_rate": row.abandon_rate,
        "service_level": row.service_level,
        "answered_in_service_level": row.answered_in_service_level,
        "avg_wait": row.avg_wait,
        "p90_wait": row.p90_wait,
        "avg_handle": row.avg_handle,
        "conversations": row.conversations,
        "transfers": row.transfers,
        "overflows": row.overflows,
        "suggestions": row.suggestions,
        "surveys_answered": row.surveys_answered,
        "surveys_unanswered": row.surveys_unanswered,
        "surveys_abandoned": row.surveys_abandoned,
        "analysed_recordings": row.analysed_recordings,
        "avg_agent_talk_share": row.avg_agent_talk_share,
        "avg_overtalk_share": row.avg_overtalk_share,
        "avg_longest_dead_air": row.avg_longest_dead_air,
        "scores": {
            scale: {
                "count": s.count,
                "mean": s.mean,
                "csat": s.csat,
                "nps": s.nps,
                "distribution": {str(k): v for k, v in s.distribution.items()},
            }
            for scale, s in row.scores.items()
        },
    }


def report_dict(spec: ReportSpec, rows: Iterable[StatsRow]) -> dict[str, Any]:
    """Return the whole report: what was asked and the rows."""
    return {
        "group": spec.group,
        "period": spec.period,
        "from": spec.first_day.isoformat(),
        "to": spec.last_day.isoformat(),
        "timezone": spec.zone.key,
        "service_level": {"default": spec.default_service_level, **spec.service_level},
        "short_abandon": spec.short_abandon,
        "rows": [row_dict(row) for row in rows],
    }


def csv_text(rows: Iterable[StatsRow]) -> str:
    """Return ROWS as CSV with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = row_dict(row)
        five, eleven = row.scores.get("1-5"), row.scores.get("0-10")
        values["score_mean_1_5"] = five.mean if five else None
        values["csat"] = five.csat if five else None
        values["nps"] = eleven.nps if eleven else None
        writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
    return out.getvalue()
