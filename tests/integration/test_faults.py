"""Faults without loss (issue 21): `zentrale run` as a real process against the sandbox.

Each test provokes one fault an operator meets (a SIGKILLed daemon, a new ARI password, a
full temp directory, every agent busy) and checks what the daemon leaves behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy import func, select

from zentrale.calls.models import Call, CallEvent, EventKind, Outcome
from zentrale.db.session import Database
from zentrale.ops.process import DaemonProcess, DaemonSpec
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.telephony.ari import AriCredentials

from .faultkit import fill, small_disk
from .test_service import RULES

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, pause: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(pause)
    return False


@pytest_asyncio.fixture
async def daemon(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    process = DaemonProcess(DaemonSpec(tmp_path, asterisk.ari, RULES))
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready)
        yield process
    finally:
        process.stop(30)


async def _calls(home: Path) -> list[tuple[Call, dt.datetime | None]]:
    async with Database.open(f"sqlite+aiosqlite:///{home}/z.db") as db, db.read() as session:
        last = (
            select(func.max(CallEvent.at))
            .where(CallEvent.call_id == Call.id)
            .correlate(Call)
            .scalar_subquery()
        )
        rows = await session.execute(select(Call, last).order_by(Call.arrived_at))
        return [(call, at) for call, at in rows.all()]


async def _restart(daemon: DaemonProcess) -> None:
    """Start DAEMON again (same home, settings and database) and wait until it is ready."""
    started = len(daemon.events("service.ready"))
    daemon.stop(5)
    daemon.start()

    async def ready() -> bool:
        if daemon.process is not None and daemon.process.poll() is not None:
            raise AssertionError(daemon.text()[-3000:])
        return len(daemon.events("service.ready")) > started

    assert await _until(ready, 90), daemon.text()[-3000:]


async def _bridged(asterisk: SandboxInstance) -> bool:
    creds = asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:
        return any(len(b["channels"]) == 2 for b in (await http.get("/bridges")).json())


async def test_calls_a_killed_daemon_left_open_are_closed_interrupted_at_start(
    asterisk: SandboxInstance, daemon: DaemonProcess
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "S1", PartyScript(answer_after=0.5, talk=8, then="hangup"))
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))
    assert await _until(lambda: _bridged(asterisk), 20), daemon.text()[-3000:]
    await asyncio.sleep(1)  # the journal writes the agent's answer
    daemon.signal(signal.SIGKILL)
    assert await asyncio.to_thread(daemon.wait, 10) == -signal.SIGKILL
    ((call, _last),) = await _calls(daemon.spec.home)
    assert call.ended_at is None  # the crash left the row open
    asterisk.cli("channel request hangup all")  # and the call ends while no daemon runs

    await _restart(daemon)

    async def closed() -> bool:  # after the first resync: only calls not adopted are closed
        rows = await _calls(daemon.spec.home)
        return next(c for c, _at in rows if c.id == call.id).ended_at is not None

    assert await _until(closed, 15), daemon.text()[-3000:]
    rows = await _calls(daemon.spec.home)
    first, last = next((c, at) for c, at in rows if c.id == call.id)
    assert first.outcome == Outcome.INTERRUPTED
    assert first.ended_at == last  # the last thing known of it
    assert first.ended_at is not None
    assert first.ended_at >= first.arrived_at


async def _registered(creds: AriCredentials) -> bool:
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth, timeout=2) as http:
        try:
            reply = await http.get(f"/applications/{creds.app}")
        except httpx.HTTPError:
            return False
    return reply.status_code == 200


async def test_a_new_ari_password_is_read_again_on_401_and_on_sighup(
    asterisk: SandboxInstance, daemon: DaemonProcess
) -> None:
    password_file = daemon.spec.home / "ari-password"
    # As `zentrale sandbox up` does: Asterisk comes back with a new password, written to the
    # file the daemon's ari.password_file names.
    await asyncio.to_thread(asterisk.stop)
    asterisk.password = SecretStr(secrets.token_urlsafe(18))
    password_file.write_text(asterisk.password.get_secret_value())
    await asyncio.to_thread(asterisk.start)
    up = time.monotonic()
    assert await _until(lambda: _registered(asterisk.ari), 10), daemon.text()[-3000:]
    reconnected = time.monotonic() - up
    assert reconnected < 10
    assert daemon.events("ari.credentials_reloaded")

    # SIGHUP: the password changed in Asterisk (a reload, no restart) and in the file.
    await asyncio.to_thread(asterisk.stop)
    asterisk.password = SecretStr(secrets.token_urlsafe(18))
    await asyncio.to_thread(asterisk.start)
    await asyncio.sleep(1)  # the daemon meets 401s with the old password in the file
    password_file.write_text(asterisk.password.get_secret_value())
    before = len(daemon.events("ari.credentials_reloaded"))
    daemon.signal(signal.SIGHUP)
    assert await _until(lambda: _registered(asterisk.ari), 10), daemon.text()[-3000:]
    assert len(daemon.events("ari.credentials_reloaded")) == before + 1


async def _events(home: Path, kind: EventKind) -> dict[str, int]:
    """Return how many events of KIND each call has."""
    async with Database.open(f"sqlite+aiosqlite:///{home}/z.db") as db, db.read() as session:
        query = (
            select(CallEvent.call_id, func.count())
            .where(CallEvent.kind == kind)
            .group_by(CallEvent.call_id)
        )
        return {str(row[0]): int(row[1]) for row in (await session.execute(query)).all()}


async def test_all_agents_busy_for_20_seconds_rings_each_agent_a_bounded_number_of_times(
    asterisk: SandboxInstance, daemon: DaemonProcess
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "S1", PartyScript(mode="busy"))
    waiting = CustomerScript(digits="1", digit_delay=0.5, then="wait", hangup_after=22)
    await asyncio.gather(*(place_call(creds, script=waiting) for _ in range(3)))

    async def ended() -> bool:
        rows = await _calls(daemon.spec.home)
        return len(rows) == 3 and all(call.ended_at is not None for call, _ in rows)

    assert await _until(ended, 60), daemon.text()[-3000:]
    rung = await _events(daemon.spec.home, EventKind.AGENT_RUNG)
    # The busy phone is rung at about 0, 2, 6 and 14 s (back-off 2 s, doubling), whichever
    # caller's turn it is: at most 5 rings in ~20 s for all three callers together, where each
    # caller alone rang it about 30 times a second before.
    assert sum(rung.values()) <= 5, rung
    assert sum(rung.values()) >= 3, rung
    assert all(count <= 5 for count in rung.values()), rung


async def test_callers_cut_off_by_an_asterisk_restart_are_dropped_not_abandoned(
    asterisk: SandboxInstance, daemon: DaemonProcess
) -> None:
    creds = asterisk.ari
    await script_party(creds, "agent", "S1", PartyScript(mode="noanswer"))
    await place_call(creds, script=CustomerScript(digits="1", digit_delay=0.5, then="wait"))

    async def queued() -> bool:
        rows = await _calls(daemon.spec.home)
        return len(rows) == 1 and rows[0][0].queued_at is not None

    assert await _until(queued, 20), daemon.text()[-3000:]
    await asyncio.to_thread(asterisk.restart)

    async def ended() -> bool:
        return all(call.ended_at is not None for call, _ in await _calls(daemon.spec.home))

    assert await _until(ended, 30), daemon.text()[-3000:]
    ((call, _),) = await _calls(daemon.spec.home)
    assert call.outcome == Outcome.DROPPED  # not abandoned_in_queue: the caller did not hang up


@pytest.fixture
def small_temp(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs as the recording temp directory (unmounted afterwards)."""
    with small_disk(tmp_path / "home" / "tmp", "4m") as mount:
        yield mount


async def test_a_full_temp_directory_makes_the_node_not_ready(
    asterisk: SandboxInstance, small_temp: Path
) -> None:
    spec = DaemonSpec(
        small_temp.parent, asterisk.ari, RULES, sections={"recording": {"min_free_mb": 1}}
    )
    daemon = DaemonProcess(spec)
    daemon.start()
    try:
        await asyncio.to_thread(daemon.wait_ready)
        assert (await asyncio.to_thread(daemon.get, "/readyz")).status_code == 200
        await asyncio.to_thread(fill, small_temp / "filler")

        async def answers(status: int) -> bool:
            return (await asyncio.to_thread(daemon.get, "/readyz")).status_code == status

        assert await _until(lambda: answers(503), 15), daemon.text()[-2000:]
        reply = await asyncio.to_thread(daemon.get, "/readyz")
        assert "disk:temp" in reply.text
        screen = await asyncio.to_thread(_status, daemon)
        assert screen.returncode == 1, screen.stdout
        assert "NOT READY" in screen.stdout
        (small_temp / "filler").unlink()
        assert await _until(lambda: answers(200), 15), daemon.text()[-2000:]
    finally:
        daemon.stop(30)


def _status(daemon: DaemonProcess) -> subprocess.CompletedProcess[str]:
    zentrale = Path(sys.executable).parent / "zentrale"
    command = [str(zentrale), "--config", str(daemon.config), "status", "--url", daemon.url or ""]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


AGENTS = ["S1", "S2", "S3", "S4", "S5"]
FIVE_AGENTS = RULES.replace(
    'agents: [{endpoint: "Local/S1@sim-agent/n", name: Sam}]',
    "agents: ["
    + ", ".join(f'{{endpoint: "Local/{a}@sim-agent/n", name: Agent{a}}}' for a in AGENTS)
    + "]",
)


async def _talking(asterisk: SandboxInstance) -> int:
    creds = asterisk.ari
    auth = (creds.username, creds.password.get_secret_value())
    async with httpx.AsyncClient(base_url=creds.base_url, auth=auth) as http:
        return sum(len(b["channels"]) == 2 for b in (await http.get("/bridges")).json())


async def _rows(home: Path) -> list[tuple[Call, list[Recording]]]:
    async with Database.open(f"sqlite+aiosqlite:///{home}/z.db") as db, db.read() as session:
        calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
        found = []
        for call in calls:
            query = select(Recording).where(Recording.call_id == call.id)
            found.append((call, list(await session.scalars(query))))
        return found


@pytest.mark.parametrize(("two_party", "calls"), [(False, 3), (True, 5)])
async def test_a_daemon_killed_during_bridged_calls_adopts_them_when_restarted(
    asterisk: SandboxInstance, tmp_path: Path, two_party: bool, calls: int
) -> None:
    assert FIVE_AGENTS != RULES
    recording = {"recording": {"two_party": two_party}}
    spec = DaemonSpec(tmp_path / "home", asterisk.ari, FIVE_AGENTS, sections=recording)
    daemon = DaemonProcess(spec)
    daemon.start()
    try:
        await asyncio.to_thread(daemon.wait_ready)
        creds = asterisk.ari
        for agent in AGENTS:
            talk = PartyScript(answer_after=0.5, talk=30, then="hangup")
            await script_party(creds, "agent", agent, talk)
        waiting = CustomerScript(digits="1", digit_delay=0.5, then="wait")
        await asyncio.gather(*(place_call(creds, script=waiting) for _ in range(calls)))

        async def all_talking() -> bool:
            return await _talking(asterisk) == calls

        assert await _until(all_talking, 30), daemon.text()[-3000:]
        await asyncio.sleep(1)  # the journal writes the answers and recording starts
        daemon.signal(signal.SIGKILL)
        killed = time.monotonic()
        assert await asyncio.to_thread(daemon.wait, 10) == -signal.SIGKILL
        await _restart(daemon)
        restarted = time.monotonic() - killed
        await asyncio.sleep(1)
        assert await _talking(asterisk) == calls, daemon.text()[-3000:]  # nobody was cut off

        async def all_stored() -> bool:
            rows = await _rows(daemon.spec.home)
            return len(rows) == calls and all(
                call.ended_at is not None
                and len(recordings) == 1
                and recordings[0].state == RecordingState.STORED
                for call, recordings in rows
            )

        assert await _until(all_stored, 120), daemon.text()[-4000:]
        rows = await _rows(daemon.spec.home)
        for call, recordings in rows:
            assert call.outcome == Outcome.ANSWERED
            assert call.conversations == 1
            assert call.handle_seconds > 25  # the whole conversation, across the restart
            assert call.agent_endpoint is not None
            # One file for the whole conversation (snoop recordings start a moment later).
            assert (recordings[0].duration_s or 0) > 20
        keys = [recordings[0].object_key for _call, recordings in rows]
        stored = LocalStore(daemon.spec.home / "recordings").list()
        assert sorted(stored) == sorted(keys)  # each stored once, nothing else
        assert restarted < 25
    finally:
        daemon.stop(30)
