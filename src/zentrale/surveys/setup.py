"""Turning a supervisor's campaign request (CLI or API) into a checked `NewCampaign`.

Both edges call `prepare`: the survey must exist in the live routing rules, the calling hours,
days, durations and limits must make sense, and the CSV must yield numbers. Every problem is a
`CampaignError` (or `NumbersError` naming the CSV line and column) with a message to show.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from zentrale.routing.durations import parse_duration
from zentrale.routing.rules import Rules
from zentrale.surveys.numbers import Listed, read_numbers
from zentrale.surveys.schedule import Window
from zentrale.surveys.store import CampaignError, NewCampaign

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_CONCURRENCY = 50
MAX_RETRIES = 10


@dataclass(frozen=True, slots=True)
class CampaignRequest:
    """A campaign as a supervisor asks for it, values still as typed."""

    name: str
    survey: str
    numbers_csv: str
    numbers_source: str = "numbers.csv"
    window_from: str = "09:00"
    window_to: str = "18:00"
    days: str = "mon-fri"
    concurrency: int = 2
    retries: int = 2
    retry_after: str = "30m"
    ring: str = "30s"
    language: str | None = None
    created_by: str | None = None


def prepare(request: CampaignRequest, rules: Rules) -> tuple[NewCampaign, list[Listed]]:
    """Check REQUEST against RULES; return the campaign and its numbers."""
    if not NAME.match(request.name):
        raise CampaignError(f"'{request.name}' is not a campaign name; use letters, digits, _.-")
    if request.survey not in rules.document.surveys:
        known = ", ".join(sorted(rules.document.surveys)) or "none"
        raise CampaignError(f"no survey '{request.survey}' in the routing rules (known: {known})")
    languages = rules.document.languages.available
    if request.language is not None and request.language not in languages:
        raise CampaignError(f"language '{request.language}' is not one of {', '.join(languages)}")
    new = NewCampaign(
        name=request.name,
        survey=request.survey,
        window=_window(request),
        concurrency=_limit("concurrency", request.concurrency, 1, MAX_CONCURRENCY),
        retries=_limit("retries", request.retries, 0, MAX_RETRIES),
        retry_after=_duration("retry-after", request.retry_after, 60),
        ring=_duration("ring", request.ring, 5),
        language=request.language,
        created_by=request.created_by,
    )
    return new, read_numbers(request.numbers_csv, request.numbers_source)


def _window(request: CampaignRequest) -> Window:
    try:
        return Window.parse(request.window_from, request.window_to, request.days)
    except ValueError as exc:
        raise CampaignError(f"calling hours: {exc}") from None


def _limit(what: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise CampaignError(f"{what} must be between {low} and {high}, not {value}")
    return value


def _duration(what: str, text: str, least: float) -> dt.timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise CampaignError(f"{what}: {exc}") from None
    if seconds < least:
        raise CampaignError(f"{what} must be at least {least:g}s, not {text}")
    return dt.timedelta(seconds=seconds)
