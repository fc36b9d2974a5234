"""Asterisk's stored recordings: the pipeline's production `RecordingSource`s.

`AriSource`: `GET /recordings/stored/{name}/file` is streamed, so Asterisk may run on another
host; `DELETE /recordings/stored/{name}` once the pipeline has stored the recording safely.
`SpoolSource`: Asterisk's spool directory where this host sees it (Asterisk beside the daemon,
or a shared volume), with ARI behind it for what is not there.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from zentrale.recording.sources import (
    DirectorySource,
    RecordingSource,
    SourceMissingError,
    partial_path,
    private_file,
)
from zentrale.telephony.ari import AriClient
from zentrale.telephony.ari.errors import AriNotFoundError
from zentrale.telephony.conversation import RECORDING_FORMAT

log = structlog.get_logger(__name__)


def asterisk_source(ari: AriClient, spool: Path | None) -> RecordingSource:
    """Return where this node reads its Asterisk's recordings: SPOOL, if set, then ARI."""
    over_ari = AriSource(ari)
    return over_ari if spool is None else SpoolSource(spool, over_ari, RECORDING_FORMAT)


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


class SpoolSource:
    """Asterisk's spool directory as this host sees it, and ARI behind it.

    A finished recording is read from `<spool>/<name>.<extension>` and deleted there: two
    requests fewer per recording, one of them the file over HTTP, which Asterisk's HTTP
    server spends CPU on. A file that is not there (another node's recording, a spool that is
    not shared) or not readable (permissions) is fetched and deleted over ARI, as without a
    spool; the first such fallback of each kind is logged as a warning.
    """

    def __init__(self, spool: Path, ari: RecordingSource, extension: str) -> None:
        self._spool = DirectorySource(spool, extension)
        self._ari = ari
        self.read_here = 0
        """Recordings read from the spool (the rest were fetched over ARI)."""
        self._warned: set[str] = set()

    async def fetch(self, name: str, target: Path) -> int:
        """Copy the spool's file into TARGET, or fetch it over ARI if it is not readable here."""
        try:
            size = await self._spool.fetch(name, target)
        except SourceMissingError:
            self._fell_back("missing", name)
        except OSError as exc:  # not readable by us (permissions, not a file): ARI can
            self._fell_back("unreadable", name, error=str(exc))
        else:
            self.read_here += 1
            return size
        return await self._ari.fetch(name, target)

    async def delete(self, name: str) -> None:
        """Delete the spool's file, or Asterisk's copy over ARI if it is not here to delete."""
        try:
            self._spool.path(name).unlink()
        except FileNotFoundError:
            await self._ari.delete(name)
        except OSError as exc:  # not ours to delete (permissions): Asterisk can
            self._fell_back("undeletable", name, error=str(exc))
            await self._ari.delete(name)

    def _fell_back(self, why: str, name: str, **fields: str) -> None:
        level = log.debug if why in self._warned else log.warning
        self._warned.add(why)
        level("recording.spool_fallback", why=why, name=name, spool=str(self._spool.root), **fields)
