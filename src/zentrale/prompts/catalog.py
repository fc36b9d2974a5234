"""`PromptCatalog`: the supervisors' prompt files in one directory, and sound resolution.

A sound reference `sound:de/willkommen` names the file `<dir>/de/willkommen.<ext>`. When it
exists, `resolve` turns the reference into a URL the daemon serves to Asterisk's HTTP media
cache (`sound:http://.../de/willkommen.wav`); otherwise the reference stays as it is and
Asterisk plays its own sound of that name. The directory is read on every lookup, so files a
supervisor adds or replaces take effect on the next call without a restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from zentrale.prompts.formats import BY_EXTENSION, FORMATS, format_of

SOUND_PREFIX = "sound:"
# Letters, digits, _ and - in /-separated segments: never '..', '.', an empty segment or an
# absolute path, so a sound name cannot leave the directory.
_SOUND_NAME = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")


def is_sound_name(name: str) -> bool:
    """Tell whether NAME is a safe sound name like `de/willkommen-hauptmenue`."""
    return _SOUND_NAME.match(name) is not None


def sound_name(reference: str) -> str | None:
    """Return the name in a `sound:NAME` reference, or None for other kinds of media."""
    if not reference.startswith(SOUND_PREFIX):
        return None
    return reference.removeprefix(SOUND_PREFIX)


class PromptCatalog:
    """The prompt files under one directory, laid out as `<dir>/<sound name>.<ext>`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"PromptCatalog({str(self.directory)!r})"

    def sounds(self) -> dict[str, Path]:
        """List every sound name with a playable file, mapped to its (preferred) file."""
        found: dict[str, Path] = {}
        if not self.directory.is_dir():
            return found
        for path in sorted(self.directory.rglob("*")):
            name = path.relative_to(self.directory).with_suffix("").as_posix()
            if format_of(path) and is_sound_name(name) and name not in found:
                preferred = self.find(name)
                if preferred is not None:
                    found[name] = preferred
        return dict(sorted(found.items()))

    def find(self, name: str) -> Path | None:
        """Return the file for sound NAME in the preferred format, or None."""
        if not is_sound_name(name):
            return None
        for fmt in FORMATS:
            path = self.file(f"{name}.{fmt.extension}")
            if path is not None:
                return path
        return None

    def file(self, relative: str) -> Path | None:
        """Return the regular file at RELATIVE (`de/x.wav`) inside the directory, or None."""
        name, dot, extension = relative.rpartition(".")
        if not dot or extension not in BY_EXTENSION or not is_sound_name(name):
            return None
        path = self.directory / relative
        try:
            real = path.resolve(strict=True)
            inside = real.is_relative_to(self.directory.resolve(strict=True))
        except (OSError, RuntimeError):
            return None
        return path if inside and real.is_file() else None

    def resolve(self, sound: str, base_url: str | None) -> str:
        """Return the media URI to play: our HTTP URL if the file exists, else SOUND unchanged."""
        name = sound_name(sound)
        path = self.find(name) if name is not None and base_url else None
        if path is None or base_url is None:
            return sound
        relative = path.relative_to(self.directory).as_posix()
        return f"{SOUND_PREFIX}{base_url.rstrip('/')}/{quote(relative)}"
