"""`Rules`: one validated, immutable version of a routing file, ready for the engine.

A call keeps a reference to the `Rules` it started with, so a reload never changes the rules
under a call in progress. Everything the engine needs repeatedly (time zones, the entry-rule
index) is prepared here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from zentrale.routing.entry import EntryIndex
from zentrale.routing.errors import Issue
from zentrale.routing.schema import RoutingDocument


@dataclass(frozen=True, eq=False, slots=True)
class Rules:
    """A validated routing document with its identity and precomputed indexes."""

    document: RoutingDocument
    source: str
    text: str
    version: str
    """Content hash (first 12 hex digits of SHA-256); equal files have equal versions."""
    warnings: tuple[Issue, ...]
    zone: ZoneInfo
    zones: Mapping[str, ZoneInfo]
    entry: EntryIndex

    def zone_of(self, schedule: str) -> ZoneInfo:
        """Return the time zone of the named schedule (the document's unless it sets one)."""
        return self.zones.get(schedule, self.zone)

    def sound(self, prompt: str, language: str) -> str:
        """Resolve a prompt name to the sound reference for `language`, with fallbacks."""
        return self.spoken(prompt, language)[1]

    def spoken(self, prompt: str, language: str) -> tuple[str, str]:
        """Return (language the caller hears, sound reference) of a prompt, with fallbacks."""
        sounds = self.document.prompts[prompt]
        languages = self.document.languages
        for code in (language, "*", languages.fallback, languages.default):
            if code is not None and code in sounds:
                return (language if code == "*" else code), sounds[code]
        code, sound = next(iter(sounds.items()))
        return (language if code == "*" else code), sound
