"""Benchmark: the statistics report on PostgreSQL with 1,000,000 calls.

Uses its own database `zentrale_bench_reports` on the test server (ZENTRALE_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test), migrated to head. The first run fills it
with one year (2025) of 1,000,000 generated inbound calls over 8 departments and 60 agents,
with their agent-answered / conversation-ended / transfer events (and the call rows' figures
of them, migration 0008), survey answers and suggestions (with their calls' arrival, 0009)
(`INSERT ... SELECT generate_series`, seeded, so every run sees the same data);
later runs reuse it (`--fresh` rebuilds it, `--drop` removes it at the end).

Measured in the same run, RUNS times each, alternating: the main report (per department and
day, one month, Europe/Istanbul: `zentrale.stats.report.compute`, all its queries) and a
plain `SELECT count(*)` of the same month's calls. Prints p50/p95 of both and their ratio; the
last line is one JSON object; exits 0 even when a target is missed.
Usage: `.venv/bin/python bench/reports.py [--runs N] [--fresh] [--drop]`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import time
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import func, select

from zentrale.calls.models import Call
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.stats.report import compute
from zentrale.stats.spec import ReportSpec

ADMIN_DSN = os.environ.get("ZENTRALE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NAME = "zentrale_bench_reports"
ROWS = 1_000_000
ZONE = ZoneInfo("Europe/Istanbul")
MONTH = (dt.date(2025, 6, 1), dt.date(2025, 6, 30))
DEPARTMENTS = "ARRAY['sales','support','billing','complaints','vip','main','retention','tech']"

FILL = [
    "SELECT setseed(0.42)",
    f"""
    CREATE TEMP TABLE r AS
    SELECT timestamptz '2025-01-01 00:00+00' + random() * interval '365 days' AS arrived,
           ({DEPARTMENTS})[1 + floor(random() * 8)::int] AS department,
           'PJSIP/' || (1001 + floor(random() * 60)::int) AS agent,
           random() AS fate, 2 + random() * 10 AS queued, random() * 90 AS wait,
           30 + random() * 570 AS talk, random() AS extra
    FROM generate_series(1, {ROWS})
    """,
    # Calls are written as they arrive, so rows and events lie in time order as in real life.
    "CREATE TEMP TABLE g AS SELECT row_number() OVER (ORDER BY arrived) AS i, * FROM r",
    "DROP TABLE r",
    """
    INSERT INTO calls (id, direction, caller_number, department, agent_endpoint, agent_name,
                       arrived_at, queued_at, agent_answered_at, ended_at, outcome, last_event_seq,
                       handle_seconds, conversations, transfers, overflows, overflowed_from)
    SELECT 'bench-' || i, 'inbound', '+90555' || lpad((i % 10000000)::text, 7, '0'), department,
           CASE WHEN fate < 0.85 THEN agent END, CASE WHEN fate < 0.85 THEN agent END,
           arrived, arrived + queued * interval '1 second',
           CASE WHEN fate < 0.85 THEN arrived + (queued + wait) * interval '1 second' END,
           arrived + (queued + wait + CASE WHEN fate < 0.85 THEN talk ELSE 0 END)
                     * interval '1 second',
           CASE WHEN fate < 0.04 THEN 'transferred' WHEN fate < 0.85 THEN 'answered'
                WHEN fate < 0.9 THEN 'overflowed' ELSE 'abandoned_in_queue' END,
           3,
           -- the figures append_event keeps, as the events below give them
           CASE WHEN fate < 0.85 THEN talk ELSE 0 END, CASE WHEN fate < 0.85 THEN 1 ELSE 0 END,
           CASE WHEN fate < 0.04 THEN 1 ELSE 0 END,
           CASE WHEN fate >= 0.85 AND fate < 0.9 THEN 1 ELSE 0 END,
           CASE WHEN fate >= 0.85 AND fate < 0.9 THEN department END
    FROM g ORDER BY i
    """,
    """
    INSERT INTO call_events (call_id, seq, at, kind, detail)
    SELECT 'bench-' || i, 1, arrived + (queued + wait) * interval '1 second', 'agent_answered',
           json_build_object('agent', agent) FROM g WHERE fate < 0.85
    UNION ALL
    SELECT 'bench-' || i, 2, arrived + (queued + wait + talk) * interval '1 second',
           'conversation_ended', json_build_object('agent', agent) FROM g WHERE fate < 0.85
    UNION ALL
    SELECT 'bench-' || i, 3, arrived + (queued + wait + talk) * interval '1 second', 'transfer',
           json_build_object('to', 'department:tech') FROM g WHERE fate < 0.04
    UNION ALL
    SELECT 'bench-' || i, 1, arrived + (queued + wait) * interval '1 second', 'transfer',
           json_build_object('overflow', department, 'reason', 'max_wait')
    FROM g WHERE fate >= 0.85 AND fate < 0.9
    ORDER BY 3
    """,
    """
    INSERT INTO survey_answers (id, call_id, survey, question, position, answer, status, scale,
                                department, agent_endpoint, answered_at, call_arrived_at)
    SELECT 'sa-' || i, 'bench-' || i, 'after-call', 'q1', 1, 1 + floor(extra * 5)::int,
           'answered', '1-5', department, agent,
           arrived + (queued + wait + talk) * interval '1 second', arrived
    FROM g WHERE fate < 0.85 AND i % 10 = 0
    """,
    """
    INSERT INTO call_notes (id, call_id, kind, text, author_name, department, created_at,
                            call_arrived_at)
    SELECT 'note-' || i, 'bench-' || i, 'suggestion', 'idea', 'agent', department, arrived,
           arrived
    FROM g WHERE fate < 0.85 AND i % 97 = 0
    """,
    "DROP TABLE g",
]


def url() -> str:
    """Return the SQLAlchemy URL of the benchmark database."""
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{NAME}"


async def prepare(fresh: bool) -> float | None:
    """Create, migrate and fill the database unless it is ready; return the fill seconds."""
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        if fresh:
            await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", NAME):
            await admin.execute(f'CREATE DATABASE "{NAME}"')
    finally:
        await admin.close()
    async with Database.open(url()) as db:
        await upgrade_engine(db.engine)
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + "/" + NAME)
    try:
        if await conn.fetchval("SELECT count(*) FROM calls WHERE id LIKE 'bench-%'") == ROWS:
            # A migration may just have rewritten these rows (v0009 fills the arrival copies):
            # set their visibility map again, or the index-only scans visit the rows.
            await conn.execute("VACUUM ANALYZE survey_answers, call_notes")
            return None
        started = time.perf_counter()
        await conn.execute("TRUNCATE calls, call_events, survey_answers, call_notes CASCADE")
        async with conn.transaction():
            for statement in FILL:
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def measure(runs: int) -> tuple[list[float], list[float], int, int]:
    """Time the report and the plain count RUNS times each, alternating."""
    spec = ReportSpec(
        group="department", period="day", first_day=MONTH[0], last_day=MONTH[1], zone=ZONE
    )
    count = (
        select(func.count())
        .select_from(Call)
        .where(Call.arrived_at >= spec.start, Call.arrived_at < spec.end)
    )
    report_ms, count_ms, rows, calls = [], [], 0, 0
    async with Database.open(url()) as db, db.read() as session:
        await compute(session, spec)  # warm the caches and the connection
        for _ in range(runs):
            started = time.perf_counter()
            rows = len(await compute(session, spec))
            report_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            calls = int((await session.execute(count)).scalar_one())
            count_ms.append((time.perf_counter() - started) * 1000)
    return report_ms, count_ms, rows, calls


def p95(values: list[float]) -> float:
    """Return the 95th percentile (inclusive method)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fresh", action="store_true", help="rebuild the generated history")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    options = parser.parse_args()
    filled = await prepare(options.fresh)
    print(f"history: {ROWS:,} calls " + (f"generated in {filled:.1f} s" if filled else "reused"))
    report_ms, count_ms, rows, calls = await measure(options.runs)
    if options.drop:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await admin.close()
    figures = {
        "report_p50_ms": round(statistics.median(report_ms), 1),
        "report_p95_ms": round(p95(report_ms), 1),
        "month_calls": calls,
        "report_rows": rows,
        "runs": options.runs,
        # The machine may be shared: a load above its core count makes every figure noisier.
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count() or 0,
    }
    baseline = {
        "count_p50_ms": round(statistics.median(count_ms), 1),
        "count_p95_ms": round(p95(count_ms), 1),
    }
    ratio = figures["report_p95_ms"] / max(baseline["count_p95_ms"], 0.001)
    figures["report_to_count_p95"] = round(ratio, 2)
    print(f"month {MONTH[0]}..{MONTH[1]}: {calls:,} calls, {rows} rows (department x day)")
    print(f"report  p50 {figures['report_p50_ms']:8.1f} ms  p95 {figures['report_p95_ms']:8.1f} ms")
    print(f"count   p50 {baseline['count_p50_ms']:8.1f} ms  p95 {baseline['count_p95_ms']:8.1f} ms")
    print(
        f"report / count (p95): {ratio:.1f}x (target < 10x); "
        f"load {figures['load_avg_1m']} on {figures['cores']} cores"
    )
    print(
        json.dumps(
            {
                "bench": "reports",
                "figures": figures,
                "baseline": baseline,
                "targets": {"report_to_count_p95 < 10": ratio < 10},
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
