"""Customer records as routing facts: entry rules match vip, language and customer number."""

from __future__ import annotations

import datetime as dt

import pytest

from zentrale.customers.numbers import InvalidNumberError, caller_key, normalise
from zentrale.customers.store import CustomerRecord
from zentrale.routing.engine import start
from zentrale.routing.facts import CallFacts
from zentrale.routing.load import parse_rules
from zentrale.routing.simulate import run_expectations
from zentrale.routing.steps import CollectDigits, Queue

RULES = """\
version: 1
timezone: Europe/Istanbul
languages:
  available: [de, en]
  default: de
  selection: {prompt: language, options: {"1": de, "2": en}}
prompts:
  language: sound:beep
  menu: {de: "sound:de/menu", en: "sound:en/menu"}
  bye: sound:vm-goodbye
departments:
  sales: {agents: [{endpoint: PJSIP/1001, name: A}], on_max_wait: {play_and_hangup: bye}}
  vip: {agents: [{endpoint: PJSIP/1002, name: B}], on_max_wait: {play_and_hangup: bye}}
  key: {agents: [{endpoint: PJSIP/1003, name: C}], on_max_wait: {play_and_hangup: bye}}
menus:
  main: {prompt: menu, options: {"1": {department: sales}}, on_invalid: {play_and_hangup: bye}}
entry_rules:
  - name: VIP customers
    match: {customer: {vip: true}}
    priority: 5
    action: {department: vip}
  - name: key account
    match: {customer: {customer_number: K-1}}
    action: {department: key}
  - name: everyone
    action: {menu: main}
expect:
  - name: a VIP record goes to the VIP team
    at: "2026-03-02 10:00"
    customer: {vip: true}
    goes_to: {department: vip}
  - name: a record that is not VIP does not
    at: "2026-03-02 10:00"
    customer: {vip: false, language: en}
    digits: ["1"]
    goes_to: {department: sales}
"""
AT = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def _record(**fields: object) -> CustomerRecord:
    values: dict[str, object] = {
        "id": "c1",
        "name": None,
        "customer_number": None,
        "language": None,
        "vip": False,
        "notes": None,
        "numbers": ("+905551112233",),
        "created_at": AT,
        "updated_at": AT,
    }
    values.update(fields)
    return CustomerRecord(**values)  # type: ignore[arg-type]


def test_yaml_booleans_in_customer_conditions_and_expect_cases() -> None:
    rules = parse_rules(RULES)
    assert rules.document.entry_rules[0].match.customer == {"vip": "true"}
    assert all(result.passed for result in run_expectations(rules))


def test_a_vip_record_routes_with_priority() -> None:
    step = start(parse_rules(RULES), CallFacts(at=AT, customer=_record(vip=True).facts()))
    assert isinstance(step, Queue)
    assert (step.name, step.state.priority) == ("vip", 5)


def test_a_known_language_skips_the_selection_and_plays_its_prompts() -> None:
    step = start(parse_rules(RULES), CallFacts(at=AT, customer=_record(language="en").facts()))
    assert isinstance(step, CollectDigits)
    assert (step.menu, step.prompts, step.state.language) == ("main", ("sound:en/menu",), "en")


def test_the_customer_number_is_usable_in_rules() -> None:
    facts = CallFacts(at=AT, customer=_record(customer_number="K-1").facts())
    step = start(parse_rules(RULES), facts)
    assert isinstance(step, Queue)
    assert step.name == "key"


def test_an_unknown_caller_is_asked_for_a_language() -> None:
    step = start(parse_rules(RULES), CallFacts(at=AT, caller="+905551112233"))
    assert isinstance(step, CollectDigits)
    assert step.menu == "(language selection)"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("+90 555 111 22 33", "+905551112233"),
        ("0049-30-123456", "+4930123456"),
        ("+49 (30) 123.456", "+4930123456"),
    ],
)
def test_numbers_are_normalised(written: str, stored: str) -> None:
    assert normalise(written) == stored
    assert caller_key(written) == stored


@pytest.mark.parametrize("bad", ["0555 111 22 33", "+0123456", "+90", "call me", "+1" + "2" * 15])
def test_numbers_that_are_not_international_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNumberError, match="not an international phone number"):
        normalise(bad)
    assert caller_key(bad) is None
