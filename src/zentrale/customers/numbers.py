"""Phone numbers of customers, in the one form the call flows see caller numbers in.

Trunks hand Asterisk international numbers (`+905551112233`); agents and import files write
them with spaces, dashes, brackets or a leading `00`. `normalise` turns all of those into the
`+` form, so a stored number is the caller ID it has to match, and refuses national numbers
(`0555 ...`): without a country they could never match a caller.
"""

from __future__ import annotations

import re

from zentrale.base.errors import InvalidRequestError

_FORMATTING = re.compile(r"[\s\-./()]")
_INTERNATIONAL = re.compile(r"\+[1-9][0-9]{5,14}")


class InvalidNumberError(InvalidRequestError, ValueError):
    """A phone number that is not an international (E.164) number."""

    code = "invalid-number"


def normalise(number: str) -> str:
    """Return NUMBER as `+<country><digits>`; raise InvalidNumberError if it is not one."""
    text = _FORMATTING.sub("", number.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _INTERNATIONAL.fullmatch(text):
        raise InvalidNumberError(
            f"'{number}' is not an international phone number; write it like +90 555 111 22 33"
        )
    return text


def caller_key(number: str | None) -> str | None:
    """Return the form a caller ID is looked up by, or None when it cannot be a customer's."""
    if not number:
        return None
    try:
        return normalise(number)
    except InvalidNumberError:
        return None
