"""Entry rules: the ordered rules matched before the first menu; the first match wins.

Rules are compiled once per document: caller patterns become one regular expression each and
rules are indexed by dialled number, so a call only tries the rules that could apply to it.
Matching a call against them is `zentrale.routing.matching`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from zentrale.routing.schema import EntryRule


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
    every: tuple[CompiledRule, ...] = ()

    def candidates(self, dialled: str, names: tuple[str, ...] = ()) -> tuple[CompiledRule, ...]:
        """Return, in order, the rules that may match a call to `dialled`.

        NAMES (a trunk's DID given to named rules) narrows them to those rules, whatever
        their own `did:` says.
        """
        if names:
            return tuple(c for c in self.every if c.rule.name in names)
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
    return EntryIndex(by_did, tuple(c for c in compiled if not c.rule.match.did), tuple(compiled))
