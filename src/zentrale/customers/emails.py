"""Customers' e-mail addresses: checked and normalised by `email-validator`, offline.

`email-validator` is the library pydantic's `EmailStr` uses: it checks the syntax (RFC 5322
and the internationalised forms of RFC 6531), lower-cases and IDNA-encodes the domain and
normalises Unicode. Deliverability (DNS) checks stay off: a lookup per keystroke of an agent
would put the network in the customer store, and a domain without mail servers today may have
them tomorrow. The stored form is the library's normalised one, so one address has one form.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from zentrale.base.errors import InvalidRequestError

LIMIT = 254
"""The longest address SMTP carries (RFC 5321 path limit less the brackets)."""


class InvalidEmailError(InvalidRequestError, ValueError):
    """An e-mail address that is not one; the message says why (never the whole address)."""

    # The customer store answers it as `invalid-customer` naming the field `email`.

    code = "invalid-email"


def normalise_email(text: str) -> str:
    """Return TEXT as a normalised e-mail address; raise InvalidEmailError saying why not."""
    if len(text) > LIMIT:
        raise InvalidEmailError(f"it is longer than {LIMIT} characters")
    try:
        found = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmailError(_reason(str(exc))) from None
    return found.normalized


def _reason(message: str) -> str:
    """The library's reason, as a clause to follow 'email is not a valid address: '."""
    reason = message.removeprefix("The email address is not valid. ").rstrip(".")
    return reason[:1].lower() + reason[1:]
