"""`zentrale demo`: the main job on the embedded defaults, end to end, in one command.

Starts the sandbox Asterisk (building its root the first time), speaks the example prompts
with espeak-ng, and runs the real daemon on the example rules of `config/routing.yaml` (a
German-speaking call centre in Antalya) with SQLite and local encrypted storage under
`<state_dir>/demo`. A few simulated customers call in and press their way through the menus
to sales, support and billing; simulated agents answer. Then it prints each call's route,
outcome and recording, read back from the database.

With `--serve`, the QA pages then stay up on the demo's data (`serve_demo`), with a demo
sign-in printed, so a newcomer hears the calls just made in the browser.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import func, select

from zentrale.api import create_app
from zentrale.api.server import bind, serving
from zentrale.base.errors import ZentraleError
from zentrale.calls.models import Call
from zentrale.calls.store import CallStore
from zentrale.config.logging import mask_number
from zentrale.config.settings import (
    ApiSettings,
    DatabaseSettings,
    HttpSettings,
    KeySettings,
    PromptSettings,
    RecipientSettings,
    RoutingSettings,
    Settings,
    StorageSettings,
)
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.daemon.qa import open_deps
from zentrale.prompts.manifest import load_manifest
from zentrale.prompts.synthesize import synthesize
from zentrale.recording.models import Recording, RecordingState
from zentrale.routing.load import load_rules
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party

Echo = Callable[[str], None]
# Monday 10:00 in Antalya: every department of the example is open.
OFFICE_HOURS = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
MANIFEST = Path("config/prompts.yaml")
DEMO_USER = "demo"


@dataclass(frozen=True)
class DemoCaller:
    """One simulated customer of the demo and what they do."""

    caller: str
    story: str
    script: CustomerScript


DEMO_CALLERS = (
    DemoCaller(
        "+4915112345678",
        "German mobile: menu in German, 1 = sales, answers the survey with 5",
        CustomerScript(
            digits="1", digit_delay=2, talk=20, later_digits="5", later_every=3, then="wait"
        ),
    ),
    DemoCaller(
        "+905551112233",
        "chooses Türkçe (2), support menu (2), technical problem (1)",
        CustomerScript(
            digits="2w2w1", digit_delay=2, talk=20, later_digits="4", later_every=3, then="wait"
        ),
    ),
    DemoCaller(
        "+447700900123",
        "English (3), billing (3), customer number, card number",
        CustomerScript(digits="3w3w1234567#w4111111111111111", digit_delay=2, talk=20, then="wait"),
    ),
    DemoCaller("+908500001234", "a blocked number", CustomerScript(digit_delay=1, then="wait")),
)
AGENTS = ("1001", "1002", "1011", "1012", "1013", "1021")
# The simulated agent lets the customer finish (their 20 s start at their last key), then
# answers for 6 s and hangs up: the recordings show turns, not two voices at once.
AGENT_SCRIPT = PartyScript(answer_after=1, digits="w" * 28, talk=6, then="hangup")


def demo_settings(settings: Settings, home: Path) -> Settings:
    """Return SETTINGS with the demo's own state under HOME (database, recordings, keys)."""
    return settings.model_copy(
        update={
            "state_dir": home,
            "database": DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{home}/zentrale.db")),
            "routing": RoutingSettings(file=settings.routing.file, history_dir=home / "history"),
            "http": HttpSettings(host="127.0.0.1", port=0),
            "prompts": PromptSettings(dir=home / "prompts"),
            "storage": StorageSettings(kind="local", path=home / "recordings"),
            # Each party in its own channel: the QA pages show who spoke when.
            "recording": settings.recording.model_copy(update={"two_party": True}),
            "keys": KeySettings(
                recipients=(
                    RecipientSettings(
                        provider="local", keyring_file=home / "keys" / "keyring.json"
                    ),
                )
            ),
        }
    )


async def run_demo(
    settings: Settings,
    calls: int,
    echo: Echo,
    name: str = "demo",
    at: dt.datetime | None = OFFICE_HOURS,
) -> list[Call]:
    """Run CALLS simulated calls through a fresh sandbox and the daemon; print their story."""
    home = settings.state_dir / name
    shutil.rmtree(home, ignore_errors=True)
    demo = demo_settings(settings, home)
    report = await asyncio.to_thread(synthesize, load_manifest(MANIFEST), demo.prompts.dir)
    echo(
        f"prompts spoken with espeak-ng: {len(report.made)} made, "
        f"{len(report.skipped)} up to date ({demo.prompts.dir})"
    )
    started = time.monotonic()
    root = await asyncio.to_thread(ensure_root, settings.sandbox.cache_dir)
    echo(f"sandbox root ready ({time.monotonic() - started:.1f} s): {root}")
    sandbox = SandboxInstance(root, name=name, app=settings.ari.app)
    await asyncio.to_thread(sandbox.start)
    echo(
        f"Asterisk {sandbox.cli('core show version').split()[1]} up, ARI on {sandbox.ari.base_url}"
    )
    # The daemon runs beside this Asterisk: it reads the recordings in its spool.
    spool = demo.recording.model_copy(update={"asterisk_spool": sandbox.recording_dir})
    demo = demo.model_copy(update={"recording": spool})
    try:
        return await _run(settings=demo, sandbox=sandbox, count=calls, echo=echo, at=at)
    finally:
        await asyncio.to_thread(sandbox.stop)
        sandbox.remove()
        echo("sandbox stopped")


async def _run(
    settings: Settings, sandbox: SandboxInstance, count: int, echo: Echo, at: dt.datetime | None
) -> list[Call]:
    clock = (lambda: at) if at is not None else None
    async with Daemon.running(
        settings, credentials=sandbox.ari, clock=clock, drain_seconds=5
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        when = at.strftime("%A %H:%M %Z") if at else "now"
        echo(
            f"zentrale up: ARI app {daemon.ari.app!r}, rules {daemon.rules.current.version} "
            f"({settings.routing.file}), routing clock {when}"
        )
        for agent in AGENTS:
            await script_party(sandbox.ari, "agent", agent, AGENT_SCRIPT)
        callers = [DEMO_CALLERS[index % len(DEMO_CALLERS)] for index in range(count)]
        for caller in callers:
            echo(f"calling in: {mask_number(caller.caller)} ({caller.story})")
            await place_call(
                sandbox.ari, did="902423100100", caller=caller.caller, script=caller.script
            )
        finished = await _all_finished(daemon, count, seconds=90 + 15 * count)
        for number, call in enumerate(finished, 1):
            echo(await _describe(number, call, daemon))
        return finished


class DemoStuckError(ZentraleError):
    """The demo's calls did not all end, or their recordings were not stored, in time."""

    code = "demo-stuck"


async def _all_finished(daemon: Daemon, count: int, seconds: float) -> list[Call]:
    deadline = time.monotonic() + seconds
    while True:
        await daemon.journal.flush()
        async with daemon.db.read() as session:
            calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
            waiting = await session.scalar(
                select(func.count()).where(Recording.state == RecordingState.FINISHED)
            )
        ended = len([c for c in calls if c.ended_at is not None])
        # Done when every call ended and the pipeline stored (or gave up on) every recording.
        if ended >= count and not daemon.center.active and not waiting:
            return calls
        if time.monotonic() > deadline:
            raise DemoStuckError(_stuck(daemon, calls, count, waiting or 0, seconds))
        await asyncio.sleep(0.3)


def _stuck(daemon: Daemon, calls: list[Call], count: int, waiting: int, seconds: float) -> str:
    """Say what the demo still waits for after SECONDS (which calls, in which step)."""
    open_calls = [f"{c.id} ({c.outcome})" for c in calls if c.ended_at is None]
    live = [
        f"{call_id} in {inbound.state_name}" for call_id, inbound in daemon.center.active.items()
    ]
    return (
        f"after {seconds:.0f} s: {len(calls)} of {count} calls arrived; "
        f"not ended: {', '.join(open_calls) or 'none'}; "
        f"still live in the daemon: {', '.join(live) or 'none'}; "
        f"recordings waiting for the pipeline: {waiting}"
    )


async def _describe(number: int, call: Call, daemon: Daemon) -> str:
    events = await CallStore(daemon.db).events(call.id)
    route = [
        f"{e.kind}({_detail(e.detail)})" if _detail(e.detail) else str(e.kind)
        for e in events
        if e.kind
        in ("menu_entered", "digit", "queued", "agent_answered", "survey_answer", "message_played")
    ]
    async with daemon.db.read() as session:
        recordings = list(
            await session.scalars(select(Recording).where(Recording.call_id == call.id))
        )
    lines = [
        f"call {number}: {mask_number(call.caller_number or '')} -> "
        f"{call.dialled_number}: {call.outcome}"
        + (f", {call.department}" if call.department else "")
        + (f", agent {call.agent_name}" if call.agent_name else ""),
        "  " + " > ".join(route),
    ]
    lines += [_recording(rec) for rec in recordings]
    return "\n".join(lines)


def _recording(rec: Recording) -> str:
    if rec.state != RecordingState.STORED:
        return f"  recording {rec.asterisk_name}: {rec.state}"
    seconds = f"{rec.duration_s:.1f} s" if rec.duration_s else "? s"
    return (
        f"  recording: {seconds} {rec.format}, {rec.object_size} bytes encrypted in "
        f"{rec.storage_backend} storage ({rec.object_key})"
    )


def _detail(detail: dict[str, object]) -> str:
    return ", ".join(
        f"{key}={value}"
        for key, value in detail.items()
        if key in ("menu", "digits", "department", "agent", "survey", "answer", "prompt")
    )


@dataclass(frozen=True)
class DemoSignIn:
    """Where the demo's QA pages are and how to sign in to them."""

    url: str
    username: str
    password: str


async def serve_demo(
    settings: Settings,
    echo: Echo,
    stop: asyncio.Event,
    port: int = 8800,
    name: str = "demo",
    ready: Callable[[DemoSignIn], None] | None = None,
) -> None:
    """Serve the QA pages on the demo's data under NAME until STOP is set.

    A QA user `demo` for every department of the rules is made with a random password
    (printed, stored only as a hash); the database, recordings and keys are the ones
    `run_demo` left.
    """
    home = settings.state_dir / name
    demo = demo_settings(settings, home).model_copy(
        update={"api": ApiSettings(cookie_secure=False)}  # plain http, on loopback only
    )
    password = secrets.token_urlsafe(12)
    async with open_deps(demo) as deps:
        username = await _demo_user(UserStore(deps.db), password, _departments(demo))
        sock = bind("127.0.0.1", port)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with serving(create_app(deps), sock):
            echo(f"QA pages of the demo's calls: {url}/")
            echo(f"sign in as {username!r} with the password {password!r} (Ctrl-C stops)")
            if ready is not None:
                ready(DemoSignIn(url=url, username=username, password=password))
            await stop.wait()


async def _demo_user(users: UserStore, password: str, departments: tuple[str, ...]) -> str:
    """Create the demo's QA user (a new name when the data is served again); return it."""
    username = DEMO_USER
    if await users.by_name(username) is not None:
        username = f"{DEMO_USER}-{secrets.token_hex(2)}"
    await users.add(
        NewUser(
            username=username,
            display_name="Demo QA",
            password=password,
            role=Role.QA,
            departments=departments,
        )
    )
    return username


def _departments(settings: Settings) -> tuple[str, ...]:
    return tuple(load_rules(settings.routing.file).document.departments)
