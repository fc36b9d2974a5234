"""Read what the agent figures need: state log intervals, answered calls and their holds.

The SQL half of `zentrale.stats.agent_figures` (which computes): each query reads only the
rows overlapping the report's range, for the agents in scope (None: every agent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import String, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.agent_states import AgentStateRow
from zentrale.calls.models import Call, CallEvent
from zentrale.stats.agent_figures import (
    ANSWERED,
    CONVERSATION_ENDED,
    AgentFigures,
    ConversationEvent,
    HoldEvent,
    Periods,
    StateSpan,
    TalkSpan,
    agent_talks,
    compute,
)
from zentrale.stats.report import HORIZON
from zentrale.stats.spec import ReportSpec
from zentrale.stats.sql import period_bounds

HOLD_KINDS = ("hold", "unhold")


async def agent_figures(
    session: AsyncSession,
    spec: ReportSpec,
    endpoints: Collection[str] | None,
    now: dt.datetime,
) -> list[AgentFigures]:
    """Return the figures of the agents ENDPOINTS (None: all) per period of SPEC."""
    periods = Periods(
        period_bounds(spec.period, spec.zone, spec.start, spec.end), spec.end, spec.zone
    )
    states = await _states(session, spec, endpoints)
    talks = agent_talks(await _talks(session, spec, endpoints), await _conversations(session, spec))
    if endpoints is not None:
        talks = [talk for talk in talks if talk.endpoint in endpoints]
    holds = await _holds(session, spec, endpoints)
    return compute(periods, states, talks, holds, now)


def _only(column: Any, endpoints: Collection[str] | None) -> list[Any]:
    return [] if endpoints is None else [column.in_(sorted(endpoints))]


async def _states(
    session: AsyncSession, spec: ReportSpec, endpoints: Collection[str] | None
) -> list[StateSpan]:
    row = AgentStateRow
    query = select(
        row.endpoint, row.agent_name, row.state, row.reason, row.started_at, row.ended_at
    ).where(
        row.started_at < spec.end,
        or_(row.ended_at.is_(None), row.ended_at > spec.start),
        *_only(row.endpoint, endpoints),
    )
    return [
        StateSpan(endpoint, name, str(state), reason, start, end)
        for endpoint, name, state, reason, start, end in await session.execute(query)
    ]


def _answered(spec: ReportSpec, endpoints: Collection[str] | None) -> list[Any]:
    """The calls answered by an agent whose conversation overlaps the range: their last agent
    in scope, or transferred (an earlier agent may be; `agent_talks` tells)."""
    return [
        Call.agent_endpoint.is_not(None),
        Call.agent_answered_at.is_not(None),
        Call.arrived_at >= spec.start - HORIZON,
        Call.arrived_at < spec.end,
        or_(Call.ended_at.is_(None), Call.ended_at > spec.start),
        *(
            []
            if endpoints is None
            else [or_(Call.agent_endpoint.in_(sorted(endpoints)), Call.transfers > 0)]
        ),
    ]


async def _talks(
    session: AsyncSession, spec: ReportSpec, endpoints: Collection[str] | None
) -> list[TalkSpan]:
    query = select(Call.agent_endpoint, Call.id, Call.agent_answered_at, Call.ended_at).where(
        *_answered(spec, endpoints)
    )
    return [
        TalkSpan(str(endpoint), call_id, answered, end)
        for endpoint, call_id, answered, end in await session.execute(query)
    ]


async def _conversations(session: AsyncSession, spec: ReportSpec) -> list[ConversationEvent]:
    """The answers and conversation ends on the transferred calls among them."""
    kind = type_coerce(CallEvent.kind, String)
    query = (
        select(CallEvent.call_id, CallEvent.at, kind, CallEvent.detail["agent"].as_string())
        .join(Call, Call.id == CallEvent.call_id)
        .where(kind.in_((ANSWERED, CONVERSATION_ENDED)), Call.transfers > 0, *_answered(spec, None))
        .order_by(CallEvent.call_id, CallEvent.seq)
    )
    return [
        ConversationEvent(call_id, at, str(name), agent)
        for call_id, at, name, agent in await session.execute(query)
    ]


async def _holds(
    session: AsyncSession, spec: ReportSpec, endpoints: Collection[str] | None
) -> list[HoldEvent]:
    kind = type_coerce(CallEvent.kind, String)
    query = (
        select(CallEvent.call_id, CallEvent.at, kind, CallEvent.detail["party"].as_string())
        .join(Call, Call.id == CallEvent.call_id)
        .where(kind.in_(HOLD_KINDS), *_answered(spec, endpoints))
    )
    return [
        HoldEvent(call_id, at, str(name), party)
        for call_id, at, name, party in await session.execute(query)
    ]
