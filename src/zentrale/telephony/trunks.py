"""SIP trunks: which trunk a call came in on, its DID, and how numbers go out through it.

Pure decisions on the `trunks:` settings, no I/O: `TrunkPlan.inbound` reads the endpoint and
dialled extension of an arriving channel into the DID in E.164 and the entry rules it goes to;
`TrunkPlan.outbound` says which endpoint to dial for a number, in the format the carrier wants,
with which caller ID (campaign > department > trunk). `Lines` counts the outbound channels in
use per trunk and refuses one over the trunk's limit (`TrunkFullError`, HTTP 503 `trunk-full`).
Without an outbound trunk the older `telephony.outbound_endpoint` is used as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberFormat

from zentrale.base.errors import InvalidRequestError, UnavailableError
from zentrale.config import phones
from zentrale.config.logging import mask_number
from zentrale.config.settings import NumberFormat, Settings, TrunkSettings

LEGACY = "outbound"
"""The name the single `telephony.outbound_endpoint` goes by when no trunk has `outbound`."""
_CHANNEL = re.compile(r"^PJSIP/(?P<endpoint>.+)-[0-9a-f]+$")


class TrunkFullError(UnavailableError):
    """Every outbound channel of the trunk is in use; try again when one is free."""

    code = "trunk-full"


class NotANumberError(InvalidRequestError):
    """A number to dial out through a trunk is no phone number."""

    code = "not-a-number"


def format_number(e164: str, fmt: NumberFormat, country: str, prefix: str = "") -> str:
    """Write E164 as the carrier wants it: e164, national, international or digits.

    `international` uses COUNTRY's international call prefix (00 in most of the world, 011
    from North America); `national` writes a number of another country internationally, as
    a national dialling plan has no other way to reach it.
    """
    number = phonenumbers.parse(e164, None)
    if fmt == "e164":
        text = e164
    elif fmt == "digits":
        text = e164.lstrip("+")
    elif fmt == "national" and phonenumbers.region_code_for_number(number) == country:
        text = _digits(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    else:
        text = _exit_code(country) + e164.lstrip("+")
    return prefix + text


def _exit_code(country: str) -> str:
    """Return COUNTRY's international call prefix (00; 011 in North America)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(country)
    if meta is None:
        return "00"
    preferred = meta.preferred_international_prefix
    if preferred and preferred.isdigit():
        return preferred
    plain = meta.international_prefix
    return plain if plain and plain.isdigit() else "00"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch == "+")


def caller_id(
    trunk: TrunkSettings, campaign: str | None = None, department: str | None = None
) -> str | None:
    """Return the caller ID to send: the campaign's, else the department's, else the trunk's."""
    out = trunk.outbound
    if out is None:
        return None
    if campaign is not None and campaign in out.campaign_caller_id:
        return out.campaign_caller_id[campaign]
    if department is not None and department in out.department_caller_id:
        return out.department_caller_id[department]
    return out.caller_id


@dataclass(frozen=True)
class Inbound:
    """An arriving call read through the trunks: its DID and the entry rules it may try."""

    trunk: str | None
    did: str
    """The dialled number: E.164 when a trunk's DID or readable as a number, else as dialled."""
    entries: tuple[str, ...] = ()
    """Names of the entry rules its calls try (empty: every rule)."""
    refused: bool = False
    """The trunk refuses DIDs it does not list and this is one."""


@dataclass(frozen=True)
class Outbound:
    """Where to ring a number: the trunk, the endpoint with the number in it, the caller ID."""

    trunk: str
    endpoint: str
    caller_id: str | None
    number: str
    """The number in E.164 (as written, through the old single setting)."""


@dataclass(frozen=True)
class _Trunk:
    name: str
    endpoint: str
    country: str
    settings: TrunkSettings
    dids: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class TrunkPlan:
    """The trunks of the settings, with their DIDs in E.164 (built once at start)."""

    trunks: tuple[_Trunk, ...]
    legacy_endpoint: str
    legacy_caller_id: str | None

    @classmethod
    def of(cls, settings: Settings) -> TrunkPlan:
        """Build the plan from SETTINGS (already validated: every DID is a number)."""
        region = settings.telephony.region
        trunks = []
        for name, trunk in settings.trunks.items():
            country = trunk.country or region
            dids = {_e164(did, country): _names(rules) for did, rules in trunk.inbound.dids.items()}
            trunks.append(_Trunk(name, trunk.endpoint or name, country, trunk, dids))
        tel = settings.telephony
        return cls(tuple(trunks), tel.outbound_endpoint, tel.outbound_caller_id or None)

    def inbound(self, channel_name: str, dialled: str) -> Inbound:
        """Read a call on CHANNEL_NAME (`PJSIP/carrier-0000001a`) to DIALLED."""
        trunk = self._of_channel(channel_name)
        if trunk is None:
            return Inbound(None, dialled)
        did = phones.parse_valid(dialled, trunk.country) if dialled else None
        if did is None or did not in trunk.dids:
            refused = bool(trunk.dids) and trunk.settings.inbound.unknown_dids == "refuse"
            return Inbound(trunk.name, did or dialled, refused=refused)
        return Inbound(trunk.name, did, trunk.dids[did])

    def outbound(
        self, number: str, campaign: str | None = None, department: str | None = None
    ) -> Outbound:
        """Return how to ring NUMBER; NotANumberError if a trunk cannot dial it."""
        trunk = next((t for t in self.trunks if t.settings.outbound is not None), None)
        if trunk is None or trunk.settings.outbound is None:
            endpoint = self.legacy_endpoint.format(number=number)
            return Outbound(LEGACY, endpoint, self.legacy_caller_id, number)
        out = trunk.settings.outbound
        e164 = phones.parse_valid(number, trunk.country)
        if e164 is None:
            raise NotANumberError(f"'{mask_number(number)}' is not a phone number to dial out")
        dialled = format_number(e164, out.format, trunk.country, out.prefix)
        template = out.dial or f"PJSIP/{{number}}@{trunk.endpoint}"
        return Outbound(
            trunk.name,
            template.format(number=dialled),
            caller_id(trunk.settings, campaign, department),
            e164,
        )

    def unknown_entries(self, known: set[str]) -> list[str]:
        """Return 'trunk DID -> name' for each entry rule a DID names that KNOWN lacks."""
        return [
            f"{trunk.name} {did} -> {name}"
            for trunk in self.trunks
            for did, names in trunk.dids.items()
            for name in names
            if name not in known
        ]

    def outbound_trunk(self) -> str:
        """Return the name of the trunk outbound calls go through."""
        trunk = next((t for t in self.trunks if t.settings.outbound is not None), None)
        return LEGACY if trunk is None else trunk.name

    def limit(self, trunk: str) -> int | None:
        """Return TRUNK's channel limit (None: no limit)."""
        found = next((t for t in self.trunks if t.name == trunk), None)
        if found is None or found.settings.outbound is None:
            return None
        return found.settings.outbound.max_channels

    def _of_channel(self, channel_name: str) -> _Trunk | None:
        match = _CHANNEL.match(channel_name)
        if match is None:
            return None
        endpoint = match["endpoint"]
        return next((t for t in self.trunks if t.endpoint == endpoint), None)


def _e164(did: str, country: str) -> str:
    parsed = phones.parse_valid(did, country)
    if parsed is None:  # settings validation refuses these; keep the text as a last resort
        return did
    return parsed


def _names(rules: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if rules is None:
        return ()
    return (rules,) if isinstance(rules, str) else tuple(rules)


class Line:
    """One outbound channel of a trunk held by a call; `release` gives it back (once)."""

    def __init__(self, lines: Lines, trunk: str) -> None:
        self._lines, self.trunk, self._held = lines, trunk, True

    def release(self) -> None:
        """Give the channel back (a second call does nothing)."""
        if self._held:
            self._held = False
            self._lines.busy[self.trunk] -= 1


@dataclass
class Lines:
    """Outbound channels in use per trunk on this node, against each trunk's limit."""

    plan: TrunkPlan
    busy: dict[str, int] = field(default_factory=dict)

    def take(self, trunk: str) -> Line:
        """Hold one of TRUNK's channels; TrunkFullError when none is free."""
        limit = self.plan.limit(trunk)
        used = self.busy.get(trunk, 0)
        if limit is not None and used >= limit:
            raise TrunkFullError(
                f"trunk '{trunk}' has all its {limit} outbound channels in use; try again later"
            )
        self.busy[trunk] = used + 1
        return Line(self, trunk)

    def free(self, trunk: str) -> int | None:
        """Return how many more channels TRUNK takes now (None: no limit)."""
        limit = self.plan.limit(trunk)
        return None if limit is None else max(0, limit - self.busy.get(trunk, 0))
