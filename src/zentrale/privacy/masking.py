"""Masking a data subject's phone numbers inside stored values (call rows, event details).

Numbers are masked the way the logs mask them (`+90555*****33`); a number is also found
without its leading `+`, since dial strings and search prefixes often drop it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.models import Call, CallEvent
from zentrale.config.logging import mask_number


def is_masked(number: str | None) -> bool:
    """Tell whether NUMBER is absent or already masked."""
    return number is None or "*" in number


def spellings(numbers: Iterable[str]) -> list[tuple[str, str]]:
    """Return (spelling, masked) pairs for NUMBERS, with and without `+`, longest first."""
    pairs: dict[str, str] = {}
    for number in numbers:
        if not number or is_masked(number):
            continue
        pairs[number] = mask_number(number)
        bare = number.removeprefix("+")
        if bare != number and len(bare) >= 6:
            pairs.setdefault(bare, mask_number(bare))
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def mask_in(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """Return VALUE (JSON-like) with every spelling of the numbers replaced by its mask."""
    if isinstance(value, str):
        for spelling, masked in pairs:
            value = value.replace(spelling, masked)
        return value
    if isinstance(value, dict):
        return {key: mask_in(item, pairs) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_in(item, pairs) for item in value]
    return value


def mask_field(value: str | None) -> str | None:
    """Return a number column's value masked (None and masked values unchanged)."""
    return value if is_masked(value) else mask_number(value or "")


async def mask_call(session: AsyncSession, call: Call, numbers: Iterable[str]) -> None:
    """Mask NUMBERS in CALL's number columns and in every event detail of its timeline."""
    pairs = spellings(numbers)
    for column in ("caller_number", "dialled_number", "called_number"):
        value = getattr(call, column)
        if value is not None and not is_masked(value):
            setattr(call, column, mask_in(value, pairs) if pairs else mask_number(value))
    if not pairs:
        return
    events = await session.scalars(select(CallEvent).where(CallEvent.call_id == call.id))
    for event in events:
        masked = mask_in(event.detail, pairs)
        if masked != event.detail:
            event.detail = masked


def call_numbers(call: Call) -> list[str]:
    """Return the unmasked numbers on CALL."""
    numbers = (call.caller_number, call.dialled_number, call.called_number)
    return [number for number in numbers if number and not is_masked(number)]
