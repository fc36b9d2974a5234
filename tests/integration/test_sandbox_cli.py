"""`zentrale sandbox up|status|down` by hand: the sandbox outlives the command that started it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from zentrale.cli import main
from zentrale.sandbox import SandboxInstance, ensure_root
from zentrale.sandbox.instance import free_port


@pytest.mark.asterisk
def test_sandbox_up_status_down(tmp_path: Path) -> None:
    port = free_port()
    env = {"ZENTRALE_STATE_DIR": str(tmp_path), "ZENTRALE_SANDBOX__NAME": f"cli-{os.getpid()}"}
    runner = CliRunner()
    try:
        up = runner.invoke(main, ["sandbox", "up", "--port", str(port)], env=env)
        assert up.exit_code == 0, up.output
        assert f"export ZENTRALE_ARI__URL=http://127.0.0.1:{port}/ari" in up.output
        secret = next(tmp_path.glob("sandbox/*/ari-password"))
        assert secret.stat().st_mode & 0o777 == 0o600
        assert secret.read_text() not in up.output  # the password is never printed
        info = httpx.get(
            f"http://127.0.0.1:{port}/ari/asterisk/info", auth=("zentrale", secret.read_text())
        )
        assert info.status_code == 200
        status = runner.invoke(main, ["sandbox", "status"], env=env)
        assert (status.exit_code, "running" in status.output) == (0, True)
        again = runner.invoke(main, ["sandbox", "up", "--port", str(port)], env=env)
        assert "already runs" in again.output
    finally:
        down = runner.invoke(main, ["sandbox", "down"], env=env)
        SandboxInstance(ensure_root(), env["ZENTRALE_SANDBOX__NAME"]).remove()  # logs too
    assert "stopped" in down.output
    after = runner.invoke(main, ["sandbox", "status"], env=env)
    assert after.exit_code == 3
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/ari/asterisk/info", timeout=2)
