"""Errors of the call record."""

from __future__ import annotations

from zentrale.base.errors import NotFoundError


class CallNotFoundError(NotFoundError):
    """No call has this id."""

    code = "call-not-found"

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call with id {call_id!r}")
        self.call_id = call_id
