"""One running sandbox Asterisk: its own config, ports and spool inside the shared root.

Every instance gets a directory `/srv/zentrale/NAME` inside the root with its own etc, run,
spool, log and database directories (through `asterisk -C`), so several instances (a test run
beside a hand-started one, or two nodes of a cluster test) share one cached root without
sharing state. The repository's config files are copied in; what differs per instance (HTTP
port, ARI user and password, app name, the SIP port, the simulated carrier's port and the agent
phones' password) goes into the `*_local.conf` includes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx
import structlog
from pydantic import SecretStr

from zentrale.sandbox.errors import SandboxError
from zentrale.sandbox.root import is_mounted
from zentrale.telephony.ari.config import AriCredentials

log = structlog.get_logger(__name__)

INSTANCES = Path("srv/zentrale")
CONFIG_PACKAGE = "zentrale.sandbox"


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_udp_port() -> int:
    """Return a UDP port on loopback that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


AGENT_PHONES = ("8001", "8002", "8003", "8004")
"""The sandbox's agent phones that register (PJSIP/8001 ...), defined in pjsip.conf."""

WEBRTC_PHONES = ("8101", "8102")
"""The sandbox's browser softphones (WebRTC over the WebSocket transport), in pjsip.conf."""


def config_files() -> dict[str, str]:
    """Return the repository's Asterisk config files, by name."""
    folder = resources.files(CONFIG_PACKAGE).joinpath("asterisk")
    return {item.name: item.read_text() for item in folder.iterdir() if item.name.endswith(".conf")}


@dataclass
class SandboxInstance:
    """A sandbox Asterisk named NAME inside ROOT, serving ARI on 127.0.0.1:http_port."""

    root: Path
    name: str = "default"
    http_port: int = field(default_factory=free_port)
    app: str = "zentrale"
    username: str = "zentrale"
    password: SecretStr = field(default_factory=lambda: SecretStr(secrets.token_urlsafe(18)))
    sip_port: int = field(default_factory=free_udp_port)
    """Asterisk's SIP (UDP) port on 127.0.0.1."""
    carrier_port: int = field(default_factory=free_udp_port)
    """The port the simulated carrier sends from: calls from 127.0.0.1 on it are trunk calls."""
    phone_password: SecretStr = field(default_factory=lambda: SecretStr(secrets.token_urlsafe(12)))
    """The password of every sandbox agent phone (PJSIP/8001 ..., the browsers' PJSIP/8101 ...)."""

    @property
    def inside(self) -> Path:
        """Return the instance directory as Asterisk sees it (inside the root)."""
        return Path("/") / INSTANCES / self.name

    @property
    def home(self) -> Path:
        """Return the instance directory as the host sees it."""
        return self.root / INSTANCES / self.name

    @property
    def recording_dir(self) -> Path:
        """Return the host path where Asterisk writes finished recordings."""
        return self.home / "spool" / "recording"

    @property
    def websocket_url(self) -> str:
        """Return where browser softphones reach SIP over WebSocket (Asterisk's HTTP server)."""
        return f"ws://127.0.0.1:{self.http_port}/ws"

    @property
    def ari(self) -> AriCredentials:
        """Return the ARI credentials of this instance."""
        return AriCredentials(
            base_url=f"http://127.0.0.1:{self.http_port}/ari",
            username=self.username,
            password=self.password,
            app=self.app,
        )

    def start(self, timeout: float = 60.0) -> None:
        """Write a fresh config, start Asterisk and wait until ARI answers."""
        if self.is_running():
            raise SandboxError(f"sandbox {self.name!r} is already running (pid {self.pid()})")
        self._prepare()
        self._mount_proc()
        self._spawn()
        self._wait_ready(timeout)
        log.info("sandbox.started", name=self.name, port=self.http_port)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop Asterisk (gracefully, then by signal) and release the root's /proc."""
        pid = self.pid()
        if pid is not None and _alive(pid):
            # A saturated Asterisk may not answer its CLI in time: the signals below stop it.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._run_cli("core stop now", check=False)
            if not _wait_exit(pid, timeout):
                _kill(pid)
        self._release_proc()
        # Asterisk's recordings are plaintext audio: none may outlive the instance.
        shutil.rmtree(self.recording_dir, ignore_errors=True)
        log.info("sandbox.stopped", name=self.name)

    def remove(self) -> None:
        """Delete the stopped instance's directory (config, logs, spool)."""
        if self.is_running():
            raise SandboxError(f"sandbox {self.name!r} is running: stop it first")
        shutil.rmtree(self.home, ignore_errors=True)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop and start again on the same port with the same credentials."""
        self.stop()
        self.start(timeout)

    def is_running(self) -> bool:
        """Tell whether this instance's Asterisk process is alive."""
        pid = self.pid()
        return pid is not None and _alive(pid)

    def pid(self) -> int | None:
        """Return the pid Asterisk wrote, or None."""
        try:
            return int((self.home / "run" / "asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def cli(self, command: str) -> str:
        """Run an Asterisk CLI command (asterisk -rx) and return its output."""
        return self._run_cli(command, check=True)

    def _run_cli(self, command: str, *, check: bool) -> str:
        argv = [
            "chroot",
            str(self.root),
            "asterisk",
            "-C",
            str(self.inside / "etc/asterisk.conf"),
            "-rx",
            command,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if check and done.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed: {done.stderr.strip()}")
        return done.stdout

    def _prepare(self) -> None:
        if self.home.exists():
            shutil.rmtree(self.home)
        for sub in ("etc", "run", "spool/recording", "log", "lib", "cache"):
            (self.home / sub).mkdir(parents=True)
        etc = self.home / "etc"
        for name, text in config_files().items():
            (etc / name).write_text(text)
        (etc / "asterisk.conf").write_text(self._asterisk_conf())
        (etc / "http_local.conf").write_text(f"bindport={self.http_port}\n")
        (etc / "extensions_local.conf").write_text(f"ZENTRALE_APP={self.app}\n")
        ari_local = etc / "ari_local.conf"
        ari_local.write_text(
            f"[{self.username}]\ntype=user\nread_only=no\n"
            f"password={self.password.get_secret_value()}\n"
        )
        ari_local.chmod(0o640)
        pjsip_local = etc / "pjsip_local.conf"
        pjsip_local.write_text(self._pjsip_local())
        pjsip_local.chmod(0o640)
        uid, gid = self._asterisk_ids()
        for path in [self.home, *self.home.rglob("*")]:
            os.chown(path, uid, gid)

    def _pjsip_local(self) -> str:
        lines = [
            "[transport-udp]",
            "type=transport",
            "protocol=udp",
            f"bind=127.0.0.1:{self.sip_port}",
            "",
            "[carrier]",
            "type=aor",
            f"contact=sip:127.0.0.1:{self.carrier_port}",
            "",
            "[carrier]",
            "type=identify",
            "endpoint=carrier",
            f"match=127.0.0.1:{self.carrier_port}",
        ]
        secret = self.phone_password.get_secret_value()
        for phone in (*AGENT_PHONES, *WEBRTC_PHONES):
            lines += ["", f"[{phone}]", "type=auth", "auth_type=userpass"]
            lines += [f"username={phone}", f"password={secret}"]
        return "\n".join(lines) + "\n"

    def _asterisk_conf(self) -> str:
        dirs = {
            "astcachedir": "cache",
            "astetcdir": "etc",
            "astdbdir": "lib",
            "astspooldir": "spool",
            "astrundir": "run",
            "astlogdir": "log",
        }
        lines = ["[directories]"]
        lines += [f"{key} => {self.inside / sub}" for key, sub in dirs.items()]
        lines += [
            "astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules",
            "astvarlibdir => /var/lib/asterisk",
            "astkeydir => /var/lib/asterisk",
            "astdatadir => /usr/share/asterisk",
            "astagidir => /usr/share/asterisk/agi-bin",
            "astsbindir => /usr/sbin",
            "",
            "[options]",
            "runuser = asterisk",
            "rungroup = asterisk",
            f"systemname = {self.name}",
            "transmit_silence = yes",
        ]
        return "\n".join(lines) + "\n"

    def _asterisk_ids(self) -> tuple[int, int]:
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == "asterisk":
                return int(fields[2]), int(fields[3])
        raise SandboxError(f"the root {self.root} has no asterisk user: rebuild it")

    def _mount_proc(self) -> None:
        proc = self.root / "proc"
        if not is_mounted(proc):
            subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)

    def _release_proc(self) -> None:
        if any(other.is_running() for other in _siblings(self)):
            return
        proc = self.root / "proc"
        if is_mounted(proc):
            subprocess.run(["umount", "-l", str(proc)], check=False)

    def _spawn(self) -> None:
        # setsid --fork: Asterisk gets a session of its own and is not our child, so it outlives
        # `zentrale sandbox up`, ignores the Ctrl-C meant for a test run and leaves no zombie.
        argv = [
            "setsid",
            "--fork",
            "chroot",
            str(self.root),
            "asterisk",
            "-f",
            "-n",
            "-C",
            str(self.inside / "etc/asterisk.conf"),
        ]
        with (self.home / "log" / "console.log").open("wb") as out:
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        auth = (self.username, self.password.get_secret_value())
        url = f"http://127.0.0.1:{self.http_port}/ari/asterisk/info"
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, auth=auth, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SandboxError(
            f"sandbox {self.name!r}: ARI did not answer on port {self.http_port} "
            f"within {timeout:.0f} s; see {self.home / 'log'}:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = (self.home / "log" / "console.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no console log)"
        return "\n".join(lines[-20:])


def _siblings(instance: SandboxInstance) -> list[SandboxInstance]:
    base = instance.root / INSTANCES
    names = [p.name for p in base.iterdir() if p.is_dir()] if base.is_dir() else []
    return [
        SandboxInstance(instance.root, name, http_port=0) for name in names if name != instance.name
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A reaped-but-unwaited child still answers kill(0); its state in /proc says zombie.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, 5.0):
        os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 5.0)
