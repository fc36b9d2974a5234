"""The compose stack of docker/, built and run: images, a recorded call, readiness, clean-up.

`scripts/images.sh` builds every image (making the Debian base images with debootstrap when no
registry answers) and starts dockerd when none runs; then docker/compose.yaml with the test
override docker/compose.test.yaml runs Asterisk, zentrale, PostgreSQL and moto, every one on
the host's network, listening on 127.0.0.1 on ports picked here. One simulated customer calls
the containerised Asterisk (a Local channel originated over its ARI, scripted by the sandbox
dialplan), a simulated agent answers, and the encrypted recording must land in the stack's S3
and play through the QA API with a token made by `zentrale users` inside the container.
Stopping the Asterisk container must turn /readyz to 503 and the container's health check to
unhealthy; starting it again must bring both back. `down -v` must leave no container, network
or volume of the project behind.

Marked `docker`: needs root, Debian's docker.io and docker-compose (scripts/setup.sh installs
them) and network access to Debian's mirror and PyPI on the first build. Where Docker cannot
run, the test fails and says why; it never skips.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from pydantic import SecretStr

from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.telephony.ari.config import AriCredentials
from zentrale.testing.moto import free_port

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "zentrale-recordings"
AGENT = "D001"
RULES = f"""
version: 1
timezone: Europe/Istanbul
languages: {{available: [en], default: en, fallback: en}}
prompts:
  menu: sound:beep
  bye: sound:vm-goodbye
announcements: {{}}
departments:
  docker:
    agents:
      - {{endpoint: "Local/{AGENT}@sim-agent/n", name: "Docker Agent"}}
    strategy: round_robin
    ring_timeout: 10s
    max_wait: 60s
    on_max_wait: {{play_and_hangup: bye}}
    wrap_up: 0s
    recording: true
menus:
  main:
    prompt: menu
    options: {{"1": {{department: docker}}}}
    timeout: 10s
    on_invalid: {{play_and_hangup: bye}}
    on_timeout: {{play_and_hangup: bye}}
entry_rules:
  - {{name: everyone, action: {{menu: main}}}}
"""


def compose_command() -> list[str]:
    """Return Compose's command: Debian's docker-compose, else the `docker compose` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if shutil.which("docker") and plugin.returncode == 0:
        return ["docker", "compose"]
    pytest.fail(
        "Docker Compose is missing: run scripts/setup.sh as root (docker.io, docker-compose)"
    )


@dataclass
class Stack:
    """One compose project on loopback ports, and how to reach its services."""

    project: str
    env: dict[str, str]
    compose: list[str]

    @property
    def ari(self) -> AriCredentials:
        """Return the containerised Asterisk's ARI credentials."""
        return AriCredentials(
            base_url=f"http://127.0.0.1:{self.env['ZT_ARI_PORT']}/ari",
            username="zentrale",
            password=SecretStr(self.env["ARI_PASSWORD"]),
            app="zentrale-node1",
        )

    @property
    def http(self) -> str:
        """Return the zentrale container's HTTP address."""
        return f"http://127.0.0.1:{self.env['ZT_HTTP_PORT']}"

    def run(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        """Run a compose command on this project; fail the test with its output if it fails."""
        done = subprocess.run(
            [*self.compose, *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{self.logs()}")
        return done.stdout

    def logs(self) -> str:
        """Return the end of every service's log (for failure messages)."""
        done = subprocess.run(
            [*self.compose, "logs", "--no-color", "--tail", "25"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout + done.stderr

    def container(self, service: str) -> dict[str, object]:
        """Return `docker inspect` of SERVICE's container."""
        ident = self.run("ps", "-q", service).strip()
        assert ident, f"no container for {service}"
        return json.loads(docker("inspect", ident))[0]  # type: ignore[no-any-return]

    def health(self, service: str) -> str:
        """Return the health status of SERVICE's container."""
        state = self.container(service)["State"]
        assert isinstance(state, dict)
        return str(state.get("Health", {}).get("Status"))

    def leftovers(self) -> dict[str, list[str]]:
        """Return the project's containers, networks and volumes that exist."""
        label = f"label=com.docker.compose.project={self.project}"
        return {
            "containers": docker("ps", "-aq", "--filter", label).split(),
            "networks": docker("network", "ls", "-q", "--filter", label).split()
            + docker("network", "ls", "-q", "--filter", f"name={self.project}_").split(),
            "volumes": docker("volume", "ls", "-q", "--filter", label).split()
            + docker("volume", "ls", "-q", "--filter", f"name={self.project}_").split(),
        }


def docker(*args: str) -> str:
    """Run a docker command and return its output (fail the test if it fails)."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"docker {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def wait_for(
    stack: Stack, what: str, check: Callable[[], bool], timeout: float, pause: float = 1.0
) -> float:
    """Poll CHECK until it holds; return the seconds it took, fail with the logs after TIMEOUT."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(pause)
    pytest.fail(
        f"timed out after {timeout:.0f} s waiting for {what}; the services' logs:\n" + stack.logs()
    )


def readyz(stack: Stack) -> int:
    """Return /readyz's status code (0 when the daemon does not answer)."""
    try:
        return httpx.get(stack.http + "/readyz", timeout=3).status_code
    except httpx.TransportError:
        return 0


@pytest.fixture(scope="module")
def images() -> float:
    """Build every image with scripts/images.sh; return the seconds it took."""
    if os.geteuid() != 0:
        pytest.fail("the docker tests need root (dockerd, debootstrap for the base images)")
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "scripts/images.sh"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    print(done.stdout)
    assert done.returncode == 0, f"scripts/images.sh failed:\n{done.stdout}\n{done.stderr}"
    return seconds


@pytest.fixture
def stack(images: float, tmp_path: Path) -> Iterator[Stack]:
    """The compose stack up on loopback ports; taken down (with its volumes) afterwards."""
    routing = tmp_path / "routing.yaml"
    routing.write_text(RULES)
    routing.chmod(0o644)
    tmp_path.chmod(0o755)
    ports = {name: str(free_port()) for name in ("ARI", "HTTP", "PG", "S3")}
    env = {
        **os.environ,
        **{f"ZT_{name}_PORT": port for name, port in ports.items()},
        "ZT_ROUTING": str(routing),
        "ARI_PASSWORD": secrets.token_hex(12),
        "POSTGRES_PASSWORD": secrets.token_hex(12),
        "S3_ACCESS_KEY": "zentrale",
        "S3_SECRET_KEY": secrets.token_hex(12),
    }
    project = f"zentraletest{os.getpid()}"
    files = ["-p", project, "-f", "docker/compose.yaml", "-f", "docker/compose.test.yaml"]
    stack = Stack(project, env, [*compose_command(), *files])
    try:
        yield stack
    finally:
        subprocess.run(
            [*stack.compose, "down", "-v", "--timeout", "30"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
        )


def recording_objects(stack: Stack) -> list[bytes]:
    """Return the recordings stored in the stack's S3 bucket (the moto container)."""
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.env['ZT_S3_PORT']}",
        region_name="eu-central-1",
        aws_access_key_id=stack.env["S3_ACCESS_KEY"],
        aws_secret_access_key=stack.env["S3_SECRET_KEY"],
    )
    try:
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix="recordings/")
        # Not the readiness probe's object (`zentrale-health/<node>`): it is written and
        # deleted every few seconds, so it can be gone between the listing and the read.
        keys = [
            item["Key"]
            for item in listed.get("Contents", [])
            if "/zentrale-health/" not in item["Key"]
        ]
        return [client.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys]
    finally:
        client.close()


def place_one_call(stack: Stack) -> None:
    """A customer presses 1, the agent answers and talks 3 s, then hangs up."""

    async def call() -> None:
        agent = PartyScript(answer_after=0.5, talk=3, then="hangup")
        await script_party(stack.ari, "agent", AGENT, agent)
        customer = CustomerScript(digits="1", digit_delay=1.0, then="wait")
        await place_call(stack.ari, did="100", caller="+905551112233", script=customer)

    asyncio.run(call())


def api_token(stack: Stack) -> str:
    """Make a QA user for the department inside the zentrale container; return its token."""
    password = secrets.token_urlsafe(16)
    stack.run(
        "exec",
        "-T",
        "zentrale",
        "zentrale",
        "users",
        "add",
        "qa",
        "--name",
        "QA Tester",
        "--role",
        "qa",
        "--department",
        "docker",
        "--password-stdin",
        stdin=password + "\n",
    )
    token = stack.run("exec", "-T", "zentrale", "zentrale", "users", "token", "qa", "--name", "t")
    return token.strip().splitlines()[-1]


def test_the_stack_records_a_call_follows_asterisk_and_leaves_nothing(stack: Stack) -> None:
    started = time.monotonic()
    stack.run("up", "-d", "--no-build")
    up = wait_for(stack, "/readyz to answer 200", lambda: readyz(stack) == 200, timeout=240)
    print(f"stack ready {up:.1f} s after up")
    assert stack.leftovers()["networks"] == [], "the test stack must not make a bridge network"
    for service in ("zentrale", "asterisk", "postgres", "s3"):
        info = stack.container(service)
        config, host = info["Config"], info["HostConfig"]
        assert isinstance(config, dict)
        assert isinstance(host, dict)
        assert config["User"] not in ("", "root", "0"), f"{service} runs as root"
        assert host["ReadonlyRootfs"], f"{service}'s root filesystem is writable"
        assert host["NetworkMode"] == "host"
    wait_for(
        stack, "zentrale's health check to pass", lambda: stack.health("zentrale") == "healthy", 60
    )

    place_one_call(stack)
    wait_for(stack, "a recording in the stack's S3", lambda: bool(recording_objects(stack)), 120)
    (stored,) = recording_objects(stack)
    assert stored[:4] == b"ZREC", "the stored object is not zentrale's encrypted envelope"
    assert b"OggS" not in stored[:4096], "the stored object holds plain Ogg audio"

    headers = {"Authorization": f"Bearer {api_token(stack)}"}
    found = httpx.get(stack.http + "/api/recordings", headers=headers, timeout=10)
    assert found.status_code == 200, found.text
    (item,) = found.json()["items"]
    audio = httpx.get(
        f"{stack.http}/api/recordings/{item['id']}/audio", headers=headers, timeout=30
    )
    assert audio.status_code == 200, audio.text
    assert audio.content[:4] == b"OggS", "the API did not play the decrypted Opus audio"
    assert len(audio.content) > 4000

    stack.run("stop", "asterisk")
    down = wait_for(stack, "/readyz to say 503 without Asterisk", lambda: readyz(stack) == 503, 60)
    checks = httpx.get(stack.http + "/readyz", timeout=3).json()
    assert "ari" in json.dumps(checks), checks
    wait_for(
        stack,
        "zentrale's health check to fail",
        lambda: stack.health("zentrale") == "unhealthy",
        60,
    )
    stack.run("start", "asterisk")
    back = wait_for(stack, "/readyz to recover", lambda: readyz(stack) == 200, 120)
    wait_for(
        stack,
        "zentrale's health check to pass again",
        lambda: stack.health("zentrale") == "healthy",
        60,
    )
    print(f"readyz 503 after {down:.1f} s without Asterisk; 200 again {back:.1f} s after start")

    stack.run("down", "-v", "--timeout", "30")
    left = stack.leftovers()
    assert left == {"containers": [], "networks": [], "volumes": []}, left
    print(f"stack test {time.monotonic() - started:.0f} s after the images were built")
