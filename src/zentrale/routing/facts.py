"""The facts of a call the engine decides on, supplied by the call-flow code.

The engine has no clock and does no look-ups: the time, the dialled number, the caller and
any stored customer record all arrive here, which keeps routing decisions reproducible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["inbound", "outbound"]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What is known about a call when it arrives."""

    at: dt.datetime
    """Aware instant the call arrived; schedules are evaluated at this time."""
    dialled: str = ""
    """The number the caller dialled (DID)."""
    caller: str | None = None
    """Caller ID, or None when withheld."""
    language: str | None = None
    """A language already known for this caller, e.g. from the customer database."""
    customer: Mapping[str, str] = field(default_factory=dict)
    """The stored customer record, if any (fields entry rules may match on)."""
    direction: Direction = "inbound"
    entries: tuple[str, ...] = ()
    """Names of the entry rules the call's DID goes to (a trunk's `dids:`); empty: all."""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("CallFacts.at must be timezone-aware")

    @property
    def known_language(self) -> str | None:
        """Return the language given directly or stored in the customer record."""
        return self.language or self.customer.get("language")
