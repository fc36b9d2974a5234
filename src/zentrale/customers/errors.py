"""Errors of the customer records, each with a stable `code` and the HTTP status it means."""

from __future__ import annotations

from zentrale.customers.numbers import InvalidNumberError


class CustomerError(Exception):
    """Base of the errors the customer store raises on purpose."""

    status = 400
    code = "customer-error"


class CustomerNotFound(CustomerError):
    """No customer has this id (or none the user may see)."""

    status = 404
    code = "customer-not-found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r}")


class NumberTaken(CustomerError):
    """The phone number already belongs to another customer."""

    status = 409
    code = "number-taken"

    def __init__(self, number: str, owner_id: str | None) -> None:
        owner = f"customer {owner_id}" if owner_id else "another customer"
        super().__init__(
            f"the number {number} already belongs to {owner}; "
            "remove it there first (a number belongs to one customer)"
        )
        self.number, self.owner_id = number, owner_id


class CustomerNumberTaken(CustomerError):
    """The customer number (the company's account number) is used by another customer."""

    status = 409
    code = "customer-number-taken"

    def __init__(self, customer_number: str) -> None:
        super().__init__(f"customer number {customer_number!r} belongs to another customer")


class InvalidCustomer(CustomerError):
    """A field of a customer record or note is not acceptable."""

    status = 422
    code = "invalid-customer"


__all__ = [
    "CustomerError",
    "CustomerNotFound",
    "CustomerNumberTaken",
    "InvalidCustomer",
    "InvalidNumberError",
    "NumberTaken",
]
