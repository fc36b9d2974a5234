"""Pushing PJSIP objects to Asterisk through ARI's dynamic configuration (shared by the
agents' phones and the trunks zentrale makes).

`put_objects` creates or replaces each (type, id, fields) with
`PUT /asterisk/config/dynamic/res_pjsip/{type}/{id}`; `delete_objects` removes those that
exist. Asterisk keeps them in memory (sorcery.conf), so no restart or reload is needed, and
they are pushed again at every connect. Fields may hold passwords: ARI's errors are reduced
to their kind and status (`safe_error`) before they are logged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from zentrale.telephony.ari import AriNotFoundError
from zentrale.telephony.ari.resources.asterisk import AsteriskApi

CONFIG_CLASS = "res_pjsip"

PjsipObject = tuple[str, str, Mapping[str, str]]
"""A sorcery object: its type (`endpoint`), its id, its fields."""


async def put_objects(asterisk: AsteriskApi, objects: Iterable[PjsipObject]) -> None:
    """Create or replace OBJECTS in Asterisk, in order (an auth before what names it)."""
    for object_type, object_id, fields in objects:
        await asterisk.put_object(CONFIG_CLASS, object_type, object_id, fields)


async def delete_objects(asterisk: AsteriskApi, objects: Iterable[tuple[str, str]]) -> None:
    """Delete the (type, id) OBJECTS that exist, in order (what names an auth before it)."""
    for object_type, object_id in objects:
        with contextlib.suppress(AriNotFoundError):
            await asterisk.delete_object(CONFIG_CLASS, object_type, object_id)


def safe_error(exc: Exception) -> str:
    """Return EXC's kind and status only: ARI's answer to a PUT may echo the fields."""
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__}" + (f" {status}" if status is not None else "")
