"""A `zentrale run` (or `zentrale api serve`) child process: its settings, start-up, HTTP
probes, metrics and memory.

Tests and `bench/soak.py` run the real daemon as a separate process (signals, exit codes and
memory are those of the real thing). `DaemonProcess` writes a settings file (JSON, which YAML
reads), starts the process with its log in a file, waits for `service.ready`, and then talks to
it over its own HTTP server (`/readyz`, `/metrics` with the kept bearer token).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from zentrale.telephony.ari.config import AriCredentials

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class DaemonSpec:
    """What one daemon process runs with (the rest of the settings are defaults)."""

    home: Path
    ari: AriCredentials
    rules: str
    node: str = "node1"
    database_url: str | None = None
    storage: dict[str, Any] | None = None
    peers: dict[str, AriCredentials] = field(default_factory=dict)
    recording_format: str = "wav"
    drain_seconds: float = 30.0
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Further settings per section, merged into the written ones."""
    session_secret: str | None = None
    """`api.session_secret` (nodes of one cluster share it; None: the daemon makes its own)."""
    replica: bool = False
    """Run `zentrale api serve` (an API replica, no telephony) instead of `zentrale run`."""

    def settings(self) -> dict[str, Any]:
        """Return the settings file's content."""
        home = self.home
        (home / "ari-password").write_text(self.ari.password.get_secret_value())
        (home / "routing.yaml").write_text(self.rules)
        written: dict[str, Any] = {
            "state_dir": str(home),
            "node": self.node,
            "ari": _ari(self.ari, home / "ari-password"),
            "routing": {"file": str(home / "routing.yaml"), "history_dir": str(home / "history")},
            "database": {"url": self.database_url or f"sqlite+aiosqlite:///{home}/z.db"},
            "http": {"port": 0},
            "prompts": {"dir": str(home / "prompts")},
            "recording": {"temp_dir": str(home / "tmp"), "format": self.recording_format},
            "storage": self.storage or {"path": str(home / "recordings")},
            "keys": {
                "recipients": [{"provider": "local", "keyring_file": str(home / "keyring.json")}]
            },
            "ops": {"peers": {node: self._peer(node, creds) for node, creds in self.peers.items()}},
        }
        if self.session_secret is not None:
            written["api"] = {"session_secret": self.session_secret}
        for section, values in self.sections.items():
            written[section] = {**written.get(section, {}), **values}
        return written

    def _peer(self, node: str, creds: AriCredentials) -> dict[str, str]:
        path = self.home / f"peer-{node}-password"
        path.write_text(creds.password.get_secret_value())
        return _ari(creds, path)


def _ari(creds: AriCredentials, password_file: Path) -> dict[str, str]:
    return {
        "url": creds.base_url,
        "username": creds.username,
        "password_file": str(password_file),
        "app": creds.app,
    }


class DaemonProcess:
    """One running `zentrale run` process."""

    def __init__(self, spec: DaemonSpec) -> None:
        self.spec = spec
        self.config = spec.home / "zentrale.yaml"
        self.log = spec.home / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self._out: IO[bytes] | None = None

    def start(self) -> None:
        """Write the settings and start the process (returns at once; see `wait_ready`)."""
        self.spec.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps(self.spec.settings(), indent=1))
        zentrale = Path(sys.executable).parent / "zentrale"
        argv = [
            str(zentrale),
            "--config",
            str(self.config),
            "--log-format",
            "json",
        ]
        if self.spec.replica:
            argv += ["api", "serve"]
        else:
            argv += ["run", "--drain-seconds", f"{self.spec.drain_seconds:g}"]
        self._out = self.log.open("ab")
        self.process = subprocess.Popen(
            argv, stdout=self._out, stderr=self._out, env={**os.environ, "ZENTRALE_CONFIG": ""}
        )

    def text(self) -> str:
        """Return the process's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """Return the JSON log lines whose event is NAME."""
        found = []
        for line in self.text().splitlines():
            if f'"{name}"' in line:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == name:
                    found.append(entry)
        return found

    def wait_ready(self, timeout: float = 90.0) -> str:
        """Wait for `service.ready` (a replica: `api.serving`); return the process's HTTP URL
        (raise with the log if not)."""
        event, key = ("api.serving", "url") if self.spec.replica else ("service.ready", "http")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.events(event)
            if ready:
                self.url = str(ready[-1][key])
                return self.url
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"zentrale run did not become ready:\n{self.text()[-4000:]}")

    @property
    def token(self) -> str:
        """Return the bearer token of /metrics (kept in the state directory)."""
        return (self.spec.home / "secrets" / "metrics-token").read_text().strip()

    def get(self, path: str, timeout: float = 10.0, **headers: str) -> httpx.Response:
        """GET PATH from the daemon's HTTP server."""
        if self.url is None:
            raise RuntimeError("the daemon is not ready yet")
        return httpx.get(self.url + path, headers=headers, timeout=timeout)

    def metrics(self) -> Samples:
        """Scrape /metrics: {(sample name, sorted labels): value}."""
        reply = self.get("/metrics", authorization=f"Bearer {self.token}")
        reply.raise_for_status()
        return parse_metrics(reply.text)

    def rss_kib(self) -> int:
        """Return the process's resident memory in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    @property
    def pid(self) -> int:
        """Return the process id."""
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.pid

    def signal(self, signum: signal.Signals) -> None:
        """Send SIGNUM to the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the process to end; return its exit code."""
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.wait(timeout)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not end in time. Return the exit code."""
        if self.process is None:
            return None
        code: int | None = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._out is not None:
            self._out.close()
            self._out = None
        return code


def parse_metrics(text: str) -> Samples:
    """Parse Prometheus text format into {(sample name, sorted labels): value}."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def sample(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Return the sum of NAME's samples whose labels include LABELS."""
    wanted = set(labels.items())
    return sum(value for (n, found), value in samples.items() if n == name and wanted <= set(found))
