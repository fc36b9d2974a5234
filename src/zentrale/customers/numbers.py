"""Phone numbers of customers, in the one form the call flows see caller numbers in.

Trunks hand Asterisk international numbers (`+905551112233`); agents and import files write
them with spaces, dashes, brackets or a leading `00`. `normalise` turns all of those into the
`+` form with libphonenumber (`zentrale.config.phones`), so a stored number is the caller ID it
has to match, and refuses national numbers (`0555 ...`): a customer's number is stored as its
caller ID arrives, and an agent must say which country a number is of.
"""

from __future__ import annotations

from zentrale.base.errors import InvalidRequestError
from zentrale.config import phones


class InvalidNumberError(InvalidRequestError, ValueError):
    """A phone number that is not an international (E.164) number."""

    code = "invalid-number"


def normalise(number: str) -> str:
    """Return NUMBER as `+<country><digits>`; raise InvalidNumberError if it is not one."""
    text = number.strip()
    if text.startswith("00"):
        text = "+" + text[2:].lstrip()
    found = phones.parse(text) if text.startswith("+") else None
    if found is None:
        raise InvalidNumberError(
            f"'{number}' is not an international phone number; write it like +90 555 111 22 33"
        )
    return found


def caller_key(number: str | None) -> str | None:
    """Return the form a caller ID is looked up by, or None when it cannot be a customer's."""
    if not number:
        return None
    try:
        return normalise(number)
    except InvalidNumberError:
        return None
