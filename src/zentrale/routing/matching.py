"""Which entry rule a call matches: the first of its candidates whose conditions all hold.

The conditions are the caller pattern, the known language, fields of the customer record, the
rule's hours and a schedule's state; each one that holds adds a reason a supervisor can read.
"""

from __future__ import annotations

from zentrale.routing.entry import CompiledRule
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.schedule import in_hours, opening


def first_match(rules: Rules, facts: CallFacts) -> tuple[CompiledRule, str] | None:
    """Return the first rule matching `facts` and why it matched."""
    for compiled in rules.entry.candidates(facts.dialled, facts.entries):
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
