"""Every log line of full calls, scanned for personal data and secrets.

A daemon on the sandbox Asterisk, logging JSON at DEBUG into one file (daemon, call flows,
ARI client, recording pipeline, HTTP API and the standard library's loggers): an inbound
caller enters a card number in a `sensitive` menu, talks to an agent and is recorded; an agent
signs in (session cookie) and places a click-to-call through the API with a token. Then no
line may hold the caller's or the dialled number unmasked, the entered digits, the ARI or
database password, the API token, the session cookie, the user's password, the agent's name,
or any key material (keyring key, data keys, wrapped keys), in plain, hex or base64 form.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import structlog
from pydantic import SecretStr
from sqlalchemy import make_url, select

from zentrale.calls.models import Call, Outcome
from zentrale.config.logging import configure_logging, mask_number
from zentrale.config.settings import (
    DatabaseSettings,
    HttpSettings,
    KeySettings,
    RecipientSettings,
    RecordingSettings,
    RoutingSettings,
    Settings,
    StorageSettings,
)
from zentrale.core.models import Role
from zentrale.core.users import NewUser, UserStore
from zentrale.daemon import Daemon
from zentrale.recording.keys.base import unwrap_any, wrapped_keys_from_json
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.testing.databases import fresh_database

MONDAY_10 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
CALLER = "+905551112233"
DIALLED = "+4930123456789"
CARD = "73194628"
DB_PASSWORD = "Db-Pa55word-only-in-the-url"  # PostgreSQL trusts loopback: any password works
USER_PASSWORD = "a long password 1"
WRONG_PASSWORD = "not her password 2"
WRONG_TOKEN = "zt_forged0123456789abcdefghijklmnop"

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  menu: sound:hello-world
  card: sound:dir-pls-enter
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
announcements:
  consent: {inbound: consent, outbound: consent}
departments:
  sales:
    agents: [{endpoint: "Local/LS1@sim-agent/n", name: Ayşe}]
    strategy: in_order
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    recording: true
menus:
  main:
    prompt: menu
    options: {"1": {menu: card}}
    timeout: 5s
    on_invalid: {play_and_hangup: bye}
  card:
    prompt: card
    entry:
      min_length: 8
      max_length: 8
      terminator: "#"
      store_as: card
      sensitive: true
      then: {department: sales}
    timeout: 8s
    on_invalid: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {menu: main}
"""


@dataclass
class Scanned:
    """The daemon, the sandbox, the log file and the test's directory."""

    daemon: Daemon
    asterisk: SandboxInstance
    log: Path
    tmp: Path

    async def ended_calls(self, count: int, max_wait: float = 120) -> list[Call]:
        async with asyncio.timeout(max_wait):
            while True:
                await self.daemon.journal.flush()
                async with self.daemon.db.read() as session:
                    calls = list(await session.scalars(select(Call).order_by(Call.arrived_at)))
                ended = [c for c in calls if c.ended_at is not None]
                if len(ended) >= count and not self.daemon.center.active:
                    return calls
                await asyncio.sleep(0.2)

    async def stored(self, count: int, max_wait: float = 120) -> list[Recording]:
        async with asyncio.timeout(max_wait):
            while True:
                async with self.daemon.db.read() as session:
                    rows = list(await session.scalars(select(Recording)))
                if len(rows) >= count and all(r.state == RecordingState.STORED for r in rows):
                    return rows
                await asyncio.sleep(0.2)


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every structlog and stdlib log line of this process, as JSON at DEBUG, into one file."""
    path = tmp_path / "all.log"
    with path.open("w", buffering=1, encoding="utf-8") as stream:
        monkeypatch.setattr(sys, "stderr", stream)
        configure_logging("json", "debug", mask_numbers=True)
        yield path


@pytest_asyncio.fixture
async def scanned(
    asterisk: SandboxInstance, tmp_path: Path, log_file: Path
) -> AsyncIterator[Scanned]:
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    state = tmp_path / "state"
    with fresh_database("postgresql", tmp_path, prefix="zentrale_logscan") as url:
        with_password = make_url(url).set(password=DB_PASSWORD)
        settings = Settings(
            state_dir=state,
            routing=RoutingSettings(file=rules, history_dir=state / "history"),
            database=DatabaseSettings(url=SecretStr(with_password.render_as_string(False))),
            http=HttpSettings(port=0),
            recording=RecordingSettings(temp_dir=state / "tmp", workers=1),
            storage=StorageSettings(path=tmp_path / "recordings"),
            keys=KeySettings(
                recipients=(
                    RecipientSettings(
                        provider="local", keyring_file=tmp_path / "keys" / "keyring.json"
                    ),
                )
            ),
        )
        async with Daemon.running(
            settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
        ) as daemon:
            await daemon.ari.wait_resynced(max_wait=10)
            yield Scanned(daemon, asterisk, log_file, tmp_path)


def forms(secret: str | bytes) -> set[str]:
    """Return SECRET as text, hex and base64 (standard and URL-safe, with and without padding)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    found = {raw.hex(), *encoded, *(e.rstrip("=") for e in encoded)}
    if isinstance(secret, str):
        found.add(secret)
    return {item for item in found if len(item) >= 8}


def number_forms(number: str) -> set[str]:
    """Return a phone number as written, without its plus, and national (without the 2-digit
    country code)."""
    return {number, number.lstrip("+"), number.lstrip("+")[2:]}


async def sign_in_and_call(scanned: Scanned) -> tuple[str, str, str]:
    """Sign in by password (session cookie), then click-to-call with a token; return secrets.

    A wrong password and a wrong token first, so the refusals' log lines are scanned too.
    """
    users = UserStore(scanned.daemon.db)
    user = await users.add(
        NewUser(
            username="ayse",
            display_name="Ayşe",
            password=USER_PASSWORD,
            role=Role.AGENT,
            departments=("sales",),
            agent_endpoint="Local/LS1@sim-agent/n",
        )
    )
    token = (await users.issue_token(user.id, "scan", 1)).secret
    async with httpx.AsyncClient(base_url=scanned.daemon.http_url, timeout=90) as api:
        wrong = await api.post(
            "/api/auth/login", json={"username": "ayse", "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 401
        forged = await api.get("/api/calls", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        assert forged.status_code == 401
        signed = await api.post(
            "/api/auth/login", json={"username": "ayse", "password": USER_PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        cookie = next(iter(api.cookies.values()))
        csrf = signed.json()["csrf_token"]
        placed = await api.post(
            "/api/calls",
            json={"number": DIALLED, "department": "sales"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert placed.status_code == 200, placed.text
        assert placed.json()["result"] == "answered"
    return token, cookie, csrf


def key_material(scanned: Scanned, rows: list[Recording]) -> set[str]:
    """Return the keyring's keys, every recording's data key and wrapped keys, in all forms."""
    ring = Keyring.load(scanned.tmp / "keys" / "keyring.json")
    found: set[str] = set()
    for key in ring.keys.values():
        found |= forms(key)
    for row in rows:
        wrapped = wrapped_keys_from_json(row.wrapped_keys)
        found |= forms(unwrap_any(wrapped, [LocalKeyProvider(ring)], row.id))
        for item in wrapped:
            found |= forms(item.blob)
    return found


@pytest.mark.asterisk
@pytest.mark.postgres
@pytest.mark.asyncio
async def test_no_personal_data_or_secret_in_any_log_line(scanned: Scanned) -> None:
    ari = scanned.asterisk.ari
    await script_party(ari, "agent", "LS1", PartyScript(answer_after=0.5))
    digits = f"1w{CARD}#"
    await place_call(
        ari, did="100", caller=CALLER, script=CustomerScript(digits=digits, digit_delay=0.4, talk=3)
    )
    (inbound,) = await scanned.ended_calls(1)
    assert (inbound.outcome, inbound.department) == (Outcome.ANSWERED, "sales")
    await script_party(ari, "agent", "LS1", PartyScript(answer_after=0.5))
    # The called customer talks long enough to outlast the consent notice (2.3 s).
    await script_party(ari, "number", DIALLED, PartyScript(answer_after=0.5, talk=6, then="hangup"))
    token, cookie, csrf = await sign_in_and_call(scanned)
    calls = await scanned.ended_calls(2)
    assert {c.outcome for c in calls} == {Outcome.ANSWERED}
    rows = await scanned.stored(2)
    await scanned.daemon.pipeline.wait_idle()  # type: ignore[union-attr]

    text = scanned.log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) > 50  # the lines of two calls, the pipeline and the API were written
    assert mask_number(CALLER) in text  # the caller's lines are there, masked
    assert mask_number(DIALLED) in text
    secrets = {
        "caller's number": number_forms(CALLER),
        "dialled number": number_forms(DIALLED),
        "digits entered in a sensitive menu": {CARD},
        "agent's name": {"Ayşe", "Ay\\u015fe"},  # as written, and as JSON escapes it
        "ARI password": forms(ari.password.get_secret_value()),
        "database password": forms(DB_PASSWORD),
        "user's password": forms(USER_PASSWORD) | forms(WRONG_PASSWORD),
        "API token": forms(token) | forms(WRONG_TOKEN),
        "session cookie": forms(cookie),
        "CSRF token": forms(csrf),
        "key material": key_material(scanned, rows),
    }
    leaks = [
        (what, number + 1, line[:300])
        for what, values in secrets.items()
        for number, line in enumerate(lines)
        if any(v in line for v in values)
    ]
    assert leaks == []


def test_numbers_and_secrets_nested_in_a_log_value_are_masked_too(log_file: Path) -> None:
    # An ARI event or a request body logged whole: the JSON renderer prints nested values.
    structlog.get_logger("scan").debug(
        "ari.event",
        data={"channel": {"caller": {"number": CALLER, "name": "Customer"}}},
        args=["dialled", f"{DIALLED},sales"],
        body={"username": "ayse", "password": USER_PASSWORD},
    )
    text = log_file.read_text(encoding="utf-8")
    assert mask_number(CALLER) in text
    assert mask_number(DIALLED) in text
    assert [leak for leak in (CALLER, DIALLED, USER_PASSWORD) if leak in text] == []
