"""Benchmark: routing decisions per second and validate-and-swap time on a large rule set.

Generates 500 departments, 200 menus with 2,000 options and 1,000 entry rules, then measures
side by side in one run: the bare round-trip YAML parse (the floor, since located errors need
node marks), full validation plus the atomic swap, and engine decisions. Prints its figures and
ends with one JSON line; exits 0 even when a target is missed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ruamel.yaml import YAML

from zentrale.routing.engine import on_digits, start
from zentrale.routing.facts import CallFacts
from zentrale.routing.load import parse_rules
from zentrale.routing.rules import Rules
from zentrale.routing.steps import CollectDigits

DEPARTMENTS, MENUS, OPTIONS_PER_MENU, ENTRY_RULES = 500, 200, 10, 1000
DECISIONS = 20_000
REPEATS = 3


def generate() -> str:
    """Return the YAML text of the large rule set."""
    departments = {
        f"dept{i}": {
            "agents": [
                {"endpoint": f"PJSIP/{1000 + i}", "name": f"Agent {i}"},
                {"endpoint": f"Local/{5000 + i}@sim-agent", "name": f"Agent {i}b"},
            ],
            "strategy": ["ring_all", "round_robin", "longest_idle", "in_order", "random"][i % 5],
            "ring_timeout": "20s",
            "max_wait": "5m",
            "on_max_wait": {"voicemail": f"box{i}"},
            "recording": i % 2 == 0,
            **({"schedule": "office"} if i % 3 == 0 else {}),
        }
        for i in range(DEPARTMENTS)
    }
    menus = {
        f"menu{m}": {
            "prompt": "welcome",
            "options": {str(k): _option(m, k) for k in range(OPTIONS_PER_MENU)},
            "on_invalid": {"department": f"dept{m % DEPARTMENTS}"},
        }
        for m in range(MENUS)
    }
    rules = [_entry_rule(r) for r in range(ENTRY_RULES - 1)]
    rules.append({"name": "everyone", "action": {"menu": "menu0"}})
    document = {
        "version": 1,
        "timezone": "Europe/Istanbul",
        "languages": {"available": ["de", "tr", "en"], "default": "de", "fallback": "en"},
        "prompts": {
            "welcome": {
                "de": "sound:de/willkommen",
                "tr": "sound:tr/hosgeldiniz",
                "en": "sound:en/welcome",
            },
            "consent": {"de": "sound:de/hinweis", "en": "sound:en/notice"},
            "closed": "sound:closed",
        },
        "announcements": {"consent": {"inbound": "consent"}, "closed": "closed"},
        "schedules": {
            "office": {
                "weekly": {
                    d: ["08:00-12:30", "13:30-19:00"] for d in ("mon", "tue", "wed", "thu", "fri")
                },
                "holidays": [{"country": "TR"}, {"country": "DE", "subdiv": "BY"}],
            }
        },
        "departments": departments,
        "menus": menus,
        "entry_rules": rules,
    }
    stream = io.StringIO()
    YAML(typ="rt").dump(document, stream)
    return stream.getvalue()


def _option(menu: int, key: int) -> dict[str, str]:
    if key == 9:
        return {"menu": f"menu{(menu + 1) % MENUS}"}
    return {"department": f"dept{(menu * OPTIONS_PER_MENU + key) % DEPARTMENTS}"}


def _entry_rule(index: int) -> dict[str, Any]:
    action = {"menu": f"menu{index % MENUS}"}
    if index % 10 == 9:
        return {
            "name": f"callers {index}",
            "match": {"caller": [f"+90532{index:04d}*"]},
            "action": action,
        }
    return {"name": f"did {index}", "match": {"did": [_did(index)]}, "action": action}


def _did(index: int) -> str:
    return f"+90242{index:06d}"


def best_of(work: Callable[[], object]) -> float:
    """Return the median wall time of `work` over REPEATS runs."""
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


class Live:
    """Stands in for the reloader's reference: the swap is one assignment."""

    rules: Rules | None = None


def decisions(rules: Rules) -> tuple[float, int]:
    """Return (seconds, decisions) for simulated calls: start, then one key."""
    zone = ZoneInfo("Europe/Istanbul")
    chooser = random.Random(4)  # reproducible load
    calls = [
        CallFacts(
            at=dt.datetime(2026, 3, 2, chooser.randrange(7, 21), tzinfo=zone),
            dialled=_did(chooser.randrange(ENTRY_RULES + 200)),
            caller=f"+90532{chooser.randrange(10_000):04d}123",
        )
        for _ in range(DECISIONS // 2)
    ]
    made = 0
    began = time.perf_counter()
    for facts in calls:
        step = start(rules, facts)
        made += 1
        if isinstance(step, CollectDigits):
            on_digits(step.state, "3")
            made += 1
    return time.perf_counter() - began, made


def main() -> None:
    """Run the benchmark and print its figures and the JSON line."""
    text = generate()
    parse_s = best_of(lambda: YAML(typ="rt").load(text))
    # The C-accelerated safe loader keeps no marks, so it cannot serve located errors; it is
    # printed to show what the marks cost, not used as the target's floor.
    safe_s = best_of(lambda: YAML(typ="safe").load(text))

    def validate_and_swap() -> None:
        Live.rules = parse_rules(text, "bench.yaml")

    swap_s = best_of(validate_and_swap)
    assert Live.rules is not None
    seconds, made = decisions(Live.rules)
    decision_us = seconds / made * 1e6
    ratio = swap_s / parse_s
    print(
        f"rule set: {DEPARTMENTS} departments, {MENUS * OPTIONS_PER_MENU} menu options, "
        f"{ENTRY_RULES} entry rules, {len(text) / 1e6:.2f} MB of YAML"
    )
    print(f"bare YAML parse (round-trip, marks): {parse_s * 1000:9.1f} ms  (floor)")
    print(f"bare YAML parse (safe, no marks):    {safe_s * 1000:9.1f} ms  (for reference)")
    print(f"validate and swap:                   {swap_s * 1000:9.1f} ms  ({ratio:.2f}x the parse)")
    print(
        f"decisions: {made} in {seconds:.3f} s = {made / seconds:,.0f}/s, {decision_us:.1f} us each"
    )
    figures = {
        "decision_us": round(decision_us, 2),
        "decisions_per_s": round(made / seconds),
        "validate_swap_s": round(swap_s, 4),
        "validate_swap_over_parse": round(ratio, 2),
    }
    targets = {
        "decision_us < 50": decision_us < 50,
        "validate_swap_over_parse < 3": ratio < 3,
    }
    line = {
        "bench": "routing",
        "figures": figures,
        "baseline": {"parse_s": round(parse_s, 4), "parse_safe_no_marks_s": round(safe_s, 4)},
        "targets": targets,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
