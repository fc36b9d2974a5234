"""Phone numbers in any written form: found, parsed and normalised by libphonenumber.

People write numbers as `+90 555 111 22 33`, `0090 555 1112233`, `0555-111-22-33` (national,
needing a country) or `905551112233` (international without the plus). The `phonenumbers`
package (Google's libphonenumber) knows every country's plan, so it finds and parses all of
them; a national number is read in the default region, the call centre's country (the setting
`telephony.region`, `TR` unless set). `configure_region` sets it once at start-up, like the
logging set-up, because masking runs in log processors and audit writes that take no settings.

Masking errs on the side of hiding: a digit run that could be a number is masked, while digits
glued to letters or dots (ids, hashes, Asterisk's `1795969372.1`) are left alone.
"""

from __future__ import annotations

import functools

import phonenumbers
from phonenumbers import (
    Leniency,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberMatcher,
)

DEFAULT_REGION = "TR"
_GLUE = frozenset("._-")
FOUND_CACHE = 4096
"""Texts whose numbers `find` remembers (log lines repeat a call's ids many times)."""


def _shortest(region: str) -> int:
    """Return the fewest digits a number of REGION has (local-only forms included)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    desc = metadata.general_desc if metadata is not None else None
    if desc is None:
        return 1
    lengths = [n for n in (*desc.possible_length, *(desc.possible_length_local_only or ())) if n]
    return min(lengths, default=1)


def _country_digits(region: str) -> int:
    metadata = PhoneMetadata.metadata_for_region(region)
    return len(str(metadata.country_code)) if metadata is not None else 1


_SHORTEST_INTERNATIONAL = min(
    _country_digits(r) + _shortest(r) for r in phonenumbers.SUPPORTED_REGIONS
)
"""The fewest digits of a number written with its country code (4: `+49 12`, local-only)."""


class _Home:
    """The configured region and the fewest digits a number written in it can have."""

    def __init__(self, region: str) -> None:
        self.region = region
        # Without a `+`, a number is national (its region's shortest) or starts with an
        # international prefix of two digits or more; one digit is allowed here to spare.
        self.fewest = min(_shortest(region), _SHORTEST_INTERNATIONAL + 1)
        self.fewest_after_plus = min(self.fewest, _SHORTEST_INTERNATIONAL)


_home = _Home(DEFAULT_REGION)


def configure_region(region: str) -> None:
    """Set the region national numbers are read in (ISO 3166 code, e.g. TR)."""
    global _home
    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"'{region}' is not a region phone numbers are known for")
    _home = _Home(region.upper())
    _found.cache_clear()


def region() -> str:
    """Return the region national numbers are read in."""
    return _home.region


def is_region(code: str) -> bool:
    """Tell whether CODE is a region libphonenumber knows (for settings validation)."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def parse(text: str, in_region: str | None = None) -> str | None:
    """Return TEXT as an E.164 number (`+905551112233`) if it can be one, else None.

    A `+` or `00` prefix makes it international; without one it is read as a national number
    of IN_REGION (default: the configured region), then as international without the plus.
    """
    home = in_region or _home.region
    for attempt in (text, "+" + text.strip()):
        try:
            number = phonenumbers.parse(attempt, home)
        except NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None


def find(text: str) -> list[tuple[int, int, str]]:
    """Return (start, end, E.164) of every phone number written in TEXT."""
    if not may_hold_number(text):
        return []
    return list(_found(text, _home.region))


def may_hold_number(text: str) -> bool:
    """Tell whether TEXT has a run of digits long enough to be a phone number in any form.

    libphonenumber's matcher finds only digits with punctuation between them, so letters end
    a run; but `x` is punctuation to it (extensions), and three of them read as keypad
    digits (9), so here an `x` counts as a digit. A text whose runs are all shorter than
    the shortest number (ids, hashes, times: most of what is logged) cannot hold one, and the
    matcher, which costs far more than this look, is spared. What passes is the matcher's.
    """
    fewest = _home.fewest_after_plus if "+" in text else _home.fewest
    run = 0
    for char in text:
        if char.isdigit() or char in "xX":
            run += 1
            if run >= fewest:
                return True
        elif char.isalpha():
            run = 0
    return False


@functools.lru_cache(maxsize=FOUND_CACHE)
def _found(text: str, region: str) -> tuple[tuple[int, int, str], ...]:
    found = []
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
        if _glued(text, match.start, match.end):
            continue
        found.append(
            (
                match.start,
                match.end,
                phonenumbers.format_number(match.number, PhoneNumberFormat.E164),
            )
        )
    return tuple(found)


def _glued(text: str, start: int, end: int) -> bool:
    # Digits that are part of a longer word (an id, a hash, a channel name) are not a number.
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before == "_" or after.isalnum() or after == "_":
        return True
    if before in _GLUE and start > 1 and text[start - 2].isalnum():
        return True
    return after in _GLUE and end + 1 < len(text) and text[end + 1].isalnum()


_WRITTEN = frozenset("0123456789+() ./-")


def parse_valid(text: str, in_region: str) -> str | None:
    """Return TEXT as E.164 if it is written as a number only and is a valid one, else None.

    Stricter than `parse` (which reads numbers out of any text and takes merely possible ones):
    for numbers an operator configures or zentrale dials out (trunk DIDs, click-to-call).
    """
    if not text.strip() or not set(text) <= _WRITTEN:
        return None
    try:
        number = phonenumbers.parse(text, in_region.upper())
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
