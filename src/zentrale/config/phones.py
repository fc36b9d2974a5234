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

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberFormat, PhoneNumberMatcher

DEFAULT_REGION = "TR"
_region = DEFAULT_REGION
_GLUE = frozenset("._-")


def configure_region(region: str) -> None:
    """Set the region national numbers are read in (ISO 3166 code, e.g. TR)."""
    global _region
    if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"'{region}' is not a region phone numbers are known for")
    _region = region.upper()


def region() -> str:
    """Return the region national numbers are read in."""
    return _region


def is_region(code: str) -> bool:
    """Tell whether CODE is a region libphonenumber knows (for settings validation)."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def parse(text: str, in_region: str | None = None) -> str | None:
    """Return TEXT as an E.164 number (`+905551112233`) if it can be one, else None.

    A `+` or `00` prefix makes it international; without one it is read as a national number
    of IN_REGION (default: the configured region), then as international without the plus.
    """
    home = in_region or _region
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
    found = []
    for match in PhoneNumberMatcher(text, _region, leniency=Leniency.POSSIBLE):
        if _glued(text, match.start, match.end):
            continue
        found.append(
            (
                match.start,
                match.end,
                phonenumbers.format_number(match.number, PhoneNumberFormat.E164),
            )
        )
    return found


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
