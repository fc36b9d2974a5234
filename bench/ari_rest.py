"""Benchmark: ARI REST over the event WebSocket against REST over HTTP, side by side, one run.

Against a fresh sandbox Asterisk 22, the same client (`AriClient`) does the same work with
`rest_transport: websocket` and with `http`, rounds alternating (the machine is shared, so
loads drift): create a bridge with our own id, read it, destroy it (three requests, what a
call does to its resources). Sequentially (one request at a time: latency) and with
CONCURRENCY workers (throughput). Figures per transport: requests/s, p50/p99 latency, errors.
Ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field

from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.telephony.ari import AriClient, AriCredentials, AriError, AriOptions
from zentrale.telephony.ari.config import RestTransport

ROUNDS = 3
SEQUENTIAL = 200
"""Bridge cycles (three requests each) one after another per round."""
CONCURRENCY = 16
PER_WORKER = 25
TRANSPORTS: tuple[RestTransport, ...] = ("websocket", "http")


@dataclass
class Sample:
    """Latencies (seconds) and errors of one workload, and its wall time."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def rate(self) -> float:
        """Requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """The q-th percentile latency in ms."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000


async def timed(sample: Sample, request: object) -> None:
    """Await one request, recording its latency or its error."""
    assert asyncio.iscoroutine(request)
    start = time.perf_counter()
    try:
        await request
    except AriError:
        sample.errors += 1
        return
    sample.latencies.append(time.perf_counter() - start)


async def bridge_cycles(ari: AriClient, sample: Sample, count: int) -> None:
    """Create, read and destroy COUNT bridges one after another."""
    for _ in range(count):
        bridge_id = f"bench-{uuid.uuid4().hex[:12]}"
        await timed(sample, ari.bridges.create(bridge_id))
        await timed(sample, ari.rest.request("GET", f"bridges/{bridge_id}"))
        await timed(sample, ari.bridges.destroy(bridge_id))


async def one_round(creds: AriCredentials, transport: RestTransport) -> tuple[Sample, Sample]:
    """The sequential and the concurrent workload over TRANSPORT."""
    options = AriOptions(rest_transport=transport, max_connections=CONCURRENCY + 4)
    async with AriClient(creds, options) as ari:
        await ari.wait_resynced(30)
        assert ari.rest_transport == transport, ari.rest_transport
        await bridge_cycles(ari, Sample(), 10)  # warm up: pooled connections, caches
        sequential, concurrent = Sample(), Sample()
        start = time.perf_counter()
        await bridge_cycles(ari, sequential, SEQUENTIAL)
        sequential.seconds = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(
            *(bridge_cycles(ari, concurrent, PER_WORKER) for _ in range(CONCURRENCY))
        )
        concurrent.seconds = time.perf_counter() - start
    return sequential, concurrent


def merged(samples: list[Sample]) -> Sample:
    """One sample of several rounds."""
    out = Sample()
    for sample in samples:
        out.latencies += sample.latencies
        out.errors += sample.errors
        out.seconds += sample.seconds
    return out


def figures(rounds: list[tuple[Sample, Sample]]) -> dict[str, float]:
    """Requests/s (median of the rounds) and latency percentiles (all rounds) per workload."""
    out: dict[str, float] = {}
    for index, name in enumerate(("sequential", "concurrent")):
        samples = [pair[index] for pair in rounds]
        whole = merged(samples)
        out[f"{name}_requests_per_s"] = round(statistics.median(s.rate() for s in samples))
        out[f"{name}_p50_ms"] = round(whole.pct(50), 3)
        out[f"{name}_p99_ms"] = round(whole.pct(99), 3)
        out[f"{name}_errors"] = whole.errors
    return out


async def bench(creds: AriCredentials) -> dict[str, dict[str, float]]:
    """Alternate the transports ROUNDS times; figures per transport."""
    rounds: dict[str, list[tuple[Sample, Sample]]] = {t: [] for t in TRANSPORTS}
    for number in range(ROUNDS):
        for transport in TRANSPORTS if number % 2 == 0 else TRANSPORTS[::-1]:
            rounds[transport].append(await one_round(creds, transport))
    return {transport: figures(pairs) for transport, pairs in rounds.items()}


def main() -> None:
    """Run on a fresh sandbox instance; print a table and the JSON line."""
    asterisk = SandboxInstance(ensure_root(), name="bench-ari-rest", app="zentrale-bench-rest")
    asterisk.start()
    try:
        result = asyncio.run(bench(asterisk.ari))
    finally:
        asterisk.stop()
    ws, http = result["websocket"], result["http"]
    print(f"{'':32}{'websocket':>12}{'http':>12}")
    for key in ws:
        print(f"{key:32}{ws[key]:>12}{http[key]:>12}")
    line = {
        "bench": "ari_rest",
        "figures": {f"websocket_{k}": v for k, v in ws.items()},
        "baseline": {f"http_{k}": v for k, v in http.items()},
        "targets": {
            "websocket sequential_p50_ms <= http": ws["sequential_p50_ms"]
            <= http["sequential_p50_ms"],
            "websocket sequential_requests_per_s >= http": ws["sequential_requests_per_s"]
            >= http["sequential_requests_per_s"],
            "no errors on either transport": ws["sequential_errors"]
            + ws["concurrent_errors"]
            + http["sequential_errors"]
            + http["concurrent_errors"]
            == 0,
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
