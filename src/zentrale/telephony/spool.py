"""Asterisk's stored recordings over ARI: the pipeline's production `RecordingSource`.

`GET /recordings/stored/{name}/file` is streamed, so Asterisk may run on another host;
`DELETE /recordings/stored/{name}` once the pipeline has stored the recording safely.
"""

from __future__ import annotations

from pathlib import Path

from zentrale.recording.sources import SourceMissingError, partial_path, private_file
from zentrale.telephony.ari import AriClient
from zentrale.telephony.ari.errors import AriNotFoundError


class AriSource:
    """Asterisk's stored recordings, over ARI."""

    def __init__(self, ari: AriClient) -> None:
        self._ari = ari

    async def fetch(self, name: str, target: Path) -> int:
        """Stream the stored recording's file into TARGET."""
        partial = partial_path(target)
        try:
            with private_file(partial) as sink:
                size = await self._ari.recordings.download_stored_file(name, sink)
        except AriNotFoundError:
            partial.unlink(missing_ok=True)
            raise SourceMissingError(f"Asterisk has no stored recording {name!r}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return size

    async def delete(self, name: str) -> None:
        """Delete Asterisk's copy."""
        try:
            await self._ari.recordings.delete_stored(name)
        except AriNotFoundError:
            return
