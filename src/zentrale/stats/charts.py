"""Chart geometry for the dashboard's inline SVG: bars per period, drawn by the template.

Totals per period are summed over the report's rows (counts add up; the service level is
recomputed from its counts), then scaled to the chart's box. No script is needed to draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zentrale.stats.report import StatsRow

WIDTH, HEIGHT = 720, 200


@dataclass(frozen=True)
class Bar:
    """One bar: its box in SVG units, the period label and the value it shows."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    kind: str


@dataclass(frozen=True)
class Totals:
    """Summed figures of one period over every department or agent."""

    label: str
    offered: int
    answered: int
    abandoned: int
    in_service_level: int

    @property
    def service_level(self) -> float:
        """Share of offered calls answered within the threshold (0 without calls)."""
        return self.in_service_level / self.offered if self.offered else 0.0


def totals(rows: Iterable[StatsRow], period: str) -> list[Totals]:
    """Return the per-period sums of ROWS, oldest first."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        label = _label(row, period)
        found = sums.setdefault(label, [0, 0, 0, 0])
        for n, value in enumerate(
            (row.offered, row.answered, row.abandoned, row.answered_in_service_level)
        ):
            found[n] += value
    return [Totals(label, *values) for label, values in sorted(sums.items())]


def _label(row: StatsRow, period: str) -> str:
    start = row.period_start
    return start.strftime("%Y-%m-%d %H:00" if period == "hour" else "%Y-%m-%d")


def call_bars(points: list[Totals]) -> list[Bar]:
    """Return answered and abandoned bars side by side for each period."""
    if not points:
        return []
    top = max(max(p.answered, p.abandoned) for p in points) or 1
    slot = WIDTH / len(points)
    bars = []
    for n, point in enumerate(points):
        for m, (kind, value) in enumerate(
            (("answered", point.answered), ("abandoned", point.abandoned))
        ):
            height = (HEIGHT - 20) * value / top
            x = n * slot + slot * 0.1 + m * slot * 0.4
            bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(HEIGHT - height, 1),
                    width=round(slot * 0.4, 1),
                    height=round(height, 1),
                    label=point.label,
                    value=value,
                    kind=kind,
                )
            )
    return bars


def level_bars(points: list[Totals]) -> list[Bar]:
    """Return one bar per period for the service level (0-100 %)."""
    if not points:
        return []
    slot = WIDTH / len(points)
    bars = []
    for n, point in enumerate(points):
        height = (HEIGHT - 20) * point.service_level
        bars.append(
            Bar(
                x=round(n * slot + slot * 0.15, 1),
                y=round(HEIGHT - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=point.label,
                value=round(100 * point.service_level, 1),
                kind="service_level",
            )
        )
    return bars
