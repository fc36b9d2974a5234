"""Benchmark: QA search on PostgreSQL with 1,000,000 recordings, and decrypted streaming.

Creates a throwaway database (`zentrale_bench_api_<pid>`, dropped at the end) on the test
server (ZENTRALE_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test), migrates
it, fills 1,000,000 calls and recordings with one `INSERT ... SELECT generate_series`, and
times `zentrale.qa.search.search` for typical filters (p50/p95 of 50 runs each). Then it
streams a 64 MiB encrypted recording through the real app over a socket with Range-less GET,
beside reading the same ciphertext file raw from disk. Prints figures; the last line is one
JSON object; exits 0 even when a target is missed. Usage: `.venv/bin/python bench/api.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from zentrale.api import Deps, create_app
from zentrale.api.server import bind, serving
from zentrale.config.settings import Settings
from zentrale.core.models import Role
from zentrale.core.principal import Principal
from zentrale.core.users import NewUser, UserStore
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.qa.scorecards import Scorecards
from zentrale.qa.search import SearchQuery, search
from zentrale.recording import vault
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.storage.local import LocalStore

ADMIN_DSN = os.environ.get("ZENTRALE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ROWS = 1_000_000
RUNS = 50
STREAM_MIB = 64
MIB = 1024 * 1024
DEPARTMENTS = "ARRAY['sales','support','billing','complaints','vip','main','retention','tech']"

FILL_CALLS = f"""
INSERT INTO calls (id, direction, caller_number, department, agent_endpoint, agent_name,
                   arrived_at, last_event_seq)
SELECT 'c' || g, CASE WHEN g % 4 = 0 THEN 'outbound' ELSE 'inbound' END,
       '+90555' || lpad((g::bigint * 7919 % 9999991)::text, 7, '0'), ({DEPARTMENTS})[1 + g % 8],
       'PJSIP/' || (1000 + g % 200), 'Agent ' || (g % 200),
       timestamptz '2026-03-01 00:00+00' - g * interval '31 seconds', 0
FROM generate_series(1, {ROWS}) g
"""
FILL_RECORDINGS = f"""
INSERT INTO recordings (id, call_id, asterisk_name, state, format, duration_s, wrapped_keys,
                        pause_markers, silent, corrupt, created_at, department, agent_endpoint,
                        agent_name)
SELECT md5('r' || g)::uuid::text, 'c' || g, 'rec-' || g, 'stored', 'opus',
       5 + (g::bigint * 7919 % 1200), '[]', '[]', false, false,
       timestamptz '2026-03-01 00:00+00' - g * interval '31 seconds' + interval '2 minutes',
       ({DEPARTMENTS})[1 + g % 8], 'PJSIP/' || (1000 + g % 200), 'Agent ' || (g % 200)
FROM generate_series(1, {ROWS}) g
"""


async def admin(sql: str) -> None:
    """Run SQL on the admin database."""
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def url_of(name: str) -> str:
    """Return the SQLAlchemy URL of database NAME."""
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


async def fill(name: str) -> float:
    """Fill the database; return the seconds it took."""
    started = time.perf_counter()
    connection = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    try:
        await connection.execute(FILL_CALLS)
        await connection.execute(FILL_RECORDINGS)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


def principal(role: Role, departments: tuple[str, ...] = (), agent: str | None = None) -> Principal:
    """Return a caller of ROLE."""
    return Principal(
        user_id="u",
        username="bench",
        display_name="Bench",
        role=role,
        departments=departments,
        agent_endpoint=agent,
        via="token",
        address="127.0.0.1",
    )


SEARCHES: dict[str, tuple[Principal, dict[str, Any]]] = {
    "newest_admin": (principal(Role.ADMIN), {}),
    "newest_qa_two_departments": (principal(Role.QA, ("sales", "support")), {}),
    "department_week": (
        principal(Role.ADMIN),
        {"department": "billing", "since": "2025-12-01T00:00Z", "until": "2025-12-08T00:00Z"},
    ),
    "agent_own_calls": (principal(Role.AGENT, ("sales",), "PJSIP/1042"), {}),
    "caller_prefix": (principal(Role.ADMIN), {"caller": "+905550001"}),
    "long_calls_by_duration": (
        principal(Role.QA, ("sales",)),
        {"min_duration": 900, "sort": "-duration"},
    ),
    "inbound_month_page_2": (
        principal(Role.QA, ("support",)),
        {"direction": "inbound", "since": "2026-01-01T00:00Z", "until": "2026-02-01T00:00Z"},
    ),
}


async def time_search(db: Database, who: Principal, filters: dict[str, Any]) -> list[float]:
    """Return RUNS timings (ms) of one search (page 2 when the name says so)."""
    query = SearchQuery.model_validate(filters)
    async with db.read() as session:
        first = await search(session, who, query)
    if first.next_cursor:
        query = query.model_copy(update={"cursor": first.next_cursor})
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        async with db.read() as session:
            await search(session, who, query)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    """Return the SHARE percentile of VALUES."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def stream_figures(db: Database, folder: Path) -> dict[str, float]:
    """Return MiB/s of decrypted streaming over HTTP and of reading the ciphertext raw."""
    keyring, store = Keyring.generate("bench"), LocalStore(folder / "objects")
    recording_id = "00000000-0000-0000-0000-00000000beef"
    plaintext = os.urandom(STREAM_MIB * MIB)
    chunks = (plaintext[i : i + MIB] for i in range(0, len(plaintext), MIB))
    sealed = vault.seal(store, [LocalKeyProvider(keyring)], recording_id, chunks)
    connection = await asyncpg.connect(
        str(db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    )
    try:
        await connection.execute(
            "INSERT INTO recordings (id, call_id, asterisk_name, state, format, wrapped_keys,"
            " pause_markers, silent, corrupt, created_at, department, plaintext_size,"
            " object_size, object_key, encryption_header) VALUES ($1, 'c1', 'bench', 'stored',"
            " 'opus', $2, '[]', false, false, now(), 'sales', $3, $4, $5, '{}')",
            recording_id,
            json.dumps(sealed.to_json()["wrapped_keys"]),
            sealed.plaintext_size,
            sealed.object_size,
            sealed.object_key,
        )
    finally:
        await connection.close()
    user = await UserStore(db).add(
        NewUser(
            username="bench", display_name="Bench", password="bench-password-1", role=Role.ADMIN
        )
    )
    token = (await UserStore(db).issue_token(user.id, "bench", 1)).secret
    deps = Deps(
        db=db,
        store=store,
        unwrappers=[LocalKeyProvider(keyring)],
        settings=Settings(state_dir=folder),
        scorecards=Scorecards({}),
        session_secret=b"bench",
    )
    raw = _best(lambda: _read_raw(store.path_for(sealed.object_key)))
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/recordings/{recording_id}/audio"
    async with serving(create_app(deps), sock), httpx.AsyncClient(timeout=60) as http:
        streamed = await _best_async(lambda: _download(http, url, token, STREAM_MIB * MIB))
    raw_http = await _raw_over_http(store, sealed.object_key, sealed.object_size)
    size_mib = sealed.object_size / MIB
    return {
        "stream_decrypted_mib_s": round(STREAM_MIB / streamed, 1),
        "raw_ciphertext_read_mib_s": round(size_mib / raw, 1),
        "raw_ciphertext_http_mib_s": round(size_mib / raw_http, 1),
    }


async def _raw_over_http(store: LocalStore, key: str, size: int) -> float:
    """Serve the ciphertext undecrypted through the same uvicorn + StreamingResponse."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def raw(_request: Request) -> StreamingResponse:
        return StreamingResponse(store.get(key), media_type="application/octet-stream")

    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/raw"
    app = Starlette(routes=[Route("/raw", raw)])
    async with serving(app, sock), httpx.AsyncClient(timeout=60) as http:
        return await _best_async(lambda: _download(http, url, "", size))


def _read_raw(path: Path) -> None:
    with path.open("rb") as file:
        while file.read(256 * 1024):
            pass


async def _download(http: httpx.AsyncClient, url: str, token: str, expected: int) -> None:
    total = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.stream("GET", url, headers=headers) as response:
        async for chunk in response.aiter_raw():
            total += len(chunk)
    assert total == expected, total


def _best(run: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


async def _best_async(run: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return min(times)


async def main() -> None:
    """Run the benchmark and print its figures."""
    name = f"zentrale_bench_api_{os.getpid()}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        async with Database.open(url_of(name)) as db:
            await upgrade_engine(db.engine)
            seconds = await fill(name)
            print(f"filled {ROWS:,} calls and recordings in {seconds:.1f} s")
            figures: dict[str, Any] = {}
            for label, (who, filters) in SEARCHES.items():
                timings = await time_search(db, who, filters)
                figures[f"search_{label}_p50_ms"] = round(statistics.median(timings), 2)
                figures[f"search_{label}_p95_ms"] = round(percentile(timings, 0.95), 2)
                print(
                    f"search {label:28s} p50 {figures[f'search_{label}_p50_ms']:7.2f} ms"
                    f"  p95 {figures[f'search_{label}_p95_ms']:7.2f} ms"
                )
            with tempfile.TemporaryDirectory() as folder:
                streaming = await stream_figures(db, Path(folder))
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ratio = streaming["stream_decrypted_mib_s"] / streaming["raw_ciphertext_http_mib_s"]
    figures["stream_decrypted_mib_s"] = streaming["stream_decrypted_mib_s"]
    figures["stream_share_of_raw_http"] = round(ratio, 3)
    figures["stream_share_of_raw_disk_read"] = round(
        streaming["stream_decrypted_mib_s"] / streaming["raw_ciphertext_read_mib_s"], 3
    )
    worst_p95 = max(v for k, v in figures.items() if k.endswith("_p95_ms"))
    print(
        f"stream decrypted over HTTP {streaming['stream_decrypted_mib_s']} MiB/s; same"
        f" ciphertext raw over HTTP {streaming['raw_ciphertext_http_mib_s']} MiB/s ({ratio:.0%});"
        f" raw disk read {streaming['raw_ciphertext_read_mib_s']} MiB/s"
    )
    print(f"worst search p95 {worst_p95} ms (target < 50 ms)")
    print(
        json.dumps(
            {
                "bench": "api",
                "figures": figures,
                "baseline": {
                    "raw_ciphertext_http_mib_s": streaming["raw_ciphertext_http_mib_s"],
                    "raw_ciphertext_read_mib_s": streaming["raw_ciphertext_read_mib_s"],
                },
                # The issue compares with reading the ciphertext raw; from the page cache that is a
                # memory copy, so the same file served raw through the same HTTP stack is shown too.
                "targets": {
                    "worst_search_p95_ms < 50": worst_p95 < 50,
                    "stream_share_of_raw_http >= 0.5": ratio >= 0.5,
                    "stream_share_of_raw_disk_read >= 0.5": figures["stream_share_of_raw_disk_read"]
                    >= 0.5,
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
