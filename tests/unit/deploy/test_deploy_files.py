"""The deployment files in docker/ hang together with the code they deploy.

No Docker daemon is needed: the compose file is read as YAML and checked against the
repository (every mounted file exists, every image is built from a Dockerfile here, the
zentrale service's settings load through zentrale's own loader with the compose
environment), the Dockerfiles are checked for a non-root user and existing COPY sources, and
the systemd units pass `systemd-analyze verify` where that tool exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from zentrale.config.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "docker"


def _compose() -> dict[str, Any]:
    data = YAML(typ="safe").load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:?message} and ${NAME:-default} against ENV."""

    def one(match: re.Match[str]) -> str:
        name, _, rest = match.group(1).partition(":")
        if name in env:
            return env[name]
        if rest.startswith("-"):
            return rest[1:]
        raise AssertionError(f"compose needs {name}: {rest[1:] if rest else 'unset'}")

    return re.sub(r"\$\{([^}]+)\}", one, value)


DOT_ENV = {
    key: value
    for key, _, value in (
        line.partition("=")
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
}


def test_compose_runs_asterisk_zentrale_postgresql_and_an_s3_store() -> None:
    services = _compose()["services"]
    assert {"asterisk", "zentrale", "postgres", "s3"} <= set(services)
    depends = services["zentrale"]["depends_on"]
    assert depends["asterisk"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"


def test_every_built_image_has_a_dockerfile_whose_copy_sources_exist() -> None:
    built = [s["build"] for s in _compose()["services"].values() if "build" in s]
    assert len(built) >= 2
    for build in built:
        context = (DOCKER / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY") and "--from=" not in line:
                sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
                for source in sources:
                    assert list(context.glob(source)), (
                        f"{dockerfile.name}: COPY {source} is missing"
                    )


def test_the_zentrale_image_runs_as_an_unprivileged_user() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users, "no USER line"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "HEALTHCHECK" in text
    assert "/healthz" in text


def test_every_host_path_the_compose_file_mounts_exists() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"


def test_the_compose_settings_load_and_point_at_the_compose_services() -> None:
    service = _compose()["services"]["zentrale"]
    env = {key: _interpolate(str(value), DOT_ENV) for key, value in service["environment"].items()}
    settings = load_settings(DOCKER / "config" / "zentrale.yaml", env)
    assert settings.database.url.get_secret_value().startswith("postgresql+asyncpg://zentrale:")
    assert "@postgres/" in settings.database.url.get_secret_value()
    assert settings.ari.url.startswith("http://asterisk:")
    assert settings.ari.secret().get_secret_value() == DOT_ENV["ARI_PASSWORD"]
    assert settings.storage.kind == "s3"
    assert settings.storage.s3.endpoint_url == "http://s3:8333"
    assert settings.http.host == "0.0.0.0"
    for mounted in ("routing.yaml", "scorecards.yaml", "retention.yaml"):
        assert any(v.endswith(f"/etc/zentrale/{mounted}:ro") for v in service["volumes"])
    assert settings.routing.file == Path("/etc/zentrale/routing.yaml")
    assert settings.retention.file == Path("/etc/zentrale/retention.yaml")


def test_the_compose_file_keeps_secrets_out_of_the_repository() -> None:
    text = (DOCKER / "compose.yaml").read_text() + (DOCKER / "config/zentrale.yaml").read_text()
    for key, value in DOT_ENV.items():
        if key.endswith(("PASSWORD", "SECRET_KEY")):
            assert value not in text, key
    assert "docker/.env" in (ROOT / ".gitignore").read_text()


@pytest.mark.parametrize("unit", ["zentrale.service", "zentrale-api@.service"])
def test_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    text = (DOCKER / "systemd" / unit).read_text()
    assert re.search(r"^User=zentrale$", text, flags=re.M)
    assert "NoNewPrivileges=yes" in text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail(
            "systemd-analyze is missing (Debian package systemd); scripts/setup.sh installs it"
        )
    # verify checks that ExecStart exists: point it at a binary that does.
    copy = tmp_path / unit.replace("@.", "@8801.")
    copy.write_text(text.replace("/opt/zentrale/.venv/bin/zentrale", "/bin/true"))
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown key" not in done.stderr, done.stderr
    assert "Unknown section" not in done.stderr, done.stderr
