"""The `zentrale status` command: one screen on a running daemon and the shared database.

It asks the daemon's own HTTP server (`/readyz`, and `/metrics` with the bearer token kept in
the state directory) and reads the last pipeline errors from the database. The exit code is 0
only when the daemon answers and is ready, so scripts and monitoring can use it as a check.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import click
import httpx
from sqlalchemy import select

from zentrale.cli.context import Command
from zentrale.config.settings import Settings
from zentrale.daemon.ops import metrics_token
from zentrale.db.session import Database
from zentrale.ops.metrics import AGENT_STATES
from zentrale.ops.process import Samples, parse_metrics, sample, total
from zentrale.recording.models import JobState, RecordingJob

NOT_READY, UNREACHABLE = 1, 2


class _Obj(Protocol):
    def settings(self) -> Settings: ...


@click.command(cls=Command)
@click.option("--url", help="The daemon's HTTP address (default: http.public_url or host:port).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.pass_obj
def status(obj: _Obj, url: str | None, as_json: bool) -> None:
    """One screen: connection, rules version, queues, agents, backlog, last errors.

    Exits 0 when the daemon is ready, 1 when it answers but is not ready, 2 when it does
    not answer.
    """
    settings = obj.settings()
    report = gather(settings, url or settings.http.url())
    click.echo(json.dumps(report, indent=2) if as_json else render(report))
    if report["reachable"] is False:
        raise SystemExit(UNREACHABLE)
    if not report["ready"]:
        raise SystemExit(NOT_READY)


def gather(settings: Settings, url: str) -> dict[str, Any]:
    """Collect readiness, figures and last errors into one report."""
    report: dict[str, Any] = {"node": settings.node, "url": url, "reachable": True}
    try:
        ready = httpx.get(f"{url}/readyz", timeout=10)
        token = {"authorization": f"Bearer {metrics_token(settings)}"}
        scraped = httpx.get(f"{url}/metrics", timeout=10, headers=token)
    except httpx.HTTPError as exc:
        report.update(reachable=False, ready=False, error=f"{type(exc).__name__}: {exc}")
    else:
        body = ready.json()
        report.update(ready=bool(body.get("ready")), checks=body.get("checks", []))
        if scraped.status_code == 200:
            report.update(figures(parse_metrics(scraped.text)))
        else:
            report["metrics_error"] = f"/metrics answered HTTP {scraped.status_code}"
    report["last_errors"] = asyncio.run(last_errors(settings))
    return report


def figures(samples: Samples) -> dict[str, Any]:
    """Pick the figures `status` shows out of a /metrics scrape."""
    rules = [dict(labels) for (name, labels) in samples if name == "zentrale_routing_rules_info"]
    outcomes: dict[str, int] = {}
    for (name, labels), value in samples.items():
        if name == "zentrale_calls_total":
            outcome = dict(labels)["outcome"]
            outcomes[outcome] = outcomes.get(outcome, 0) + int(value)
    return {
        "rules_version": rules[0]["version"] if rules else None,
        "ari_reconnects": int(sample(samples, "zentrale_ari_reconnects_total")),
        "ari_transport": _label(samples, "zentrale_ari_rest_transport_info", "transport"),
        "active_calls": int(sample(samples, "zentrale_active_calls")),
        "calls_ended": outcomes,
        "waiting": _by_label(samples, "zentrale_waiting_callers", "department"),
        "agents": {
            state: int(sample(samples, "zentrale_agents", state=state))
            for state in AGENT_STATES.values()
        },
        "pipeline_backlog": int(sample(samples, "zentrale_pipeline_backlog")),
        "pipeline_parked": int(sample(samples, "zentrale_pipeline_parked")),
        "pipeline_failures": int(total(samples, "zentrale_pipeline_failures_total")),
        "storage_errors": int(total(samples, "zentrale_storage_errors_total")),
        "db_errors": int(sample(samples, "zentrale_db_errors_total")),
    }


def _label(samples: Samples, metric: str, label: str) -> str | None:
    found = [dict(labels)[label] for (name, labels), value in samples.items() if name == metric]
    return found[0] if found else None


def _by_label(samples: Samples, metric: str, label: str) -> dict[str, int]:
    return {
        dict(labels)[label]: int(value)
        for (name, labels), value in sorted(samples.items())
        if name == metric
    }


async def last_errors(settings: Settings, limit: int = 5) -> list[dict[str, Any]] | str:
    """Return the latest recording-job errors (retrying or parked), newest first."""
    query = (
        select(RecordingJob)
        .where(
            RecordingJob.last_error.is_not(None),
            RecordingJob.state.in_([JobState.PENDING, JobState.RUNNING, JobState.FAILED]),
        )
        .order_by(RecordingJob.updated_at.desc())
        .limit(limit)
    )
    try:
        async with (
            Database.open(settings.database.url.get_secret_value()) as db,
            db.read() as session,
        ):
            jobs = list(await session.scalars(query))
    except Exception as exc:  # the database itself is the problem: say so on the screen
        return f"database unreachable: {type(exc).__name__}"
    return [
        {
            "job": job.id,
            "recording": job.recording_id,
            "step": job.step,
            "state": job.state.value,
            "attempts": job.attempts,
            "at": job.updated_at.isoformat(),
            "error": job.last_error,
        }
        for job in jobs
    ]


def render(report: dict[str, Any]) -> str:
    """Render the report as one screen of text."""
    head = "READY" if report["ready"] else "NOT READY"
    lines = [f"zentrale {report['node']} at {report['url']}: {head}"]
    if not report["reachable"]:
        lines.append(f"  daemon not answering ({report['error']})")
    for check in report.get("checks", []):
        mark = "ok  " if check["ok"] else "FAIL"
        lines.append(f"  {check['name']:<10} {mark} {check['detail']}")
    if "active_calls" in report:
        lines += _figures(report)
    elif "metrics_error" in report:
        lines.append(f"  metrics: {report['metrics_error']}")
    lines.append("last errors:")
    errors = report["last_errors"]
    if isinstance(errors, str):
        lines.append(f"  {errors}")
    for error in errors if isinstance(errors, list) else []:
        where = f"{error['state']} ({error['step']}, attempt {error['attempts']})"
        lines.append(f"  {error['at'][:19]} job {error['job'][:8]} {where}: {error['error']}")
    if errors == []:
        lines.append("  none")
    return "\n".join(lines)


def _figures(report: dict[str, Any]) -> list[str]:
    ended = ", ".join(f"{k} {v}" for k, v in sorted(report["calls_ended"].items())) or "none"
    waiting = " · ".join(f"{k} {v}" for k, v in report["waiting"].items()) or "no departments"
    agents = " · ".join(f"{k} {v}" for k, v in report["agents"].items())
    return [
        f"rules      version {report['rules_version']} · ARI reconnects {report['ari_reconnects']}"
        f" · REST over {report.get('ari_transport') or 'unknown'}",
        f"calls      active {report['active_calls']} · ended: {ended}",
        f"waiting    {waiting}",
        f"agents     {agents}",
        f"pipeline   backlog {report['pipeline_backlog']} · parked {report['pipeline_parked']}"
        f" · failed attempts {report['pipeline_failures']}"
        f" · storage errors {report['storage_errors']} · db errors {report['db_errors']}",
    ]
