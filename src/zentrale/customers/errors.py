"""Errors of the customer records, each with a stable `code` and a kind the edges map."""

from __future__ import annotations

from zentrale.base.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ZentraleError,
)
from zentrale.customers.numbers import InvalidNumberError


class CustomerError(ZentraleError):
    """Base of the errors the customer store raises on purpose."""

    code = "customer-error"


class CustomerNotFoundError(NotFoundError, CustomerError):
    """No customer has this id (or none the user may see)."""

    code = "customer-not-found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer {customer_id!r}")


class NumberTakenError(ConflictError, CustomerError):
    """The phone number already belongs to another customer."""

    code = "number-taken"

    def __init__(self, number: str, owner_id: str | None) -> None:
        owner = f"customer {owner_id}" if owner_id else "another customer"
        super().__init__(
            f"the number {number} already belongs to {owner}; "
            "remove it there first (a number belongs to one customer)"
        )
        self.number, self.owner_id = number, owner_id


class CustomerNumberTakenError(ConflictError, CustomerError):
    """The customer number (the company's account number) is used by another customer."""

    code = "customer-number-taken"

    def __init__(self, customer_number: str) -> None:
        super().__init__(f"customer number {customer_number!r} belongs to another customer")


class InvalidCustomerError(InvalidRequestError, CustomerError):
    """A field of a customer record or note is not acceptable."""

    code = "invalid-customer"


class WrapUpDoneError(ConflictError, CustomerError):
    """The call was wrapped up already (a wrap-up is written once)."""

    code = "wrapup-done"


class UnknownDispositionError(InvalidRequestError, CustomerError):
    """The disposition code is not one of the call's department (routing rules)."""

    code = "unknown-disposition"


class NotYourCallError(ForbiddenError, CustomerError):
    """Only the agent who took the call wraps it up."""

    code = "not-your-call"


class InvalidCallbackError(InvalidRequestError, CustomerError):
    """A callback's time is in the past or outside the calling hours."""

    code = "invalid-callback"


class CallbackNotFoundError(NotFoundError, CustomerError):
    """No callback with this id (or none of this agent) can be changed."""

    code = "callback-not-found"


__all__ = [
    "CallbackNotFoundError",
    "CustomerError",
    "CustomerNotFoundError",
    "CustomerNumberTakenError",
    "InvalidCallbackError",
    "InvalidCustomerError",
    "InvalidNumberError",
    "NotYourCallError",
    "NumberTakenError",
    "UnknownDispositionError",
    "WrapUpDoneError",
]
