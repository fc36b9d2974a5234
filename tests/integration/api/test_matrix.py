"""The role matrix, endpoint by endpoint, generated from the app's route list.

A new route without a MATRIX entry fails `test_every_route_has_a_matrix_entry`; every route
is then called by every role (with a token, with its department's recording) and must be
refused exactly when the matrix says so, and refused without credentials unless public.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from zentrale.api import (
    create_app,
    routes_agent,
    routes_agent_recording,
    routes_calls,
    routes_knowledge,
    routes_supervise,
    routes_transfer,
    routes_wallboard,
    routes_wrapup,
)
from zentrale.api import routes_surveys as campaign_routes
from zentrale.api.deps import Deps
from zentrale.api.matrix import MATRIX, PUBLIC_ROUTES
from zentrale.core.models import Role

from .conftest import World

ROLE_USERS = {Role.ADMIN: "admin", Role.SUPERVISOR: "super", Role.QA: "qa", Role.AGENT: "agent"}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Return every APIRoute, looking inside included routers (FastAPI keeps them nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def _routes(deps: Deps) -> list[tuple[str, str, str]]:
    found = []
    for route in api_routes(create_app(deps).routes):
        for method in sorted(route.methods - {"HEAD"}):
            found.append((route.name, method, route.path))
    assert len(found) > 25
    return found


def test_every_route_has_a_matrix_entry(deps: Deps) -> None:
    # The live-call routes exist only inside the daemon (tests/integration/flows/test_call_api.py
    # calls them on a real Asterisk); their names still need matrix entries.
    daemon_only = {route.name for route in api_routes(routes_calls.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_wallboard.router.routes)}
    daemon_only |= {route.name for route in api_routes(campaign_routes.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_agent.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_knowledge.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_wrapup.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_supervise.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_transfer.router.routes)}
    daemon_only |= {route.name for route in api_routes(routes_agent_recording.router.routes)}
    names = {name for name, _method, _path in _routes(deps)} | daemon_only
    missing = names - set(MATRIX) - PUBLIC_ROUTES
    assert missing == set(), f"routes without a matrix entry: {sorted(missing)}"
    assert set(MATRIX) - names == set(), "matrix entries without a route"


async def _evaluation_id(client: httpx.AsyncClient, world: World) -> str:
    answers = {
        "greeting": True,
        "consent": True,
        "needs": 3,
        "price_clear": True,
        "no_pressure": True,
        "summary": 4,
    }
    url = f"/api/recordings/{world.recordings['sales1']}/evaluations"
    response = await client.post(url, json={"answers": answers}, headers=world.auth("qa"))
    return str(response.json()["id"])


def _fill(path: str, world: World, evaluation: str) -> str:
    values = {
        "recording_id": world.recordings["sales1"],
        "evaluation_id": evaluation,
        "token_id": "00000000-0000-0000-0000-000000000000",
        "tag": "matrix",
        "name": "app.js",
        "customer_id": "00000000-0000-0000-0000-000000000000",
        "call_id": "sales1",
    }
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)], path)


def _body(name: str) -> dict[str, object] | None:
    return {
        "me.token_create": {"name": "m"},
        "comments.create": {"offset_s": 1.0, "text": "hello"},
        "evaluations.create": {"answers": {}},
        "auth.login": {"username": "x", "password": "y"},
        "me.totp_confirm": {"code": "123456"},
    }.get(name)


@pytest.mark.asyncio
async def test_each_route_obeys_the_matrix_for_each_role(
    client: httpx.AsyncClient, world: World, deps: Deps
) -> None:
    evaluation = await _evaluation_id(client, world)
    checked = 0
    for name, method, path in _routes(deps):
        if name in PUBLIC_ROUTES or name in {"auth.logout", "web.logout"}:
            continue
        url = _fill(path, world, evaluation)
        params = {"reason": "matrix test"} if name == "recordings.download" else None
        anonymous = await client.request(method, url, json=_body(name), params=params)
        assert anonymous.status_code in (401, 303), (name, anonymous.status_code)
        for role, user in ROLE_USERS.items():
            response = await client.request(
                method, url, json=_body(name), params=params, headers=world.auth(user)
            )
            forbidden = response.status_code == 403
            assert forbidden == (role not in MATRIX[name]), (name, role, response.status_code)
            assert response.status_code < 500, (name, role, response.text)
            checked += 1
    assert checked >= 4 * 20


@pytest.mark.parametrize(
    "path",
    [
        "/api/recordings/{}",
        "/api/recordings/{}/audio",
        "/api/recordings/{}/waveform",
        "/api/recordings/{}/evaluations",
        "/api/recordings/{}/comments",
        "/api/recordings/{}/scorecard",
        "/recordings/{}",
    ],
)
@pytest.mark.asyncio
async def test_another_departments_recording_looks_like_no_recording(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    url = path.format(world.recordings["support1"])
    for user in ("qa", "super", "agent"):
        response = await client.get(url, headers=world.auth(user))
        # 403 where the role may not use the route at all (an agent and the scorecard).
        assert response.status_code in (403, 404), (user, url)
        if response.status_code == 404:
            assert response.json()["error"]["code"] == "recording-not-found"
    assert (await client.get(url, headers=world.auth("qa_support"))).status_code == 200


@pytest.mark.asyncio
async def test_changes_to_another_departments_recording_are_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    rid = world.recordings["support1"]
    auth = world.auth("qa")
    assert (await client.put(f"/api/recordings/{rid}/tags/x", headers=auth)).status_code == 404
    comment = {"offset_s": 1, "text": "sneaky"}
    url = f"/api/recordings/{rid}/comments"
    assert (await client.post(url, json=comment, headers=auth)).status_code == 404


@pytest.mark.asyncio
async def test_an_agent_sees_only_their_own_calls_even_in_their_department(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"/api/recordings/{world.recordings['sales2']}", headers=world.auth("agent")
    )
    assert response.status_code == 404
