"""Where the pipeline fetches finished recordings from, and deletes them once stored.

In production that is Asterisk over ARI (`zentrale.telephony.spool.AriSource`, injected by
the wiring). A directory of files named `<name>.wav` stands in for it in fault tests and
benchmarks. Fetching writes to a `.part` file renamed into place, so a half-fetched file is
never taken for a whole one.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from pathlib import Path
from typing import Protocol

from zentrale.base.errors import ZentraleError


class SourceMissingError(ZentraleError):
    """The source has no recording of this name (retried: Asterisk may be catching up)."""

    code = "source-missing"


class RecordingSource(Protocol):
    """Finished recordings waiting to be stored."""

    async def fetch(self, name: str, target: Path) -> int:
        """Write the recording NAME into TARGET; return its size or raise SourceMissingError."""
        ...

    async def delete(self, name: str) -> None:
        """Delete the recording NAME; deleting a missing one is not an error."""
        ...


class DirectorySource:
    """Recordings as files `<name>.<extension>` in a directory (Asterisk's spool layout)."""

    def __init__(self, root: Path, extension: str = "wav") -> None:
        self.root = root
        self.extension = extension

    def path(self, name: str) -> Path:
        """Return where the recording NAME's file is."""
        return self.root / f"{name}.{self.extension}"

    async def fetch(self, name: str, target: Path) -> int:
        """Copy the file into TARGET."""
        return await asyncio.to_thread(self._copy, self.path(name), target)

    async def delete(self, name: str) -> None:
        """Remove the file."""
        self.path(name).unlink(missing_ok=True)

    @staticmethod
    def _copy(source: Path, target: Path) -> int:
        partial = partial_path(target)
        try:
            with source.open("rb") as src, private_file(partial) as sink:
                shutil.copyfileobj(src, sink)
        except FileNotFoundError:
            partial.unlink(missing_ok=True)
            raise SourceMissingError(f"no recording file {source.name}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return target.stat().st_size


def partial_path(target: Path) -> Path:
    """Where a fetch writes before renaming into TARGET."""
    return target.with_name(target.name + ".part")


def private_file(path: Path) -> io.BufferedWriter:
    """Open PATH for writing, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")
