"""What every call flow needs, bundled once by the daemon's wiring and passed to each call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from zentrale.base.clock import utcnow
from zentrale.config.settings import Settings
from zentrale.customers.lookup import nobody
from zentrale.telephony.ari import AriClient
from zentrale.telephony.journal import Journal
from zentrale.telephony.queueing import Queues
from zentrale.telephony.refer import Consultations
from zentrale.telephony.screenpop import ScreenPops
from zentrale.telephony.transfer import TransferNews
from zentrale.telephony.trunks import Lines, TrunkPlan


def _as_is(sound: str) -> str:
    return sound


@dataclass(frozen=True)
class Services:
    """The long-lived parts a call flow uses: ARI, the journal, the queues, settings."""

    ari: AriClient
    journal: Journal
    queues: Queues
    settings: Settings
    clock: Callable[[], dt.datetime] = utcnow
    """The wall clock routing decisions are made at (a fake one in tests)."""
    media: Callable[[str], str] = field(default=_as_is)
    """Turns a prompt's sound reference into what Asterisk plays (e.g. an HTTP URL)."""
    customers: Callable[[str | None], Awaitable[Mapping[str, str]]] = field(default=nobody)
    """The caller's customer record as routing facts; never raises, empty when unknown."""
    pops: ScreenPops = field(default_factory=ScreenPops)
    """Where the flows offer screen pops to the agents' workspaces."""
    transfers: TransferNews = field(default_factory=TransferNews)
    """Where the flows say that an attended transfer moved (the workspaces' streams push it)."""
    consultations: Consultations = field(default_factory=Consultations)
    """Calls whose agent a phone's attended transfer can take (see `refer`)."""
    lines: Lines | None = None
    """The trunks and their outbound channels in use (made from the settings if not given)."""

    def __post_init__(self) -> None:
        if self.lines is None:
            object.__setattr__(self, "lines", Lines(TrunkPlan.of(self.settings)))

    @property
    def trunks(self) -> Lines:
        """Return the trunks and their outbound channels in use."""
        assert self.lines is not None  # set in __post_init__
        return self.lines
