"""Issue 18, security hardening: each finding of the review, attacked as it was found."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from zentrale.api import create_app
from zentrale.api.denials import PER_MINUTE
from zentrale.api.deps import Deps
from zentrale.api.server import bind, serving
from zentrale.cli.users import users as users_group
from zentrale.core.models import AuditEntry
from zentrale.core.users import SecondFactors, UserStore
from zentrale.testing.clocks import FakeClock

from .conftest import PASSWORD, World

pytestmark = pytest.mark.asyncio

EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("value", EDGE_TIMES)
async def test_times_at_the_calendar_edge_are_refused_naming_the_parameter(
    client: httpx.AsyncClient, world: World, value: str
) -> None:
    for path, name in (
        ("/api/recordings", "since"),
        ("/api/recordings", "until"),
        ("/api/notes", "from"),
        ("/api/notes", "to"),
    ):
        response = await client.get(path, params={name: value}, headers=world.auth("admin"))
        assert response.status_code == 422, (path, name, response.text)
        assert name in response.json()["error"]["message"]


async def test_stats_at_the_end_of_the_calendar_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    for params in ({"from": "9999-12-25", "to": "9999-12-31"}, {"from": "0001-01-01"}):
        response = await client.get("/api/stats", params=params, headers=world.auth("admin"))
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert "to" in message or "from" in message


@pytest.mark.parametrize(
    "value", ["2026-03-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-01:00"]
)
async def test_a_crafted_cursor_with_an_unusable_time_is_refused(
    client: httpx.AsyncClient, world: World, value: str
) -> None:
    raw = json.dumps(["-created_at", value, "x"]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(
        "/api/recordings", params={"cursor": cursor}, headers=world.auth("admin")
    )
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["error"]["message"]


async def _audit(client: httpx.AsyncClient, world: World, **params: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/audit", params={"limit": "500", **params}, headers=world.auth("admin")
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_numbers_without_a_plus_are_masked_in_the_audit_log(
    client: httpx.AsyncClient, world: World
) -> None:
    rid = world.recordings["sales1"]
    reason = "call back 0049301234567 or 905551112233, or 0555 111-22-33"
    response = await client.get(
        f"/api/recordings/{rid}/download", params={"reason": reason}, headers=world.auth("qa")
    )
    assert response.status_code == 200, response.text
    search = await client.get(
        "/api/customers", params={"q": "905551112233"}, headers=world.auth("admin")
    )
    assert search.status_code == 200, search.text
    text = json.dumps(await _audit(client, world))
    for digits in ("0049301234567", "905551112233", "1234567", "111-22-33", "5551112233"):
        assert digits not in text
    assert "+90555*****33" in text
    assert "+49301****67" in text


@pytest.mark.parametrize(("trusted", "seen"), [((), "127.0.0.1"), (("127.0.0.1",), "203.0.113.9")])
async def test_forwarded_for_is_believed_only_from_configured_proxies(
    deps: Deps, world: World, trusted: tuple[str, ...], seen: str
) -> None:
    sock = bind("127.0.0.1", 0)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    async with serving(create_app(deps), sock, trusted), client as http:
        headers = {"X-Forwarded-For": "203.0.113.9", **world.auth("qa")}
        response = await http.get("/api/recordings", headers=headers)
        assert response.status_code == 200
        assert "server" not in response.headers
    (entry,) = await _audit_via(deps, world, action="recording.search")
    assert entry["address"] == seen


async def _audit_via(deps: Deps, world: World, **params: str) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        return await _audit(http, world, **params)


async def test_a_large_body_is_refused_before_it_is_read(
    client: httpx.AsyncClient, world: World
) -> None:
    big = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"a" * 65536

    streamed = await client.post(
        "/api/me/tokens",
        content=chunks(),
        headers={"Content-Type": "application/json", **world.auth("qa")},
    )
    assert streamed.status_code == 413


async def test_api_answers_are_not_cached(client: httpx.AsyncClient, world: World) -> None:
    for path in ("/api/recordings", "/api/me", "/api/customers?q=x"):
        response = await client.get(path, headers=world.auth("admin"))
        assert response.status_code == 200
        assert "no-store" in response.headers["cache-control"], path


async def test_a_taken_number_does_not_name_a_customer_outside_the_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    support = "+4930123456"  # called support only: outside the sales supervisor's scope
    created = await client.post(
        "/api/customers", json={"numbers": [support]}, headers=world.auth("admin")
    )
    owner = created.json()["id"]
    mine = await client.post(
        "/api/customers", json={"numbers": ["+905559998877"]}, headers=world.auth("super")
    )
    assert mine.status_code == 201, mine.text
    attempts = [
        await client.post(
            "/api/customers", json={"numbers": [support]}, headers=world.auth("super")
        ),
        await client.patch(
            f"/api/customers/{mine.json()['id']}",
            json={"add_numbers": [support]},
            headers=world.auth("super"),
        ),
    ]
    for refused in attempts:
        assert refused.status_code == 409, refused.text
        assert owner not in refused.text
        assert "another customer" in refused.json()["error"]["message"]
    admin = await client.post(
        "/api/customers", json={"numbers": [support]}, headers=world.auth("admin")
    )
    assert owner in admin.json()["error"]["message"]  # in scope: named


async def test_refused_requests_are_audited_within_a_budget(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    support = world.recordings["support1"]
    outside = await client.get(f"/api/recordings/{support}", headers=world.auth("qa"))
    assert outside.status_code == 404
    forbidden = await client.get("/api/audit", headers=world.auth("agent"))
    assert forbidden.status_code == 403
    denied = await _audit(client, world, action="access.denied")
    assert {(e["actor_name"], e["detail"]["status"]) for e in denied} == {
        ("qa", 404),
        ("agent", 403),
    }
    assert any(e["target"] == f"/api/recordings/{support}" for e in denied)
    for _ in range(PER_MINUTE + 10):
        await client.get("/api/users", headers=world.auth("agent"))
    flood = [
        e for e in await _audit(client, world, action="access.denied") if e["actor_name"] == "agent"
    ]
    assert len(flood) == PER_MINUTE
    clock.now += dt.timedelta(minutes=2)
    await client.get("/api/users", headers=world.auth("agent"))
    (latest, *_) = await _audit(client, world, action="access.denied")
    assert latest["detail"]["suppressed"] == 11


async def test_tokens_last_at_most_the_configured_days(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    most = deps.settings.api.token_days
    for days, status in ((3650, 422), (most + 1, 422), (most, 201)):
        response = await client.post(
            "/api/me/tokens", json={"name": "script", "days": days}, headers=world.auth("qa")
        )
        assert response.status_code == status, (days, response.text)


async def test_enabling_a_user_again_does_not_revive_old_tokens(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    users = UserStore(deps.db, deps.clock)
    await users.set_disabled("qa")
    await users.set_disabled("qa", disabled=False)
    response = await client.get("/api/me", headers=world.auth("qa"))
    assert response.status_code == 401
    assert (await client.post("/api/auth/login", json=_login("qa"))).status_code == 200


def _login(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": user, "password": password}


async def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(
    client: httpx.AsyncClient, deps: Deps, world: World
) -> None:
    for _ in range(deps.settings.api.login_attempts_per_minute + 2):
        await client.post("/api/auth/login", json=_login("admin", "wrong password!"))
    blocked = await client.post("/api/auth/login", json=_login("admin"))
    assert blocked.status_code == 429  # the guesser's address is slowed down
    transport = httpx.ASGITransport(app=create_app(deps), client=("10.9.9.9", 4444))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as owner:
        assert (await owner.post("/api/auth/login", json=_login("admin"))).status_code == 200


async def test_the_sign_in_form_token_works_once(client: httpx.AsyncClient, world: World) -> None:
    form = (await client.get("/login")).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None
    nonce = client.cookies.get("zentrale_login")
    fields = {"csrf_token": found.group(1), "username": "qa", "password": PASSWORD}
    first = await client.post("/login", data=fields)
    assert first.status_code == 303
    client.cookies.set("zentrale_login", nonce or "", path="/login")
    replayed = await client.post("/login", data=fields)
    assert replayed.status_code == 403


def _code(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


async def test_a_second_factor_is_enrolled_asked_for_and_works_once(
    client: httpx.AsyncClient, world: World, clock: FakeClock
) -> None:
    started = await client.post("/api/me/totp", headers=world.auth("super"))
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    assert started.json()["uri"].startswith("otpauth://totp/")
    confirmed = await client.post(
        "/api/me/totp/confirm", json={"code": _code(secret, clock)}, headers=world.auth("super")
    )
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10
    without = await client.post("/api/auth/login", json=_login("super"))
    assert (without.status_code, without.json()["error"]["code"]) == (401, "second-factor-required")
    clock.now += dt.timedelta(seconds=30)
    code = _code(secret, clock)
    good = await client.post("/api/auth/login", json={**_login("super"), "code": code})
    assert good.status_code == 200, good.text
    replayed = await client.post("/api/auth/login", json={**_login("super"), "code": code})
    assert replayed.status_code == 401
    rescue = {**_login("super"), "code": recovery[0]}
    assert (await client.post("/api/auth/login", json=rescue)).status_code == 200
    assert (await client.post("/api/auth/login", json=rescue)).status_code == 401
    actions = [e["action"] for e in await _audit(client, world)]
    assert {"totp.start", "totp.enrol", "auth.login"} <= set(actions)
    again = await client.post("/api/me/totp", headers=world.auth("super"))
    assert again.status_code == 409


async def test_admins_and_supervisors_must_use_a_second_factor_when_required(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    api = deps.settings.api.model_copy(update={"require_second_factor": True})
    deps.settings = deps.settings.model_copy(update={"api": api})
    refused = await client.post("/api/auth/login", json=_login("super"))
    assert refused.json()["error"]["code"] == "second-factor-not-enrolled"
    assert (await client.post("/api/auth/login", json=_login("qa"))).status_code == 200


async def test_the_web_sign_in_asks_for_the_code(
    client: httpx.AsyncClient, world: World, deps: Deps, clock: FakeClock
) -> None:
    enrolment, _codes = await SecondFactors(deps.db, deps.clock).enrol("admin")
    clock.now += dt.timedelta(seconds=30)

    async def post(code: str) -> httpx.Response:
        form = (await client.get("/login")).text
        assert 'name="code"' in form
        found = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert found is not None
        fields = {"csrf_token": found.group(1), "username": "admin", "password": PASSWORD}
        return await client.post("/login", data={**fields, "code": code})

    assert (await post("")).status_code == 401
    assert (await post(_code(enrolment.secret, clock))).status_code == 303


async def test_the_cli_enrols_and_resets_the_second_factor(
    world: World, deps: Deps, database_url: str, tmp_path: Path
) -> None:
    env = {"ZENTRALE_DATABASE__URL": database_url, "ZENTRALE_STATE_DIR": str(tmp_path)}
    run = CliRunner().invoke
    enrolled = await asyncio.to_thread(run, users_group, ["totp", "super"], env=env)
    assert enrolled.exit_code == 0, enrolled.output
    assert "otpauth://totp/" in enrolled.output
    user = await UserStore(deps.db).by_name("super")
    assert user is not None
    assert user.totp_confirmed_at is not None
    assert len(user.recovery_codes or []) == 10
    assert not any(code in str(user.recovery_codes) for code in enrolled.output.split()[-10:])
    reset = await asyncio.to_thread(run, users_group, ["totp-reset", "super"], env=env)
    assert reset.exit_code == 0, reset.output
    user = await UserStore(deps.db).by_name("super")
    assert user is not None
    assert user.totp_secret is None
    async with deps.db.read() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert {"totp.enrol", "totp.reset"} <= set(actions)


async def test_oversized_headers_are_refused(deps: Deps, world: World) -> None:
    sock = bind("127.0.0.1", 0)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    async with serving(create_app(deps), sock), client as http:
        try:
            response = await http.get("/api/health", headers={"X-Big": "a" * 1_000_000})
        except httpx.TransportError:
            return  # the server closed the connection: refused as well
        assert response.status_code == 400


async def test_a_subject_request_with_a_long_customer_number_is_no_server_error(
    client: httpx.AsyncClient, world: World
) -> None:
    # Found by schemathesis on PostgreSQL: the receipt's subject overflowed its column.
    body = {"number": "+905551112233", "customer": "C" * 64, "reason": "data subject request"}
    for path in ("/api/subjects/export", "/api/subjects/erase"):
        response = await client.post(path, json=body, headers=world.auth("admin"))
        assert response.status_code < 500, (path, response.text)
