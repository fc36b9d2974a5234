"""Shared routing test data: a small valid document and helpers to load variants of it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from zentrale.routing.errors import InvalidRulesError, Issue
from zentrale.routing.facts import CallFacts
from zentrale.routing.load import parse_rules
from zentrale.routing.rules import Rules

ISTANBUL = ZoneInfo("Europe/Istanbul")

BASE = """\
version: 1
timezone: Europe/Istanbul
languages:
  available: [de, tr, en]
  default: de
  fallback: en
prompts:
  welcome: {de: "sound:de/willkommen", tr: "sound:tr/hosgeldiniz", en: "sound:en/welcome"}
  invalid: {de: "sound:de/ungueltig", en: "sound:en/invalid"}
  closed: sound:closed
  consent_in: {de: "sound:de/hinweis", tr: "sound:tr/bildirim", en: "sound:en/notice"}
  bye: sound:vm-goodbye
announcements:
  consent: {inbound: consent_in}
  closed: closed
schedules:
  office:
    weekly:
      mon: ["09:00-18:00"]
      tue: ["09:00-18:00"]
departments:
  sales:
    agents: [{endpoint: "Local/1001@sim-agent", name: Ayşe}]
    on_max_wait: {voicemail: sales}
    recording: true
    schedule: office
menus:
  main:
    prompt: welcome
    options:
      "1": {department: sales}
      "0": {play_and_hangup: bye}
    invalid_prompt: invalid
    on_invalid: {play_and_hangup: bye}
entry_rules:
  - name: everyone
    action: {menu: main}
"""


def load(text: str = BASE) -> Rules:
    """Parse `text` as a routing file named routing.yaml."""
    return parse_rules(text, "routing.yaml")


def issues_of(text: str) -> tuple[Issue, ...]:
    """Return the issues that make `text` invalid (fails if it is valid)."""
    with pytest.raises(InvalidRulesError) as caught:
        load(text)
    return caught.value.issues


def monday(hour: int, minute: int = 0) -> dt.datetime:
    """Return Monday 2 March 2026 at the given Istanbul time."""
    return dt.datetime(2026, 3, 2, hour, minute, tzinfo=ISTANBUL)


def facts(at: dt.datetime | None = None, **fields: object) -> CallFacts:
    """Return call facts for a Monday-morning call unless told otherwise."""
    return CallFacts(at=at or monday(10), **fields)  # type: ignore[arg-type]
