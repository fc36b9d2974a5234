"""``/recordings``: control live recordings; list, fetch (streamed) and delete stored ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import BinaryIO

from zentrale.telephony.ari.models import LiveRecording, StoredRecording
from zentrale.telephony.ari.resources._base import Resource, as_list, as_model
from zentrale.telephony.ari.rest import seg


class Recordings(Resource):
    """Live and stored recording operations."""

    async def live(self, name: str) -> LiveRecording:
        """Fetch a live recording's state."""
        data = await self._rest.request("GET", f"recordings/live/{seg(name)}")
        return as_model(LiveRecording, data)

    async def stop(self, name: str) -> None:
        """Stop and store a live recording."""
        await self._live_action(name, "stop")

    async def pause(self, name: str) -> None:
        """Pause a live recording (e.g. while card details are read out)."""
        await self._live_action(name, "pause")

    async def unpause(self, name: str) -> None:
        """Resume a paused live recording."""
        await self._rest.request("DELETE", f"recordings/live/{seg(name)}/pause")

    async def mute(self, name: str) -> None:
        """Mute a live recording (silence is written)."""
        await self._live_action(name, "mute")

    async def unmute(self, name: str) -> None:
        """Unmute a live recording."""
        await self._rest.request("DELETE", f"recordings/live/{seg(name)}/mute")

    async def list_stored(self) -> list[StoredRecording]:
        """All stored recordings."""
        return as_list(StoredRecording, await self._rest.request("GET", "recordings/stored"))

    async def get_stored(self, name: str) -> StoredRecording:
        """One stored recording's metadata."""
        data = await self._rest.request("GET", f"recordings/stored/{seg(name)}")
        return as_model(StoredRecording, data)

    async def delete_stored(self, name: str) -> None:
        """Delete a stored recording (after it is safely kept elsewhere)."""
        await self._rest.request("DELETE", f"recordings/stored/{seg(name)}")

    @asynccontextmanager
    async def open_stored_file(self, name: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Stream a stored recording's audio bytes in chunks."""
        async with self._rest.stream(f"recordings/stored/{seg(name)}/file") as chunks:
            yield chunks

    async def download_stored_file(self, name: str, sink: BinaryIO) -> int:
        """Write a stored recording's audio into ``sink``; return the byte count."""
        total = 0
        async with self.open_stored_file(name) as chunks:
            async for chunk in chunks:
                sink.write(chunk)
                total += len(chunk)
        return total

    async def _live_action(self, name: str, action: str) -> None:
        path = f"recordings/live/{seg(name)}/{action}"
        await self._rest.request("POST", path, idempotent=True)
