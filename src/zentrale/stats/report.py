"""Compute a statistics report in SQL: one aggregate query per source, merged by group and period.

Sources: the call rows (offered, answered, abandoned, waits, service level), their timeline
events (transfers, overflows, handle time), survey answers, agents' suggestions and the
conversation figures of the calls' recordings (talk share, overtalk, dead air). Each query
groups by (department or agent, local period of the call's arrival) in the database and returns
only the aggregates; `compute` merges them into `StatsRow`s. The definitions are in
docs/statistics.md.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.models import Call, CallEvent, Direction, EventKind, Outcome
from zentrale.customers.models import CallNote, CallWrapUp, NoteKind
from zentrale.recording.models import Recording
from zentrale.stats.scores import ScaleScores, scale_scores
from zentrale.stats.spec import Period, ReportSpec
from zentrale.stats.sql import Expr, local_period, period_bounds, seconds
from zentrale.surveys.models import AnswerStatus, SurveyAnswer

P90 = 0.9
WORK_MEM = "64MB"
HORIZON = dt.timedelta(hours=24)
"""Events and survey answers are looked for up to this long after the range ends (a call in
the range that lasted longer would lose the later ones; see docs/statistics.md)."""
ABANDONED = (Outcome.ABANDONED_IN_QUEUE, Outcome.ABANDONED)
FAULTS = (Outcome.DROPPED, Outcome.INTERRUPTED)
"""Endings caused by Asterisk or the daemon going away: not abandons, counted as `dropped`."""
Key = tuple[str, str]


@dataclass
class StatsRow:
    """The figures of one department or agent in one period."""

    key: str
    period_start: dt.datetime
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    dropped: int = 0
    answered_in_service_level: int = 0
    avg_wait: float | None = None
    p90_wait: float | None = None
    conversations: int = 0
    handle_seconds: float = 0.0
    transfers: int = 0
    overflows: int = 0
    suggestions: int = 0
    surveys_answered: int = 0
    surveys_unanswered: int = 0
    surveys_abandoned: int = 0
    scores: dict[str, ScaleScores] = field(default_factory=dict)
    analysed_recordings: int = 0
    """Recordings with conversation figures (the averages below are over these)."""
    avg_agent_talk_share: float | None = None
    avg_overtalk_share: float | None = None
    avg_longest_dead_air: float | None = None

    @property
    def service_level(self) -> float | None:
        """Share of offered calls answered within the threshold (None without calls)."""
        return _share(self.answered_in_service_level, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        """Share of offered calls abandoned."""
        return _share(self.abandoned, self.offered)

    @property
    def avg_handle(self) -> float | None:
        """Mean seconds from an agent's answer to the end of that conversation."""
        if not self.conversations:
            return None
        return round(self.handle_seconds / self.conversations, 3)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def compute(session: AsyncSession, spec: ReportSpec) -> list[StatsRow]:
    """Return the report's rows, ordered by department/agent then period."""
    report = _Report(session, spec)
    if report.dialect == "postgresql":
        # Sort and hash a month of calls in memory (this transaction only).
        await session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        # Plan each query for its own range and bounds: from the sixth run of a prepared
        # statement PostgreSQL may switch to a generic plan, which cannot use the partial
        # indexes (their `direction = 'inbound'` against a parameter) and guesses the rows
        # of a range; planning takes well under a millisecond.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    await report.calls()
    await report.p90()
    await report.events()
    await report.surveys()
    await report.suggestions()
    await report.talk()
    return [report.rows[key] for key in sorted(report.rows)]


class _Report:
    def __init__(self, session: AsyncSession, spec: ReportSpec) -> None:
        self.session, self.spec = session, spec
        self.dialect = session.bind.dialect.name
        self.rows: dict[Key, StatsRow] = {}
        # Each period as the database returned it -> its local start and that as text (a
        # month has thousands of aggregate rows but only a few dozen periods).
        self._periods: dict[Any, tuple[dt.datetime, str]] = {}

    def row(self, key: str, period: Any) -> StatsRow:
        known = self._periods.get(period)
        if known is None:
            start = period_start(period, self.spec)
            known = self._periods[period] = (start, start.isoformat())
        found = self.rows.get((key, known[1]))
        if found is None:
            found = self.rows[key, known[1]] = StatsRow(key, known[0])
        return found

    def period(self, column: Any) -> Expr:
        spec = self.spec
        return local_period(
            dialect=self.dialect,
            column=column,
            period=spec.period,
            zone=spec.zone,
            start=spec.start,
            end=spec.end,
        )

    def in_range(self) -> list[Expr]:
        return [Call.arrived_at >= self.spec.start, Call.arrived_at < self.spec.end]

    def scoped(self, department: Any) -> list[Expr]:
        if self.spec.departments is None:
            return []
        return [department.in_(list(self.spec.departments))]

    def grouped(self, key: Any) -> Any:
        """Return KEY as grouped: byte-wise on PostgreSQL (no locale collation in the sort)."""
        return key.collate("C") if self.dialect == "postgresql" else key

    def call_key(self) -> Any:
        return Call.department if self.spec.group == "department" else Call.agent_endpoint

    # -- calls ---------------------------------------------------------------------------
    def _calls_inner(self) -> Any:
        answered = Call.agent_answered_at.is_not(None)
        abandoned = and_(Call.agent_answered_at.is_(None), Call.outcome.in_(ABANDONED))
        waited = seconds(self.dialect, func.coalesce(Call.queued_at, Call.ended_at), Call.ended_at)
        wait = case(
            (
                Call.queued_at.is_not(None),
                seconds(self.dialect, Call.queued_at, Call.agent_answered_at),
            )
        )
        key = self.call_key()
        query = select(
            self.grouped(key).label("key"),
            self.period(Call.arrived_at).label("period"),
            _flag(answered).label("answered"),
            _flag(abandoned).label("abandoned"),
            _flag(and_(abandoned, waited <= self.spec.short_abandon)).label("short"),
            _flag(and_(Call.agent_answered_at.is_(None), Call.outcome.in_(FAULTS))).label(
                "dropped"
            ),
            wait.label("wait"),
            _flag(and_(answered, wait <= self._threshold())).label("in_sl"),
            *self._call_figures(),
        ).where(
            Call.direction == Direction.INBOUND,
            Call.department.is_not(None),
            key.is_not(None),
            *self.in_range(),
            *self.scoped(Call.department),
        )
        if self.dialect == "postgresql":
            # Not merged into the grouping query, so each call's wait is worked out once,
            # not once per aggregate that reads it.
            query = query.offset(0)
        return query.subquery("c")

    def _call_figures(self) -> list[Expr]:
        """Conversations, handle seconds and transfers from the call row's figures (kept by
        the journal with each event); by agent they come from the events (several agents)."""
        if self.spec.group == "agent":
            return [literal(0).label(name) for name in ("conversations", "handle", "transfers")]
        ended = Call.ended_at.is_not(None)
        return [
            case((ended, Call.conversations), else_=0).label("conversations"),
            case((ended, Call.handle_seconds), else_=0.0).label("handle"),
            Call.transfers.label("transfers"),
        ]

    def _threshold(self) -> Expr:
        spec = self.spec
        if not spec.service_level:
            return literal(spec.default_service_level)
        whens = {name: literal(value) for name, value in spec.service_level.items()}
        return case(whens, value=Call.department, else_=literal(spec.default_service_level))

    async def calls(self) -> None:
        c = self._calls_inner()
        columns: list[Any] = [
            c.c.key,
            c.c.period,
            func.count(),
            func.sum(c.c.answered),
            func.sum(c.c.abandoned),
            func.sum(c.c.short),
            func.sum(c.c.dropped),
            func.sum(c.c.in_sl),
            func.sum(c.c.conversations),
            func.sum(c.c.handle),
            func.sum(c.c.transfers),
            func.avg(c.c.wait),
        ]
        if self.dialect == "postgresql":
            query = _with_p90(columns, c)
            # The planner cannot tell how few (group, period) pairs a month has and would sort
            # every call to group them; a hash of a few hundred groups is much cheaper.
            await self.session.execute(text("SET LOCAL enable_sort = off"))
        else:  # SQLite has no percentile_cont: p90() fills it in with a second query.
            query = select(*columns, literal(None)).group_by(c.c.key, c.c.period)
        for key, period, offered, *sums, handle, transfers, avg, p90 in await self.session.execute(
            query
        ):
            row = self.row(key, period)
            row.offered = offered
            (
                row.answered,
                row.abandoned,
                row.abandoned_short,
                row.dropped,
                row.answered_in_service_level,
                row.conversations,
            ) = (int(value) for value in sums)
            row.handle_seconds, row.transfers = float(handle or 0.0), int(transfers)
            row.avg_wait, row.p90_wait = _seconds(avg), _seconds(p90)
        if self.dialect == "postgresql":
            await self.session.execute(text("SET LOCAL enable_sort = on"))

    async def p90(self) -> None:
        """SQLite has no percentile_cont: rank the waits and interpolate between two ranks."""
        if self.dialect == "postgresql":
            return
        c = self._calls_inner()
        parts = [c.c.key, c.c.period]
        ranked = (
            select(
                c.c.key,
                c.c.period,
                c.c.wait,
                func.row_number().over(partition_by=parts, order_by=c.c.wait).label("rank"),
                func.count().over(partition_by=parts).label("n"),
            )
            .where(c.c.wait.is_not(None))
            .subquery("r")
        )
        position = P90 * (ranked.c.n - 1)
        low = cast(position, Integer) + 1
        fraction = position - cast(position, Integer)
        value = case(
            (ranked.c.rank == low, ranked.c.wait * (1 - fraction)),
            (ranked.c.rank == low + 1, ranked.c.wait * fraction),
            else_=0.0,
        )
        query = select(ranked.c.key, ranked.c.period, func.sum(value)).group_by(
            ranked.c.key, ranked.c.period
        )
        for key, period, p90 in await self.session.execute(query):
            self.row(key, period).p90_wait = _seconds(p90)

    # -- timeline events -----------------------------------------------------------------
    async def overflows(self) -> None:
        """Overflows by the department that overflowed, from the call rows' figures; the
        timeline only for a call that overflowed from several departments."""
        period = self.period(Call.arrived_at)
        offered = [Call.direction == Direction.INBOUND, Call.overflows > 0, *self.in_range()]
        source = self.grouped(Call.overflowed_from)
        single = (
            select(source, period, func.sum(Call.overflows))
            .where(*offered, Call.overflowed_from.is_not(None), *self.scoped(Call.overflowed_from))
            .group_by(source, period)
        )
        named = CallEvent.detail["overflow"].as_string()
        several = (
            select(self.grouped(named), period, func.count())
            .select_from(Call)
            .join(CallEvent, CallEvent.call_id == Call.id)
            .where(
                *offered,
                Call.overflowed_from.is_(None),
                CallEvent.kind == EventKind.TRANSFER,
                named.is_not(None),
                CallEvent.at >= self.spec.start,
                CallEvent.at < self.spec.end + HORIZON,
                *self.scoped(named),
            )
            .group_by(self.grouped(named), period)
        )
        for query in (single, several):
            for key, period_, count in await self.session.execute(query):
                self.row(key, period_).overflows += int(count)

    async def events(self) -> None:
        """By department everything is on the call rows (`calls`, `overflows`); by agent,
        handle time and transfers are counted per event (a call may have several agents)."""
        if self.spec.group == "department":
            await self.overflows()
            return
        kind, detail = CallEvent.kind, CallEvent.detail
        transfer = kind == EventKind.TRANSFER
        key = func.coalesce(detail["agent"].as_string(), Call.agent_endpoint)
        ended = Call.ended_at.is_not(None)
        offset = seconds(self.dialect, literal(self.spec.start, Call.arrived_at.type), CallEvent.at)
        handle = case(
            (and_(ended, kind == EventKind.CONVERSATION_ENDED), offset),
            (and_(ended, kind == EventKind.AGENT_ANSWERED), -offset),
            else_=0.0,
        )
        inner = (
            select(
                self.grouped(key).label("key"),
                self.period(Call.arrived_at).label("period"),
                # JSON is parsed only where needed: PostgreSQL parses json on every access.
                _flag(case((transfer, detail["to"].as_string())).is_not(None)).label("transfer"),
                _flag(and_(ended, kind == EventKind.CONVERSATION_ENDED)).label("conversation"),
                handle.label("handle"),
            )
            .select_from(CallEvent)
            .join(Call, Call.id == CallEvent.call_id)
            .where(
                Call.direction == Direction.INBOUND,
                *self.in_range(),
                kind.in_(
                    [EventKind.TRANSFER, EventKind.AGENT_ANSWERED, EventKind.CONVERSATION_ENDED]
                ),
                CallEvent.at >= self.spec.start,
                CallEvent.at < self.spec.end + HORIZON,
            )
        )
        e = inner.where(*self.scoped(Call.department)).subquery("e")
        query = select(
            e.c.key,
            e.c.period,
            func.sum(e.c.transfer),
            func.sum(e.c.conversation),
            func.sum(e.c.handle),
        )
        query = query.group_by(e.c.key, e.c.period)
        for key_, period, transfers, conversations, total in await self.session.execute(query):
            if key_ is None:  # events of calls without an agent (filtered here: cheaper)
                continue
            row = self.row(key_, period)
            row.transfers = int(transfers)
            row.conversations, row.handle_seconds = int(conversations), float(total or 0.0)

    # -- surveys and suggestions ---------------------------------------------------------
    # Both are found by the copy of their call's arrival on the row (`call_arrived_at`,
    # migration v0009), without a look-up of each row's call; a row without a copy (written
    # by code that does not fill it) is counted from its call, as before.
    def in_copied_range(self, column: Any) -> list[Expr]:
        return [column >= self.spec.start, column < self.spec.end]

    async def surveys(self) -> None:
        a = SurveyAnswer
        key = a.department if self.spec.group == "department" else a.agent_endpoint
        window = [
            key.is_not(None),
            *self.scoped(a.department),
            a.answered_at >= self.spec.start,
            a.answered_at < self.spec.end + HORIZON,
        ]

        def answers(arrived: Any) -> Any:
            return select(
                key.label("key"),
                self.period(arrived).label("period"),
                # as text: no enum conversion of each of a month's rows
                a.scale.label("scale"),
                type_coerce(a.status, String).label("status"),
                a.answer.label("answer"),
            )

        copied = answers(a.call_arrived_at).where(*self.in_copied_range(a.call_arrived_at), *window)
        uncopied = (
            answers(Call.arrived_at)
            .select_from(a)
            .join(Call, Call.id == a.call_id)
            .where(a.call_arrived_at.is_(None), *self.in_range(), *window)
        )
        s = union_all(copied, uncopied).subquery("s").c
        query = select(s.key, s.period, s.scale, s.status, s.answer, func.count()).group_by(
            s.key, s.period, s.scale, s.status, s.answer
        )
        answered: dict[tuple[Key, str], dict[int, int]] = {}
        for key_, period, scale, status, answer, count in await self.session.execute(query):
            row = self.row(key_, period)
            status = AnswerStatus(status)
            if status is AnswerStatus.ANSWERED and answer is not None:
                row.surveys_answered += count
                by_answer = answered.setdefault(((key_, row.period_start.isoformat()), scale), {})
                by_answer[int(answer)] = by_answer.get(int(answer), 0) + count
            elif status is AnswerStatus.ABANDONED:
                row.surveys_abandoned += count
            else:
                row.surveys_unanswered += count
        for (row_key, scale), counts in answered.items():
            self.rows[row_key].scores[scale] = scale_scores(scale, counts)

    async def suggestions(self) -> None:
        n = CallNote
        # A literal, so the planner matches the partial index ix_call_notes_suggestions_arrived_at.
        suggestion = n.kind == literal_column(f"'{NoteKind.SUGGESTION.value}'")

        def of_call(column: Any) -> Any:
            return select(column).where(Call.id == n.call_id).scalar_subquery()

        # A suggestion written at a wrap-up counts for that wrap-up's agent (after a transfer
        # each agent files their own); any other for the call's last agent.
        w = CallWrapUp
        wrapper = (
            select(w.agent_endpoint)
            .where(w.call_id == n.call_id, w.author_id == n.author_id, w.created_at == n.created_at)
            .limit(1)
            .scalar_subquery()
        )
        # The call's department is looked up only for a note without its own.
        department = func.coalesce(n.department, of_call(Call.department))
        agent = func.coalesce(wrapper, of_call(Call.agent_endpoint))
        key = department if self.spec.group == "department" else agent
        copied = select(key.label("key"), self.period(n.call_arrived_at).label("period")).where(
            suggestion,
            *self.in_copied_range(n.call_arrived_at),
            key.is_not(None),
            *self.scoped(department),
            n.created_at >= self.spec.start,
        )
        joined = func.coalesce(n.department, Call.department)
        joined_key = (
            joined
            if self.spec.group == "department"
            else func.coalesce(wrapper, Call.agent_endpoint)
        )
        uncopied = (
            select(joined_key.label("key"), self.period(Call.arrived_at).label("period"))
            .select_from(n)
            .join(Call, Call.id == n.call_id)
            .where(
                suggestion,
                n.call_arrived_at.is_(None),
                joined_key.is_not(None),
                *self.in_range(),
                *self.scoped(joined),
                n.created_at >= self.spec.start,
            )
        )
        inner = union_all(copied, uncopied).subquery("n")
        query = select(inner.c.key, inner.c.period, func.count()).group_by(
            inner.c.key, inner.c.period
        )
        for key_, period, count in await self.session.execute(query):
            self.row(key_, period).suggestions = count

    # -- conversation figures of the recordings ------------------------------------------
    async def talk(self) -> None:
        """Averages of the recordings' conversation figures, by the conversation's department
        or agent (the recording's, else its call's) and the period of the call's arrival."""
        r = Recording
        department = func.coalesce(r.department, Call.department)
        key = (
            department
            if self.spec.group == "department"
            else func.coalesce(r.agent_endpoint, Call.agent_endpoint)
        )
        two_party = and_(r.overtalk_s.is_not(None), r.duration_s > 0)
        inner = (
            select(
                self.grouped(key).label("key"),
                self.period(Call.arrived_at).label("period"),
                r.agent_talk_ratio.label("share"),
                case((two_party, r.overtalk_s / r.duration_s)).label("overtalk"),
                r.longest_dead_air_s.label("dead_air"),
            )
            .select_from(r)
            .join(Call, Call.id == r.call_id)
            .where(
                Call.direction == Direction.INBOUND,
                *self.in_range(),
                r.talk_customer_s.is_not(None),
                key.is_not(None),
                *self.scoped(department),
            )
            .subquery("t")
        )
        t = inner.c
        query = select(
            t.key,
            t.period,
            func.count(),
            func.avg(t.share),
            func.avg(t.overtalk),
            func.avg(t.dead_air),
        ).group_by(t.key, t.period)
        for key_, period, count, share, overtalk, dead_air in await self.session.execute(query):
            row = self.row(key_, period)
            row.analysed_recordings = int(count)
            row.avg_agent_talk_share = _fraction(share)
            row.avg_overtalk_share = _fraction(overtalk)
            row.avg_longest_dead_air = _seconds(dead_air)


def _with_p90(columns: list[Any], c: Any) -> Any:
    """Group by hash and take each group's p90 from its own waits (PostgreSQL).

    `percentile_cont` as a grouped aggregate would sort the whole month's calls by group and
    period first; collecting each group's waits and sorting them alone is several times faster
    and gives the same value.
    """
    key, period, *figures = columns
    waits = func.array_agg(c.c.wait).filter(c.c.wait.is_not(None))
    labels = [f"f{n}" for n in range(len(figures))]
    grouped = (
        select(
            key.label("key"),
            period.label("period"),
            *(figure.label(label) for figure, label in zip(figures, labels, strict=True)),
            waits.label("waits"),
        )
        .group_by(c.c.key, c.c.period)
        .subquery("g")
    )
    wait = func.unnest(grouped.c.waits).column_valued("w")
    p90 = select(func.percentile_cont(P90).within_group(wait)).scalar_subquery()
    return select(grouped.c.key, grouped.c.period, *(grouped.c[label] for label in labels), p90)


def _flag(condition: Expr) -> Expr:
    return case((condition, 1), else_=0)


def _fraction(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def period_start(value: Any, spec: ReportSpec) -> dt.datetime:
    """Return the aware local start of a period as the database returned it (PostgreSQL: its
    number in `period_bounds`)."""
    if isinstance(value, int):
        return _starts(spec.period, spec.zone, spec.start, spec.end)[value - 1].replace(
            tzinfo=spec.zone
        )
    naive = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return naive.replace(tzinfo=spec.zone)


@functools.lru_cache(maxsize=64)
def _starts(
    period: Period, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> tuple[dt.datetime, ...]:
    return tuple(local for _, local in period_bounds(period, zone, start, end))


def merge_keys(rows: Iterable[StatsRow]) -> list[str]:
    """Return the departments or agents of ROWS, in order."""
    return sorted({row.key for row in rows})


__all__ = ["StatsRow", "compute"]
