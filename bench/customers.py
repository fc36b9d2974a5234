"""Benchmark: the caller lookup and a customer's call history on PostgreSQL.

Creates a throwaway database (`zentrale_bench_customers_<pid>`, dropped at the end) on the test
server (ZENTRALE_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test), fills
100,000 customers (one number each) and 1,000,000 calls (ZENTRALE_BENCH_CALLS), and times
the call flow's `CustomerLookup` (p50/p95 of 500 runs) beside a plain `SELECT 1` through the
same engine and sessions (one round trip: the floor), a customer's history beside a plain
`SELECT count(*)` of their calls by caller number, and a supervisor's search by name. Prints
figures; the last line is one JSON object; exits 0 even when a target is missed.
Usage: `.venv/bin/python bench/customers.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from sqlalchemy import text

from zentrale.customers import store
from zentrale.customers.lookup import TIME_LIMIT, CustomerLookup
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine

ADMIN_DSN = os.environ.get("ZENTRALE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CUSTOMERS = 100_000
CALLS = int(os.environ.get("ZENTRALE_BENCH_CALLS", "1000000"))
RUNS = 500
HISTORY_RUNS = 50

FILL = [
    f"""INSERT INTO customers (id, customer_number, name, language, vip, created_at, updated_at)
    SELECT 'c' || g, 'K-' || g, 'Customer ' || g, (ARRAY['de','tr','en'])[1 + g % 3],
           g % 50 = 0, now(), now()
    FROM generate_series(1, {CUSTOMERS}) g""",
    f"""INSERT INTO customer_numbers (number, customer_id)
    SELECT '+90555' || lpad(g::text, 7, '0'), 'c' || g FROM generate_series(1, {CUSTOMERS}) g""",
    f"""INSERT INTO calls (id, direction, caller_number, called_number, department,
                          agent_endpoint, arrived_at, outcome, last_event_seq)
    SELECT 'k' || g, CASE WHEN g % 5 = 0 THEN 'outbound' ELSE 'inbound' END,
           CASE WHEN g % 5 = 0 THEN NULL
                ELSE '+90555' || lpad((1 + g % {CUSTOMERS * 2})::text, 7, '0') END,
           CASE WHEN g % 5 = 0 THEN '+90555' || lpad((1 + g % {CUSTOMERS})::text, 7, '0') END,
           (ARRAY['sales','support','billing'])[1 + g % 3], 'PJSIP/' || (1000 + g % 100),
           timestamptz '2026-03-01 00:00+00' - g * interval '31 seconds', 'answered', 0
    FROM generate_series(1, {CALLS}) g""",
    "ANALYZE",
]


async def admin(sql: str) -> None:
    """Run SQL on the admin database."""
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def fill(name: str) -> float:
    """Fill the database; return the seconds it took."""
    started = time.perf_counter()
    connection = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    try:
        for statement in FILL:
            await connection.execute(statement)
    finally:
        await connection.close()
    return time.perf_counter() - started


async def timings(runs: int, work: Callable[[int], Awaitable[Any]]) -> list[float]:
    """Return milliseconds of RUNS calls of WORK(i)."""
    found = []
    for i in range(runs):
        started = time.perf_counter()
        await work(i)
        found.append((time.perf_counter() - started) * 1000)
    return found


def summary(values: list[float]) -> tuple[float, float]:
    """Return p50 and p95, rounded."""
    ordered = sorted(values)
    return round(statistics.median(ordered), 3), round(ordered[int(0.95 * (len(ordered) - 1))], 3)


async def measure(db: Database) -> tuple[dict[str, float], dict[str, float]]:
    """Time the lookup, the history and their baselines."""
    lookup = CustomerLookup(db, time_limit=TIME_LIMIT)

    async def one(i: int) -> None:
        found = await lookup(f"+90555{1 + (i * 7919) % (CUSTOMERS * 2):07d}")
        assert i or found is not None

    async def floor(_i: int) -> None:
        async with db.read() as session:
            await session.execute(text("SELECT 1"))

    async def history(i: int) -> None:
        async with db.read() as session:
            record = await store.get(session, f"c{1 + (i * 31) % CUSTOMERS}")
            await store.history(session, record)

    async def counted(i: int) -> None:
        number = f"+90555{1 + (i * 31) % CUSTOMERS:07d}"
        async with db.read() as session:
            query = text("SELECT count(*) FROM calls WHERE caller_number = :n")
            await session.execute(query, {"n": number})

    async def searched(i: int) -> None:
        scope = store.Scope(departments=("sales",))
        async with db.read() as session:
            await store.search(session, f"Customer {1 + i % 9}{i % 10}", scope)

    await timings(50, one)  # warm the pool and the caches
    figures, baseline = {}, {}
    figures["lookup_p50_ms"], figures["lookup_p95_ms"] = summary(await timings(RUNS, one))
    baseline["select_1_p50_ms"], baseline["select_1_p95_ms"] = summary(await timings(RUNS, floor))
    figures["history_p50_ms"], figures["history_p95_ms"] = summary(
        await timings(HISTORY_RUNS, history)
    )
    baseline["count_by_caller_p50_ms"], baseline["count_by_caller_p95_ms"] = summary(
        await timings(HISTORY_RUNS, counted)
    )
    figures["search_supervisor_p50_ms"], figures["search_supervisor_p95_ms"] = summary(
        await timings(HISTORY_RUNS, searched)
    )
    return figures, baseline


async def main() -> None:
    """Run the benchmark and print its figures."""
    # One info line per lookup is right for calls, noise for 500 timed lookups.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    name = f"zentrale_bench_customers_{os.getpid()}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        async with Database.open(f"{base}/{name}") as db:
            await upgrade_engine(db.engine)
            print(f"filled {CUSTOMERS:,} customers, {CALLS:,} calls in {await fill(name):.1f} s")
            figures, baseline = await measure(db)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for key, value in {**figures, **baseline}.items():
        print(f"{key:28s} {value:9.3f}")
    ratio = figures["lookup_p95_ms"] / max(baseline["select_1_p95_ms"], 0.001)
    history_ratio = figures["history_p95_ms"] / max(baseline["count_by_caller_p95_ms"], 0.001)
    print(
        json.dumps(
            {
                "bench": "customers",
                "figures": figures,
                "baseline": baseline,
                "targets": {
                    f"lookup_p95_ms < {TIME_LIMIT * 1000:g}": figures["lookup_p95_ms"]
                    < TIME_LIMIT * 1000,
                    "lookup_p95 / select_1_p95 < 3": ratio < 3,
                    "history_p95 / count_by_caller_p95 < 10": history_ratio < 10,
                    "search_supervisor_p95_ms < 200": figures["search_supervisor_p95_ms"] < 200,
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
