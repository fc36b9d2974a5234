"""The history of applied routing files: content, time and diff of each version.

Every version the reloader applies is kept in a directory as three files sharing a stem,
`0007-3f2a9c1b4d5e.yaml` (the file), `.diff` (unified diff against the previous version) and
`.json` (when and from where). `zentrale routing history` and `rollback` read it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zentrale.routing.rules import Rules


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One applied version of the routing file."""

    number: int
    version: str
    applied_at: dt.datetime
    source: str
    stem: Path

    @property
    def label(self) -> str:
        """Return `7 3f2a9c1b4d5e` style text naming this entry."""
        return f"{self.number} {self.version}"


class History:
    """Applied versions kept in `directory`, oldest first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entries(self) -> list[HistoryEntry]:
        """Return every recorded version, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(
            (_read_entry(meta) for meta in self.directory.glob("*.json")),
            key=lambda entry: entry.number,
        )

    def latest(self) -> HistoryEntry | None:
        """Return the most recently applied version, if any."""
        entries = self.entries()
        return entries[-1] if entries else None

    def record(self, rules: Rules, applied_at: dt.datetime) -> HistoryEntry:
        """Keep `rules` as the newest version, with a diff against the previous one."""
        previous = self.latest()
        old_text = self.text(previous) if previous else ""
        number = previous.number + 1 if previous else 1
        stem = self.directory / f"{number:04d}-{rules.version}"
        self.directory.mkdir(parents=True, exist_ok=True)
        old_name = f"{previous.label}" if previous else "nothing"
        diff = difflib.unified_diff(
            old_text.splitlines(keepends=True),
            rules.text.splitlines(keepends=True),
            fromfile=f"version {old_name}",
            tofile=f"version {number} {rules.version}",
        )
        write_atomically(stem.with_suffix(".yaml"), rules.text)
        write_atomically(stem.with_suffix(".diff"), "".join(diff))
        meta = {
            "number": number,
            "version": rules.version,
            "source": rules.source,
            "applied_at": applied_at.isoformat(),
        }
        write_atomically(stem.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        return HistoryEntry(
            number=number,
            version=rules.version,
            applied_at=applied_at,
            source=rules.source,
            stem=stem,
        )

    def find(self, wanted: str) -> HistoryEntry:
        """Return the entry named by its number or a prefix of its version hash."""
        entries = self.entries()
        by_number = [entry for entry in entries if str(entry.number) == wanted]
        matches = by_number or [entry for entry in entries if entry.version.startswith(wanted)]
        if not wanted or not matches:
            raise KeyError(f"no version '{wanted}' in {self.directory}")
        if len({entry.version for entry in matches}) > 1:
            raise KeyError(f"'{wanted}' names several versions; give more of the hash")
        return matches[-1]

    def text(self, entry: HistoryEntry) -> str:
        """Return the routing file as it was applied in `entry`."""
        return entry.stem.with_suffix(".yaml").read_text(encoding="utf-8")

    def diff(self, entry: HistoryEntry) -> str:
        """Return the unified diff `entry` made against the version before it."""
        return entry.stem.with_suffix(".diff").read_text(encoding="utf-8")


def _read_entry(meta_path: Path) -> HistoryEntry:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    applied_at = dt.datetime.fromisoformat(meta["applied_at"])
    stem = meta_path.with_suffix("")
    return HistoryEntry(
        number=int(meta["number"]),
        version=meta["version"],
        applied_at=applied_at,
        source=meta["source"],
        stem=stem,
    )


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so readers see the old or the new file, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
