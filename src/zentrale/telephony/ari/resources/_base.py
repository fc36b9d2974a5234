"""Shared base of the resource helpers: the transport and typed decoding."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from zentrale.telephony.ari.rest import AriRest

M = TypeVar("M", bound=BaseModel)


class Resource:
    """A group of ARI endpoints sharing one transport."""

    def __init__(self, rest: AriRest) -> None:
        self._rest = rest


def as_model(model: type[M], data: Any) -> M:
    """Validate one JSON object into ``model``."""
    return model.model_validate(data)


def as_list(model: type[M], data: Any) -> list[M]:
    """Validate a JSON array into a list of ``model``."""
    return TypeAdapter(list[model]).validate_python(data)  # type: ignore[valid-type]
