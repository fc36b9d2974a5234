"""`zentrale sandbox up|down|status`: a sandbox that outlives the command that started it.

The instance's port is remembered in the state directory and its ARI password in a file only
the owner can read, so `zentrale` commands run later can find and reach it through
`ari.password_file` without the password ever being printed.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from zentrale.config.settings import Settings
from zentrale.sandbox.instance import SandboxInstance
from zentrale.sandbox.root import ensure_root, root_path


def _state(settings: Settings) -> Path:
    return settings.state_dir / "sandbox" / settings.sandbox.name


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _instance(settings: Settings, root: Path) -> SandboxInstance | None:
    state = _state(settings)
    try:
        facts = json.loads((state / "instance.json").read_text())
        password = SecretStr((state / "ari-password").read_text().strip())
    except (OSError, ValueError):
        return None
    return SandboxInstance(
        root,
        settings.sandbox.name,
        http_port=int(facts["http_port"]),
        app=str(facts["app"]),
        password=password,
    )


def start_by_hand(settings: Settings, port: int | None) -> list[str]:
    """Start the sandbox named in the settings; return lines telling how to use it."""
    root = ensure_root(settings.sandbox.cache_dir)
    running = _instance(settings, root)
    if running is not None and running.is_running():
        return [f"sandbox {running.name!r} already runs on {running.ari.base_url}"]
    instance = SandboxInstance(
        root,
        settings.sandbox.name,
        http_port=port or settings.sandbox.http_port,
        app=settings.ari.app,
        password=SecretStr(secrets.token_urlsafe(18)),
    )
    state = _state(settings)
    _write_private(state / "ari-password", instance.password.get_secret_value())
    _write_private(
        state / "instance.json", json.dumps({"http_port": instance.http_port, "app": instance.app})
    )
    instance.start()
    return [
        f"sandbox {instance.name!r} up: ARI on {instance.ari.base_url} (app {instance.app!r})",
        "point zentrale at it with:",
        f"  export ZENTRALE_ARI__URL={instance.ari.base_url}",
        f"  export ZENTRALE_ARI__PASSWORD_FILE={(state / 'ari-password').resolve()}",
        f"Asterisk CLI: chroot {root} asterisk -C {instance.inside}/etc/asterisk.conf -r",
    ]


def stop_by_hand(settings: Settings) -> str:
    """Stop the sandbox named in the settings; return what happened."""
    instance = _instance(settings, root_path(settings.sandbox.cache_dir))
    if instance is None or not instance.is_running():
        return f"sandbox {settings.sandbox.name!r} is not running"
    instance.stop()
    return f"sandbox {settings.sandbox.name!r} stopped"


def status_by_hand(settings: Settings) -> tuple[bool, str]:
    """Return whether the sandbox named in the settings runs, and a line saying so."""
    instance = _instance(settings, root_path(settings.sandbox.cache_dir))
    if instance is None or not instance.is_running():
        return False, f"sandbox {settings.sandbox.name!r} is not running"
    return True, (
        f"sandbox {instance.name!r} running (pid {instance.pid()}), ARI on {instance.ari.base_url}"
    )
