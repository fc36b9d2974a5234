"""The metrics registry: scrape-time figures from plain state, hooks, and the exact names."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from zentrale.cli.ops import figures, render
from zentrale.ops.metrics import Metrics, Snapshot
from zentrale.ops.process import parse_metrics, sample
from zentrale.recording.jobs import Backlog
from zentrale.recording.models import JobState, Recording
from zentrale.telephony.agents import AgentState, AgentView

# Every series the Grafana dashboard (docker/grafana) queries, as its expressions name them.
DASHBOARD = Path(__file__).parents[3] / "docker" / "grafana" / "zentrale-dashboard.json"
DASHBOARD_NAMES = {
    name
    for panel in json.loads(DASHBOARD.read_text())["panels"]
    for target in panel["targets"]
    for name in re.findall(r"\bzentrale_[a-z_]+", target["expr"])
}


def _agent(name: str, state: AgentState) -> AgentView:
    return AgentView(f"PJSIP/{name}", name, state, idle_since=0.0)


def _snapshot(backlog: Backlog | None = None, **overrides: object) -> Snapshot:
    values: dict[str, object] = {
        "active_calls": lambda: 2,
        "waiting": lambda: {"sales": 3, "support": 0},
        "agents": lambda: [
            _agent("a", AgentState.IDLE),
            _agent("b", AgentState.ON_CALL),
            _agent("c", AgentState.ON_CALL),
            _agent("d", AgentState.WRAP_UP),
        ],
        "ari_connected": lambda: True,
        "ari_reconnects": lambda: 4,
        "queue_depth": lambda: 7,
        "rules_version": lambda: "abc123",
        "reload_errors": lambda: 1,
        "pipeline_failures": lambda: {"upload": 2},
        "storage_errors": lambda: 2,
        "db_errors": lambda: 5,
        "backlog": lambda: backlog,
        "journal_backlog": lambda: 9,
        "storage_backend": "s3",
    }
    values.update(overrides)
    return Snapshot(**values)  # type: ignore[arg-type]


def _scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return parse_metrics(generate_latest(metrics.registry).decode())


def test_every_dashboard_metric_is_exported_under_its_exact_name() -> None:
    metrics = Metrics()
    backlog = Backlog({JobState.PENDING: 3, JobState.RUNNING: 1, JobState.FAILED: 2}, 3, None)
    metrics.watch(_snapshot(backlog))
    metrics.call_ended("inbound", "answered")
    metrics.observe_lag(0.003)
    names = {name for name, _labels in _scrape(metrics)}
    assert len(DASHBOARD_NAMES) >= 16
    assert names >= DASHBOARD_NAMES, DASHBOARD_NAMES - names


def test_state_is_read_at_scrape_time() -> None:
    metrics = Metrics()
    backlog = Backlog({JobState.PENDING: 3, JobState.RUNNING: 1, JobState.FAILED: 2}, 3, None)
    metrics.watch(_snapshot(backlog))
    metrics.errors.db += 1  # a readiness probe's failure counts too
    samples = _scrape(metrics)
    assert sample(samples, "zentrale_active_calls") == 2
    assert sample(samples, "zentrale_waiting_callers", department="sales") == 3
    assert sample(samples, "zentrale_agents", state="available") == 1
    assert sample(samples, "zentrale_agents", state="on_call") == 2
    assert sample(samples, "zentrale_agents", state="wrap_up") == 1
    assert sample(samples, "zentrale_agents", state="offline") == 0
    assert sample(samples, "zentrale_ari_connected") == 1
    assert sample(samples, "zentrale_ari_reconnects_total") == 4
    assert sample(samples, "zentrale_handler_queue_depth") == 7
    assert sample(samples, "zentrale_pipeline_backlog") == 4  # pending + running
    assert sample(samples, "zentrale_pipeline_parked") == 2
    assert sample(samples, "zentrale_pipeline_failures_total", step="upload") == 2
    assert sample(samples, "zentrale_storage_errors_total", backend="s3") == 2
    assert sample(samples, "zentrale_routing_reload_errors_total") == 1
    assert sample(samples, "zentrale_routing_rules_info", version="abc123") == 1
    assert sample(samples, "zentrale_db_errors_total") == 6
    assert sample(samples, "zentrale_journal_backlog") == 9


def test_no_backlog_figures_before_the_first_count() -> None:
    metrics = Metrics()
    metrics.watch(_snapshot(None))
    names = {name for name, _labels in _scrape(metrics)}
    assert "zentrale_pipeline_backlog" not in names  # absent, not a misleading 0


def test_hooks_count_calls_lag_and_pipeline_latency() -> None:
    metrics = Metrics()
    metrics.call_ended("inbound", "answered")
    metrics.call_ended("inbound", "answered")
    metrics.call_ended("outbound", "busy")
    metrics.observe_lag(0.002)
    metrics.observe_lag(0.4)
    now = dt.datetime(2026, 11, 29, 12, 0, 30, tzinfo=dt.UTC)
    naive = Recording(created_at=dt.datetime(2026, 11, 29, 12, 0, 0))  # SQLite: naive UTC
    metrics.recording_stored(naive, now)
    samples = _scrape(metrics)
    assert sample(samples, "zentrale_calls_total", direction="inbound", outcome="answered") == 2
    assert sample(samples, "zentrale_calls_total", direction="outbound", outcome="busy") == 1
    assert sample(samples, "zentrale_ari_event_lag_seconds_count") == 2
    assert sample(samples, "zentrale_ari_event_lag_seconds_bucket", le="0.0025") == 1
    assert metrics.largest_lag == 0.4
    assert sample(samples, "zentrale_pipeline_latency_seconds_sum") == 30.0
    assert sample(samples, "zentrale_pipeline_latency_seconds_bucket", le="20.0") == 0
    assert sample(samples, "zentrale_pipeline_latency_seconds_bucket", le="30.0") == 1


def test_each_daemon_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.call_ended("inbound", "answered")
    assert (
        sample(_scrape(second), "zentrale_calls_total", direction="inbound", outcome="answered")
        == 0
    )


def test_ari_rest_transport_and_call_traffic_reach_metrics_and_status() -> None:
    metrics = Metrics()
    metrics.watch(
        _snapshot(None, ari_rest_transport=lambda: "websocket", ari_traffic=lambda: (4, 22, 60))
    )
    samples = _scrape(metrics)
    assert sample(samples, "zentrale_ari_rest_transport_info", transport="websocket") == 1
    assert sample(samples, "zentrale_ari_calls_counted_total") == 4
    assert sample(samples, "zentrale_ari_call_requests_total") == 22
    assert sample(samples, "zentrale_ari_call_events_total") == 60
    report = {"node": "n1", "url": "u", "reachable": True, "ready": True, "last_errors": []}
    report.update(figures(samples))
    assert report["ari_transport"] == "websocket"
    assert "ARI reconnects 4 · REST over websocket" in render(report)
