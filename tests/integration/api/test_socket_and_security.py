"""End to end over a real socket (uvicorn on 127.0.0.1:0), web form CSRF, hostile input in
every parameter, the error shape, and schemathesis against the OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import re
from urllib.parse import quote

import httpx
import pytest

from zentrale.api import create_app
from zentrale.api.deps import Deps
from zentrale.api.server import bind, serving

from .conftest import PASSWORD, World

pytestmark = pytest.mark.asyncio

HOSTILE = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    "%00",
    "<script>x</script>",
    "a" * 300,
    "${jndi:ldap://x}",
    "\\..\\windows",
]


async def test_over_a_socket_sign_in_search_and_seek(deps: Deps, world: World) -> None:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")
    async with serving(create_app(deps), sock), client as http:
        spec = (await http.get("/api/openapi.json")).json()
        assert "/api/recordings/{recording_id}/audio" in spec["paths"]
        items = (await http.get("/api/recordings", headers=world.auth("qa"))).json()["items"]
        rid = items[-1]["id"]
        headers = {"Range": "bytes=1000-1999", **world.auth("qa")}
        ranged = await http.get(f"/api/recordings/{rid}/audio", headers=headers)
        assert ranged.status_code == 206
        assert ranged.content == world.audio["sales1"][1000:2000]
        whole = await http.get(f"/api/recordings/{rid}/audio", headers=world.auth("qa"))
        assert whole.content == world.audio["sales1"]


async def _web_session(client: httpx.AsyncClient, user: str = "qa") -> str:
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    response = await client.post(
        "/login", data={"csrf_token": csrf.group(1), "username": user, "password": PASSWORD}
    )
    assert response.status_code == 303
    page = (await client.get("/")).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return token.group(1)


async def test_web_login_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"username": "qa", "password": PASSWORD})
    assert response.status_code == 403
    assert "zentrale_session" not in response.cookies


async def test_web_forms_without_the_csrf_token_change_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    token = await _web_session(client)
    rid = world.recordings["sales1"]
    refused = await client.post(f"/recordings/{rid}/tag", data={"tag": "evil"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf-failed"
    accepted = await client.post(
        f"/recordings/{rid}/tag", data={"tag": "fine", "csrf_token": token}
    )
    assert accepted.status_code == 303
    tags = (await client.get(f"/api/recordings/{rid}", headers=world.auth("qa"))).json()["tags"]
    assert tags == ["fine"]


async def test_pages_render_in_german_and_english(client: httpx.AsyncClient, world: World) -> None:
    await _web_session(client)
    german = await client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert "Aufzeichnungen" in german.text
    english = await client.get("/?lang=en", headers={"Accept-Language": "de"})
    assert "Recordings" in english.text
    assert "Recordings" in (await client.get("/", headers={"Accept-Language": "de"})).text


async def test_the_qa_service_offers_agents_no_workspace_it_does_not_serve(
    client: httpx.AsyncClient,
) -> None:
    # `zentrale api serve` has no /agent (the daemon serves the workspace): no link to a 404.
    await _web_session(client, "agent")
    page = await client.get("/")
    assert page.status_code == 200
    assert "Recordings" in page.text or "Aufzeichnungen" in page.text
    assert 'href="/agent"' not in page.text
    assert (await client.get("/agent")).status_code == 404


async def test_unauthenticated_pages_redirect_to_the_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_values_in_every_parameter_are_refused_or_harmless(
    client: httpx.AsyncClient, world: World, value: str
) -> None:
    auth = world.auth("admin")
    quoted = quote(value, safe="")
    paths = [
        f"/api/recordings/{quoted}",
        f"/api/recordings/{quoted}/audio",
        f"/api/recordings/{world.recordings['sales1']}/tags/{quoted}",
        f"/api/evaluations/{quoted}/acknowledge",
        f"/static/{quoted}",
        f"/api/me/tokens/{quoted}",
    ]
    for path in paths:
        for method in ("GET", "PUT", "POST", "DELETE"):
            response = await client.request(method, path, headers=auth)
            assert response.status_code in (401, 403, 404, 405, 422), (method, path)
            assert "Traceback" not in response.text
            assert "/work/" not in response.text
    for name in ("department", "agent", "caller", "tag", "cursor", "since", "sort", "min_score"):
        response = await client.get("/api/recordings", params={name: value}, headers=auth)
        assert response.status_code in (200, 422), name
        if response.status_code == 200:
            assert response.json()["items"] == []
    audit = await client.get("/api/audit", params={"action": value, "target": value}, headers=auth)
    assert audit.status_code in (200, 422)


async def test_errors_have_one_shape_and_no_internals(
    client: httpx.AsyncClient, world: World
) -> None:
    for response in (
        await client.get("/api/nothing-here"),
        await client.get("/api/recordings", params={"limit": 0}, headers=world.auth("qa")),
        await client.get("/api/me"),
    ):
        error = response.json()["error"]
        assert set(error) >= {"code", "message"}
        assert re.fullmatch(r"[a-z-]+", error["code"])


async def test_security_headers_are_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def _schemathesis(url: str, token: str) -> list[str]:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    failures: list[str] = []
    calls = 0

    def check(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

    # 10 examples per operation keep CI short; ZENTRALE_SCHEMATHESIS_EXAMPLES=150 digs deeper.
    examples = int(os.environ.get("ZENTRALE_SCHEMATHESIS_EXAMPLES", "10"))
    bounded = settings(
        max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck)
    )
    for result in schema.get_all_operations():
        bounded(given(result.ok().as_strategy())(check))()
    assert calls > 50
    return failures


async def test_schemathesis_finds_no_server_errors(deps: Deps, world: World) -> None:
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(create_app(deps), sock):
        failures = await asyncio.to_thread(_schemathesis, url, world.tokens["admin"])
    assert failures == []
