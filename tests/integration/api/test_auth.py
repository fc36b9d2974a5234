"""Sign-in, sessions, CSRF, API tokens and rate limiting, in-process on both databases."""

from __future__ import annotations

import httpx
import pytest

from .conftest import PASSWORD, FakeClock, World, sign_in

pytestmark = pytest.mark.asyncio


async def test_login_sets_a_secure_httponly_strict_cookie_and_me_answers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/auth/login", json={"username": "qa", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    me = (await client.get("/api/me")).json()
    assert me["username"] == "qa"
    assert me["role"] == "qa"
    assert me["departments"] == ["sales"]
    assert me["csrf_token"] == response.json()["csrf_token"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    wrong = await client.post("/api/auth/login", json={"username": "qa", "password": "nope"})
    unknown = await client.post("/api/auth/login", json={"username": "who", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "login-failed"


async def test_failed_logins_are_limited_per_account_then_forgotten_after_a_minute(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(5):
        await client.post("/api/auth/login", json={"username": "qa", "password": "bad"})
    good = {"username": "qa", "password": PASSWORD}
    limited = await client.post("/api/auth/login", json=good)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too-many-attempts"
    clock.advance(61)
    assert (await client.post("/api/auth/login", json=good)).status_code == 200


async def test_failed_logins_are_limited_per_address_across_accounts(
    client: httpx.AsyncClient,
) -> None:
    for number in range(20):
        await client.post("/api/auth/login", json={"username": f"u{number}", "password": "x"})
    response = await client.post("/api/auth/login", json={"username": "qa", "password": PASSWORD})
    assert response.status_code == 429


async def test_cookie_changes_need_the_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    csrf = await sign_in(client, "qa")
    url = f"/api/recordings/{world.recordings['sales1']}/tags/callback"
    refused = await client.put(url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf-failed"
    wrong = await client.put(url, headers={"X-CSRF-Token": "x" + csrf[1:]})
    assert wrong.status_code == 403
    accepted = await client.put(url, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200
    assert accepted.json()["tags"] == ["callback"]


async def test_bearer_tokens_need_no_csrf(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/recordings/{world.recordings['sales1']}/tags/callback"
    assert (await client.put(url, headers=world.auth("qa"))).status_code == 200


async def test_tampered_or_unknown_session_cookie_is_refused(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "qa")
    session = client.cookies["zentrale_session"]
    client.cookies.clear()
    client.cookies.set("zentrale_session", session[:-1] + ("x" if session[-1] != "x" else "y"))
    response = await client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not-authenticated"


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, "qa")
    session = client.cookies["zentrale_session"]
    assert (
        await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    ).status_code == 204
    client.cookies.clear()
    client.cookies.set("zentrale_session", session)
    response = await client.get("/api/me")
    assert response.status_code == 401


async def test_sessions_expire(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await sign_in(client, "qa")
    clock.advance(12 * 3600 + 1)
    assert (await client.get("/api/me")).status_code == 401


async def test_token_lifecycle_create_use_revoke(client: httpx.AsyncClient, world: World) -> None:
    created = await client.post(
        "/api/me/tokens", json={"name": "script", "days": 1}, headers=world.auth("qa")
    )
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/me", headers=bearer)).json()["username"] == "qa"
    listed = (await client.get("/api/me/tokens", headers=bearer)).json()
    assert {t["name"] for t in listed} == {"tests", "script"}
    assert all(t["token"] is None for t in listed)
    assert (await client.delete(f"/api/me/tokens/{token_id}", headers=bearer)).status_code == 204
    assert (await client.get("/api/me", headers=bearer)).status_code == 401


async def test_tokens_expire(client: httpx.AsyncClient, world: World, clock: FakeClock) -> None:
    clock.advance(31 * 86400)
    assert (await client.get("/api/me", headers=world.auth("qa"))).status_code == 401


async def test_a_token_of_another_user_cannot_be_revoked(
    client: httpx.AsyncClient, world: World
) -> None:
    mine = (await client.get("/api/me/tokens", headers=world.auth("qa"))).json()[0]["id"]
    response = await client.delete(f"/api/me/tokens/{mine}", headers=world.auth("super"))
    assert response.status_code == 404
    assert (await client.get("/api/me", headers=world.auth("qa"))).status_code == 200


async def test_disabled_users_lose_tokens_and_sessions(
    client: httpx.AsyncClient, world: World, deps: object
) -> None:
    from zentrale.core.users import UserStore

    await sign_in(client, "qa")
    await UserStore(deps.db).set_disabled("qa")  # type: ignore[attr-defined]
    assert (await client.get("/api/me")).status_code == 401
    assert (await client.get("/api/me", headers=world.auth("qa"))).status_code == 401
    response = await client.post("/api/auth/login", json={"username": "qa", "password": PASSWORD})
    assert response.status_code == 401


async def test_a_malformed_authorization_header_is_refused(client: httpx.AsyncClient) -> None:
    for header in ("Basic abc", "Bearer", "Bearer zq_nothing", "zq_x"):
        response = await client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_nul_characters_are_refused_not_a_server_error(client: httpx.AsyncClient) -> None:
    # PostgreSQL cannot store NUL in text; schemathesis once turned this into a 500.
    login = await client.post("/api/auth/login", json={"username": "q\x00a", "password": "x"})
    assert login.status_code == 422
    assert login.json()["error"]["code"] == "invalid-request"
    await sign_in(client, "admin")
    audit = await client.get("/api/audit", params={"action": "login\x00"})
    assert audit.status_code == 422
    far = await client.get("/api/audit", params={"before": 2**40})  # beyond the INTEGER seq
    assert far.status_code == 422
