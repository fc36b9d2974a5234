"""The history of applied sets of scripts and articles: files, time and diff of each version.

Mirrors the routing rules' history (`zentrale.routing.history`): every set the reloader applies
is kept in a directory as `0003-3f2a9c1b4d5e.json` (when, from where, and every file's text)
and `.diff` (unified diff of every file against the previous version). `zentrale knowledge
history` and `rollback` read it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from zentrale.knowledge.load import Knowledge
from zentrale.routing.history import write_atomically


@dataclass(frozen=True, slots=True)
class KnowledgeVersion:
    """One applied set."""

    number: int
    version: str
    applied_at: dt.datetime
    source: str
    stem: Path

    @property
    def label(self) -> str:
        """Return `3 3f2a9c1b4d5e` style text naming this version."""
        return f"{self.number} {self.version}"


class KnowledgeHistory:
    """Applied sets kept in `directory`, oldest first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entries(self) -> list[KnowledgeVersion]:
        """Return every recorded version, oldest first."""
        if not self.directory.is_dir():
            return []
        found = (_read(meta) for meta in self.directory.glob("*.json"))
        return sorted(found, key=lambda entry: entry.number)

    def latest(self) -> KnowledgeVersion | None:
        """Return the most recently applied version, if any."""
        entries = self.entries()
        return entries[-1] if entries else None

    def record(self, knowledge: Knowledge, applied_at: dt.datetime) -> KnowledgeVersion:
        """Keep KNOWLEDGE as the newest version, with a diff against the previous one."""
        previous = self.latest()
        old = self.files(previous) if previous else {}
        number = previous.number + 1 if previous else 1
        stem = self.directory / f"{number:04d}-{knowledge.version}"
        self.directory.mkdir(parents=True, exist_ok=True)
        diff: list[str] = []
        for name in sorted(set(old) | set(knowledge.files)):
            diff += difflib.unified_diff(
                old.get(name, "").splitlines(keepends=True),
                knowledge.files.get(name, "").splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        meta = {
            "number": number,
            "version": knowledge.version,
            "source": knowledge.source,
            "applied_at": applied_at.isoformat(),
            "files": dict(knowledge.files),
        }
        write_atomically(stem.with_suffix(".diff"), "".join(diff))
        write_atomically(stem.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        return KnowledgeVersion(number, knowledge.version, applied_at, knowledge.source, stem)

    def find(self, wanted: str) -> KnowledgeVersion:
        """Return the version named by its number or a prefix of its hash."""
        entries = self.entries()
        by_number = [entry for entry in entries if str(entry.number) == wanted]
        matches = by_number or [entry for entry in entries if entry.version.startswith(wanted)]
        if not wanted or not matches:
            raise KeyError(f"no version '{wanted}' in {self.directory}")
        if len({entry.version for entry in matches}) > 1:
            raise KeyError(f"'{wanted}' names several versions; give more of the hash")
        return matches[-1]

    def files(self, entry: KnowledgeVersion) -> dict[str, str]:
        """Return the files (relative path → text) of ENTRY."""
        meta = json.loads(entry.stem.with_suffix(".json").read_text(encoding="utf-8"))
        return {str(name): str(text) for name, text in meta["files"].items()}

    def diff(self, entry: KnowledgeVersion) -> str:
        """Return the unified diff ENTRY made against the version before it."""
        return entry.stem.with_suffix(".diff").read_text(encoding="utf-8")


def _read(meta_path: Path) -> KnowledgeVersion:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return KnowledgeVersion(
        number=int(meta["number"]),
        version=meta["version"],
        applied_at=dt.datetime.fromisoformat(meta["applied_at"]),
        source=meta["source"],
        stem=meta_path.with_suffix(""),
    )
