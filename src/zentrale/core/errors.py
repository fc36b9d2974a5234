"""Errors of users and their credentials."""

from __future__ import annotations

from zentrale.base.errors import NotFoundError


class TokenNotFoundError(NotFoundError):
    """No API token with this id belongs to the user."""

    code = "token-not-found"
