"""Prometheus metrics of one daemon: event-driven counters and histograms, and a scrape-time view.

Counters and histograms that must see every event (calls ended, event lag, pipeline latency)
are ordinary `prometheus_client` metrics fed by hooks. Everything that is already state in the
daemon (active calls, queues, agents, ARI connection, pipeline counters) is read when Prometheus
scrapes, by one collector, so nothing is counted twice. The only figures that need the database
(pipeline backlog and parked jobs) come from `BacklogCache`, refreshed every few seconds, never
per scrape. Every daemon has its own registry (several run in one test process).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zentrale.base.clock import utcnow
from zentrale.base.outage import Outage
from zentrale.recording.jobs import Backlog, JobQueue
from zentrale.recording.models import JobState, Recording
from zentrale.telephony.agents import AgentState, AgentView

log = structlog.get_logger(__name__)

AGENT_STATES = {
    AgentState.IDLE: "available",
    AgentState.RINGING: "ringing",
    AgentState.ON_CALL: "on_call",
    AgentState.WRAP_UP: "wrap_up",
    AgentState.PAUSED: "paused",
    AgentState.OFFLINE: "offline",
    AgentState.BUSY: "busy",
}
"""Agent states as the `zentrale_agents{state}` label spells them."""

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass
class Snapshot:
    """What the scrape-time collector reads, each a cheap in-memory callable."""

    active_calls: Callable[[], int]
    waiting: Callable[[], dict[str, int]]
    agents: Callable[[], list[AgentView]]
    ari_connected: Callable[[], bool]
    ari_reconnects: Callable[[], int]
    queue_depth: Callable[[], int]
    rules_version: Callable[[], str | None]
    reload_errors: Callable[[], int]
    pipeline_failures: Callable[[], dict[str, int]]
    storage_errors: Callable[[], int]
    db_errors: Callable[[], int]
    backlog: Callable[[], Backlog | None]
    journal_backlog: Callable[[], int]
    storage_backend: str = "local"
    ari_rest_transport: Callable[[], str] = lambda: "http"
    """Where ARI REST requests go now: `websocket` or `http`."""
    ari_traffic: Callable[[], tuple[int, int, int]] = lambda: (0, 0, 0)
    """Ended calls counted, their ARI requests and their channel's ARI events."""


class Metrics:
    """The daemon's metric registry; hooks feed it, `Snapshot` is read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU, fds
        self.calls = Counter(
            "zentrale_calls",
            "Calls ended, by direction and outcome",
            ["direction", "outcome"],
            registry=self.registry,
        )
        self.event_lag = Histogram(
            "zentrale_ari_event_lag_seconds",
            "ARI event received to its handler starting",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.pipeline_latency = Histogram(
            "zentrale_pipeline_latency_seconds",
            "Recording finished (hangup) to stored",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = OwnErrors()
        self.largest_lag = 0.0

    def watch(self, snapshot: Snapshot) -> None:
        """Read SNAPSHOT at every scrape."""
        self.registry.register(_StateCollector(snapshot, self.errors, lambda: self.largest_lag))

    def call_ended(self, direction: str, outcome: str) -> None:
        """Count one ended call."""
        self.calls.labels(direction=direction, outcome=outcome).inc()

    def observe_lag(self, seconds: float) -> None:
        """Record one event's handler lag."""
        self.event_lag.observe(seconds)
        self.largest_lag = max(self.largest_lag, seconds)

    def recording_stored(self, recording: Recording, now: dt.datetime | None = None) -> None:
        """Record how long RECORDING took from being finished to being stored."""
        created = recording.created_at
        if created.tzinfo is None:  # SQLite hands back naive UTC
            created = created.replace(tzinfo=dt.UTC)
        seconds = ((now or utcnow()) - created).total_seconds()
        self.pipeline_latency.observe(max(0.0, seconds))


@dataclass
class OwnErrors:
    """Errors the ops layer itself met (readiness probes, backlog refreshes)."""

    db: int = 0
    storage: int = 0
    last: dict[str, str] = field(default_factory=dict)
    """The latest error per area (database, storage, ari, routing, pipeline), for status."""


class _StateCollector(Collector):
    def __init__(
        self, snapshot: Snapshot, errors: OwnErrors, largest_lag: Callable[[], float]
    ) -> None:
        self.s = snapshot
        self.errors = errors
        self.largest_lag = largest_lag

    def collect(self) -> Iterator[Metric]:
        s = self.s
        yield _gauge("zentrale_active_calls", "Calls in progress on this node", s.active_calls())
        yield _labelled(
            "zentrale_waiting_callers",
            "Callers waiting in a department's queue on this node",
            "department",
            s.waiting(),
        )
        yield _labelled("zentrale_agents", "Agents by state on this node", "state", _agents(s))
        yield _gauge(
            "zentrale_ari_connected", "1 while the ARI event socket is open", int(s.ari_connected())
        )
        yield _counter("zentrale_ari_reconnects", "ARI reconnects since start", s.ari_reconnects())
        yield from _ari_rest(s)
        yield _gauge(
            "zentrale_ari_event_lag_max_seconds",
            "Largest ARI event lag since start",
            self.largest_lag(),
        )
        yield _gauge(
            "zentrale_handler_queue_depth", "ARI events queued or being handled", s.queue_depth()
        )
        yield _gauge(
            "zentrale_journal_backlog",
            "Call-record writes waiting for the database",
            s.journal_backlog(),
        )
        yield from self._pipeline()
        yield _counter(
            "zentrale_storage_errors",
            "Storage failures (pipeline steps, readiness probes)",
            s.storage_errors() + self.errors.storage,
            {"backend": s.storage_backend},
        )
        yield _counter(
            "zentrale_routing_reload_errors", "Routing files refused on reload", s.reload_errors()
        )
        info = GaugeMetricFamily(
            "zentrale_routing_rules_info", "Live routing rules version", labels=["version"]
        )
        info.add_metric([s.rules_version() or "none"], 1)
        yield info
        yield _counter(
            "zentrale_db_errors",
            "Database operations that failed (and were retried)",
            s.db_errors() + self.errors.db,
        )

    def _pipeline(self) -> Iterator[Metric]:
        backlog = self.s.backlog()
        if backlog is not None:
            by_state = backlog.by_state
            pending = by_state.get(JobState.PENDING, 0) + by_state.get(JobState.RUNNING, 0)
            yield _gauge(
                "zentrale_pipeline_backlog",
                "Recording jobs pending or running (all nodes)",
                pending,
            )
            yield _gauge(
                "zentrale_pipeline_parked",
                "Recording jobs parked after too many failures (all nodes)",
                backlog.parked,
            )
        failures = CounterMetricFamily(
            "zentrale_pipeline_failures",
            "Failed pipeline step attempts on this node",
            labels=["step"],
        )
        for step, count in sorted(self.s.pipeline_failures().items()):
            failures.add_metric([step], count)
        yield failures


def _ari_rest(s: Snapshot) -> Iterator[Metric]:
    transport = GaugeMetricFamily(
        "zentrale_ari_rest_transport_info",
        "Where ARI REST requests go: websocket or http",
        labels=["transport"],
    )
    transport.add_metric([s.ari_rest_transport()], 1)
    yield transport
    calls, requests, events = s.ari_traffic()
    yield _counter("zentrale_ari_calls_counted", "Calls whose ARI traffic was counted", calls)
    yield _counter("zentrale_ari_call_requests", "ARI REST requests sent by call flows", requests)
    yield _counter("zentrale_ari_call_events", "ARI events of call flows' channels", events)


def _agents(snapshot: Snapshot) -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES.values(), 0)
    for view in snapshot.agents():
        counts[AGENT_STATES[view.state]] += 1
    return counts


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(
    name: str, doc: str, value: float, labels: dict[str, str] | None = None
) -> CounterMetricFamily:
    if not labels:
        return CounterMetricFamily(name, doc, value=value)
    family = CounterMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def _labelled(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class BacklogCache:
    """The pipeline backlog, counted in the database every `interval` seconds (not per scrape)."""

    def __init__(self, queue: JobQueue, interval: float, errors: OwnErrors) -> None:
        self.queue = queue
        self.interval = interval
        self.errors = errors
        self.latest: Backlog | None = None
        self._outage = Outage("metrics.backlog", log)

    async def refresh(self) -> Backlog | None:
        """Count now; keep the last figures when the database fails."""
        try:
            self.latest = await self.queue.backlog()
            self._outage.ok()
        except Exception as exc:  # the database blipped: readiness says so, figures stay
            self.errors.db += 1
            self.errors.last["database"] = f"backlog: {type(exc).__name__}"
            self._outage.failed(exc)
        return self.latest

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh until STOP is set."""
        while not stop.is_set():
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
