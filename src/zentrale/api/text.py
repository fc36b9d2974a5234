"""Free text from clients: no NUL characters, which no text column (nor a person) can use.

PostgreSQL refuses a NUL inside text, so letting one through turns a client's mistake into a
500. API fields and query parameters carry the pattern (it also shows in the OpenAPI
document); web forms, read by hand, go through `form_text`.
"""

from __future__ import annotations

from typing import Any

from zentrale.base.errors import InvalidRequestError
from zentrale.base.text import NO_NUL

__all__ = ["NO_NUL", "form_text"]


def form_text(form: Any, name: str, limit: int) -> str:
    """Return form field NAME cut to LIMIT characters; refuse one holding a NUL character."""
    value = str(form.get(name, ""))
    if "\x00" in value:
        raise InvalidRequestError(f"{name} must not contain NUL characters")
    return value[:limit]
