"""Customer records in real calls: VIPs and known languages route by the stored record.

A daemon on the sandbox Asterisk with rules that send VIP customers to their own team (with
queue priority) and ask everyone else for a language, unless their record already says it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from zentrale.calls.models import Outcome
from zentrale.customers.store import CustomerStore, NewCustomer
from zentrale.daemon import Daemon
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, script_party

from .conftest import MONDAY_10, Flows, daemon_settings

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

LANGUAGE_MENU = "(language selection)"
RULES = """
version: 1
timezone: Europe/Istanbul
languages:
  available: [de, en]
  default: de
  fallback: de
  selection: {prompt: language, options: {"1": de, "2": en}, timeout: 2s}
prompts:
  language: sound:beep
  menu: {de: sound:hello-world, en: sound:hello-world}
  bye: sound:beep
  notice: {de: sound:beep, en: sound:hello-world}
announcements:
  consent: {outbound: {prompt: notice, version: "2026-11"}}
departments:
  sales:
    agents: [{endpoint: "Local/S1@sim-agent/n", name: Selin}]
    recording: true
    ring_timeout: 5s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
  vip:
    agents: [{endpoint: "Local/V1@sim-agent/n", name: Vera}]
    ring_timeout: 5s
    max_wait: 30s
    on_max_wait: {play_and_hangup: bye}
menus:
  main:
    prompt: menu
    options: {"1": {department: sales}}
    timeout: 2s
    retries: 0
    on_invalid: {play_and_hangup: bye}
    on_timeout: {play_and_hangup: bye}
entry_rules:
  - name: VIP customers
    match: {customer: {vip: true}}
    priority: 5
    action: {department: vip}
  - name: everyone
    action: {menu: main}
"""
VIP, ENGLISH, STRANGER = "+905321110001", "+447700900123", "+905559990000"


@pytest_asyncio.fixture
async def flows(asterisk: SandboxInstance, tmp_path: Path) -> AsyncIterator[Flows]:
    """The daemon on these rules, with a VIP and an English-speaking customer on record."""
    settings = daemon_settings(tmp_path, RULES)
    async with Daemon.running(
        settings, credentials=asterisk.ari, drain_seconds=5, clock=lambda: MONDAY_10
    ) as daemon:
        await daemon.ari.wait_resynced(max_wait=10)
        customers = CustomerStore(daemon.db)
        await customers.create(NewCustomer([VIP], name="Vera Kaya", vip=True, language="de"))
        await customers.create(NewCustomer(["+44 7700 900123"], name="Jane Doe", language="en"))
        yield Flows(daemon, asterisk)


async def _menus(flows: Flows, call_id: str) -> list[tuple[str, str]]:
    events = await flows.events(call_id)
    return [(e.detail["menu"], e.detail["language"]) for e in events if e.kind == "menu_entered"]


async def test_vip_caller_reaches_the_vip_team_without_a_menu(flows: Flows) -> None:
    await flows.agent("V1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(then="wait"), caller=VIP)
    (call,) = await flows.finished_calls(1)
    assert (call.outcome, call.department, call.agent_name) == (Outcome.ANSWERED, "vip", "Vera")
    assert await _menus(flows, call.id) == []
    assert await flows.asterisk_empty()


async def test_english_customer_skips_the_language_menu(flows: Flows) -> None:
    await flows.agent("S1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, then="wait"), caller=ENGLISH)
    (call,) = await flows.finished_calls(1)
    assert await _menus(flows, call.id) == [("main", "en")]
    assert (call.outcome, call.department, call.language) == (Outcome.ANSWERED, "sales", "en")
    assert await flows.asterisk_empty()


async def test_unknown_caller_takes_the_default_path(flows: Flows) -> None:
    await flows.call(CustomerScript(then="wait"), caller=STRANGER)
    (call,) = await flows.finished_calls(1, max_wait=60)
    # Asked for a language, no key: the default (de), then the main menu timed out.
    assert await _menus(flows, call.id) == [(LANGUAGE_MENU, "de"), ("main", "de")]
    assert call.department is None
    assert await flows.asterisk_empty()


async def test_a_failing_lookup_makes_even_a_vip_an_unknown_caller(flows: Flows) -> None:
    async with flows.daemon.db.write() as session:  # the records become unreadable
        await session.execute(text("ALTER TABLE customer_numbers RENAME TO gone"))
    await flows.call(CustomerScript(then="wait"), caller=VIP)
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert call.outcome is not None
    assert await _menus(flows, call.id) == [(LANGUAGE_MENU, "de"), ("main", "de")]
    assert call.department is None
    assert await flows.asterisk_empty()


@pytest.mark.parametrize(("number", "language"), [(ENGLISH, "en"), (STRANGER, "de")])
async def test_click_to_call_plays_the_consent_notice_in_the_customers_language(
    flows: Flows, number: str, language: str
) -> None:
    await flows.agent("S1", PartyScript(answer_after=0.5))
    await script_party(
        flows.asterisk.ari, "number", number, PartyScript(answer_after=1, talk=4, then="hangup")
    )
    result = await flows.daemon.center.place("Local/S1@sim-agent/n", number, "sales")
    assert result.result == "answered"
    (call,) = await flows.finished_calls(1)
    assert (call.consent_version, call.consent_language) == ("2026-11", language)
    kinds = await flows.kinds(call.id)
    assert kinds.index("consent_played") < kinds.index("recording_started")
    assert await flows.asterisk_empty()
