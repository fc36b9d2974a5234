"""Asterisk's own sounds, as ARI lists them (`GET /sounds`), flattened to playable names.

zentrale's ARI client has no sounds resource, so this asks with httpx directly. A sound
`vm-goodbye` installed for language `de` can be played as `sound:vm-goodbye` (on a German
channel) or as `sound:de/vm-goodbye` (on any channel): both names are in the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr


def flatten_sounds(items: Iterable[Mapping[str, Any]]) -> set[str]:
    """Turn ARI sound items (`id`, `formats: [{language, format}]`) into playable names."""
    names: set[str] = set()
    for item in items:
        ident = str(item["id"])
        names.add(ident)
        for fmt in item.get("formats") or ():
            if fmt.get("language"):
                names.add(f"{fmt['language']}/{ident}")
    return names


async def fetch_asterisk_sounds(
    base_url: str,
    username: str,
    password: SecretStr,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> set[str]:
    """Ask ARI at BASE_URL (`http://host:port/ari`) for its sounds; raise httpx errors."""
    auth = (username, password.get_secret_value())
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/"), auth=auth, timeout=30.0, transport=transport
    ) as client:
        reply = await client.get("/sounds")
        reply.raise_for_status()
        items = reply.json()
    if not isinstance(items, list):
        raise ValueError("GET /sounds did not return a list")
    return flatten_sounds(items)
