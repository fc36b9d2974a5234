"""Customers' e-mail addresses: the normal form, the refusals naming why, never a lookup."""

from __future__ import annotations

import pytest

from zentrale.customers.emails import InvalidEmailError, normalise_email
from zentrale.customers.errors import InvalidCustomerError
from zentrale.customers.store import check_field


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Jonas.Weber@Example.COM", "Jonas.Weber@example.com"),  # the domain is lower-cased
        ("ayse@XN--BCHER-KVA.de", "ayse@bücher.de"),  # IDNA shown as Unicode
        ("müller@bücher.de", "müller@bücher.de"),
        # No DNS: a domain nobody runs mail on is still an address (deliverability is off).
        (
            "someone@no-mail-here-zentrale.invalid-tld-xyz",
            "someone@no-mail-here-zentrale.invalid-tld-xyz",
        ),
    ],
)
def test_addresses_are_stored_in_one_form(written: str, stored: str) -> None:
    assert normalise_email(written) == stored


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("ayse at example.com", "must have an @-sign"),
        ("a@b", "should have a period"),
        ("a b@example.com", "invalid characters before the @-sign"),
        ("x@example.test", "special-use or reserved"),
        ("x" * 250 + "@example.com", "longer than 254"),
    ],
)
def test_bad_addresses_are_refused_saying_why(written: str, why: str) -> None:
    with pytest.raises(InvalidEmailError, match=why):
        normalise_email(written)


def test_the_store_names_the_field_and_empties_blank_values() -> None:
    with pytest.raises(
        InvalidCustomerError,
        match=r"^email is not a valid e-mail address: there must be something after",
    ):
        check_field("email", "jonas@")
    with pytest.raises(InvalidCustomerError, match=r"^email is longer than 254"):
        check_field("email", "j" * 250 + "@example.com")
    assert check_field("email", "  ") is None
    assert check_field("email", " J@Example.org ") == "J@example.org"
