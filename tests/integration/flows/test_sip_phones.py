"""Agents' phones created from zentrale, on the real sandbox Asterisk and a real SIP phone.

The phone is kept by zentrale before the daemon starts; the daemon creates it in Asterisk when
it connects (ARI dynamic configuration, no restart); baresip registers with the generated
password and is rung for a carrier's call. The CLI does the same by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner
from sqlalchemy import select

from zentrale.calls.models import Call, Outcome
from zentrale.cli import main
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.telephony.ari import AriNotFoundError
from zentrale.telephony.phones import Phone, PhoneBook, withdraw_phone
from zentrale.testing.sip import CarrierScript, agent_phone, carrier_call, have_tools

from .conftest import MONDAY_10, daemon_settings

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(bool(have_tools()), reason=f"SIP tools missing: {have_tools()}"),
]

RULES = """
version: 1
timezone: Europe/Istanbul
languages: {available: [en], default: en, fallback: en}
prompts:
  bye: sound:vm-goodbye
departments:
  desk:
    agents: [{endpoint: "PJSIP/7101", name: Deniz}]
    ring_timeout: 8s
    max_wait: 20s
    on_max_wait: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {department: desk}
"""


@pytest_asyncio.fixture
async def kept_phone(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[str]:
    """Phone 7101 kept by zentrale (not yet in Asterisk); yields its password."""
    password = PhoneBook(tmp_path).add(Phone("7101", ("ulaw",)))
    yield password


@pytest.mark.asyncio
async def test_a_kept_phone_is_created_at_connect_registers_and_is_rung(
    asterisk: SandboxInstance, tmp_path: Path, kept_phone: str
) -> None:
    settings = daemon_settings(tmp_path, RULES)
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        try:
            async with agent_phone(
                "7101", password=kept_phone, sip_port=asterisk.sip_port, workdir=tmp_path / "ph"
            ) as phone:
                async with asyncio.timeout(20):
                    while (await daemon.ari.endpoints.get("PJSIP", "7101")).state != "online":  # noqa: ASYNC110 (polling Asterisk)
                        await asyncio.sleep(0.2)
                done = await carrier_call(
                    sip_port=asterisk.sip_port,
                    carrier_port=asterisk.carrier_port,
                    script=CarrierScript(hold=6),
                    workdir=tmp_path / "sipp",
                )
                assert done.returncode == 0, done.output
                call = await _finished(daemon)
                assert call.outcome == Outcome.ANSWERED, phone.log()
                assert call.agent_endpoint == "PJSIP/7101"
        finally:
            await withdraw_phone(daemon.ari.asterisk, "7101")
        with pytest.raises(AriNotFoundError):
            await daemon.ari.endpoints.get("PJSIP", "7101")


async def _finished(daemon: Daemon, max_wait: float = 40) -> Call:
    async with asyncio.timeout(max_wait):
        while True:
            await daemon.journal.flush()
            async with daemon.db.read() as session:
                calls = list(await session.scalars(select(Call)))
            if calls and calls[0].ended_at is not None and not daemon.center.active:
                return calls[0]
            await asyncio.sleep(0.2)


def _config(asterisk: SandboxInstance, tmp_path: Path) -> Path:
    creds = asterisk.ari
    path = tmp_path / "zentrale.yaml"
    path.write_text(
        f"state_dir: {tmp_path}\n"
        f"ari: {{url: '{creds.base_url}', username: {creds.username},"
        f" password: '{creds.password.get_secret_value()}'}}\n"
    )
    return path


def test_the_cli_adds_lists_renews_and_removes_a_phone_in_asterisk(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    config = ["--config", str(_config(asterisk, tmp_path))]
    runner = CliRunner()
    added = runner.invoke(main, [*config, "phones", "add", "7102", "--codec", "g722"])
    assert added.exit_code == 0, added.output
    assert "created in Asterisk" in added.output
    first = _password(added.output)
    assert first not in (tmp_path / "phones.json").read_text()
    listed = runner.invoke(main, [*config, "phones", "list"])
    assert listed.output.splitlines() == ["PJSIP/7102\tg722\ttransport-udp\toffline"]
    assert first not in listed.output
    renewed = runner.invoke(main, [*config, "phones", "password", "7102"])
    assert renewed.exit_code == 0, renewed.output
    assert _password(renewed.output) != first
    again = runner.invoke(main, [*config, "phones", "add", "7102"])
    assert again.exit_code == 1
    assert "phone '7102' exists already" in again.output
    removed = runner.invoke(main, [*config, "phones", "remove", "7102"])
    assert "deleted in Asterisk" in removed.output, removed.output
    assert "not in Asterisk yet" not in removed.output
    listed = runner.invoke(main, [*config, "phones", "list"])
    assert listed.output.startswith("no phones")


def _password(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("password: ")]
    return line.removeprefix("password: ")
