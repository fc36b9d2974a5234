"""`/healthz`, `/readyz` and `/metrics` on the daemon's HTTP server.

`/healthz` and `/readyz` are unauthenticated (load balancers, systemd, Kubernetes probes) and
reveal only check names and exception types. `/metrics` needs `Authorization: Bearer <token>`
(`ops.metrics_token`, else the token kept in `state_dir/secrets/metrics-token`): the figures
name departments and the rules version, which are not for the open network.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from zentrale.ops.metrics import Metrics
from zentrale.ops.readiness import Readiness


def ops_router(node: str, readiness: Readiness, metrics: Metrics, token: SecretStr) -> APIRouter:
    """Return the router serving the health, readiness and metrics endpoints."""
    router = APIRouter()

    @router.get("/healthz", name="ops.healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # Answering at all proves the event loop runs.
        return {"status": "alive"}

    @router.get("/readyz", name="ops.readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await readiness.checks()
        ready = all(check.ok for check in checks)
        body = {"ready": ready, "node": node, "checks": [check.as_json() for check in checks]}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", name="ops.metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if not _bearer_ok(request, token):
            return JSONResponse(
                {"error": "unauthorized", "detail": "send Authorization: Bearer <metrics token>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _bearer_ok(request: Request, token: SecretStr) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), expected)
