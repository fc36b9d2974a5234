"""Entry rules: the ordered rules matched before the first menu; the first match wins.

Rules are compiled once per document: caller patterns become one regular expression each and
rules are indexed by dialled number, so a call only tries the rules that could apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zentrale.routing.schedule import in_hours, opening
from zentrale.routing.schema import EntryRule

if TYPE_CHECKING:
    from zentrale.routing.facts import CallFacts
    from zentrale.routing.rules import Rules


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """An entry rule with its position and compiled caller pattern."""

    index: int
    rule: EntryRule
    caller: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class EntryIndex:
    """Entry rules grouped by dialled number, each group in document order."""

    by_did: dict[str, tuple[CompiledRule, ...]]
    any_did: tuple[CompiledRule, ...]

    def candidates(self, dialled: str) -> tuple[CompiledRule, ...]:
        """Return, in order, the rules that may match a call to `dialled`."""
        return self.by_did.get(dialled, self.any_did)


def caller_pattern(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """Compile glob-style caller patterns (`+90532*`, `?` for one digit) into one regex."""
    parts = [re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns]
    return re.compile("(?:" + "|".join(parts) + r")\Z") if parts else None


def build_index(rules: tuple[EntryRule, ...]) -> EntryIndex:
    """Compile and index `rules`."""
    compiled = [CompiledRule(i, r, caller_pattern(r.match.caller)) for i, r in enumerate(rules)]
    dids = {did for rule in rules for did in rule.match.did}
    by_did = {
        did: tuple(c for c in compiled if not c.rule.match.did or did in c.rule.match.did)
        for did in dids
    }
    return EntryIndex(by_did, tuple(c for c in compiled if not c.rule.match.did))


def first_match(rules: Rules, facts: CallFacts) -> tuple[CompiledRule, str] | None:
    """Return the first rule matching `facts` and why it matched."""
    for compiled in rules.entry.candidates(facts.dialled):
        why = _matches(rules, compiled, facts)
        if why is not None:
            return compiled, why
    return None


def _matches(rules: Rules, compiled: CompiledRule, facts: CallFacts) -> str | None:
    match = compiled.rule.match
    reasons: list[str] = []
    if match.did:
        reasons.append(f"dialled {facts.dialled}")
    if compiled.caller is not None:
        if facts.caller is None or not compiled.caller.match(facts.caller):
            return None
        reasons.append("caller ID matches " + " or ".join(match.caller))
    if match.language:
        if facts.known_language not in match.language:
            return None
        reasons.append(f"known language {facts.known_language}")
    for field, wanted in match.customer.items():
        if facts.customer.get(field) != wanted:
            return None
        reasons.append(f"customer {field} is {wanted}")
    return _time_conditions(rules, compiled, facts, reasons)


def _time_conditions(
    rules: Rules, compiled: CompiledRule, facts: CallFacts, reasons: list[str]
) -> str | None:
    match = compiled.rule.match
    if match.hours:
        if not in_hours(match.hours, rules.zone, facts.at):
            return None
        reasons.append("within the rule's hours")
    if match.schedule is not None:
        state = opening(
            rules.document.schedules[match.schedule], rules.zone_of(match.schedule), facts.at
        )
        if state.is_open != match.open:
            return None
        reasons.append(f"schedule {match.schedule} {state.reason}")
    return "; ".join(reasons) or "matches every call"
