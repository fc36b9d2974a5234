"""Making demo prompt files from the manifest with espeak-ng, converted by ffmpeg.

Every file is 8 kHz mono 16-bit PCM WAV (what Asterisk's `wav` format reads), written
atomically, with the manifest fingerprint stored beside it (`<file>.sha256`) so an unchanged
prompt is skipped on the next run. Blocking: call it from a thread in async code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog

from zentrale.base.errors import ZentraleError
from zentrale.prompts.formats import playability_problem
from zentrale.prompts.manifest import Manifest

log = structlog.get_logger(__name__)

TOOLS = {"espeak-ng": "espeak-ng", "ffmpeg": "ffmpeg"}  # program -> Debian package
PAUSE_SECONDS = 0.5  # between the languages of a multilingual prompt
FINGERPRINT_SUFFIX = ".sha256"
Outcome = Literal["made", "skipped", "kept"]


class SynthesisError(ZentraleError):
    """A tool is missing or failed; the message says which and why."""

    code = "synthesis"


@dataclass
class SynthesisReport:
    """Which sound names were made, already up to date, or kept as a supervisor's own file."""

    made: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def synthesize(
    manifest: Manifest, out_dir: Path, progress: Callable[[str, Outcome], None] | None = None
) -> SynthesisReport:
    """Make `<out_dir>/<name>.wav` for every manifest entry whose file is missing or stale."""
    _require_tools()
    _require_voices(manifest)
    report = SynthesisReport()
    for name in manifest.prompts:
        outcome = _ensure(manifest, name, out_dir)
        getattr(report, outcome).append(name)
        if progress is not None:
            progress(name, outcome)
    log.info(
        "prompts.synthesized",
        made=len(report.made),
        skipped=len(report.skipped),
        kept=len(report.kept),
    )
    return report


def target_file(out_dir: Path, name: str) -> Path:
    """Where the synthesized file of sound NAME goes."""
    return out_dir / f"{name}.wav"


def _require_tools() -> None:
    missing = [package for program, package in TOOLS.items() if shutil.which(program) is None]
    if missing:
        raise SynthesisError(f"missing programs; install the Debian packages: {' '.join(missing)}")


def _require_voices(manifest: Manifest) -> None:
    # espeak-ng falls back to its default voice for an unknown name without any error, so a
    # misspelt voice would silently speak German text with an English voice.
    known = installed_voices()
    for language, voice in manifest.voices.items():
        if voice.partition("+")[0].lower() not in known:
            raise SynthesisError(f"espeak-ng has no voice '{voice}' (for language {language})")


def installed_voices() -> set[str]:
    """Names espeak-ng accepts for -v: language codes, voice names and voice files."""
    listing = subprocess.run(
        ["espeak-ng", "--voices"], capture_output=True, text=True, check=True
    ).stdout
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:
            language, voice_name, file = fields[1], fields[3], fields[4]
            names.update({language, voice_name.lower(), file, file.rpartition("/")[2]})
    return names


def _ensure(manifest: Manifest, name: str, out_dir: Path) -> Outcome:
    target = target_file(out_dir, name)
    stamp = target.with_name(target.name + FINGERPRINT_SUFFIX)
    if target.exists() and not stamp.exists():
        return "kept"  # not made by us: a supervisor's recording is never overwritten
    fingerprint = manifest.fingerprint(name)
    if _up_to_date(target, stamp, fingerprint):
        return "skipped"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zentrale-tts-") as work:
        _render(manifest, name, Path(work), target)
    stamp.write_text(fingerprint + "\n", encoding="utf-8")
    return "made"


def _up_to_date(target: Path, stamp: Path, fingerprint: str) -> bool:
    try:
        stored = stamp.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return stored == fingerprint and target.is_file() and playability_problem(target) is None


def _render(manifest: Manifest, name: str, work: Path, target: Path) -> None:
    segments = []
    for index, (language, text) in enumerate(manifest.prompts[name].items()):
        segment = work / f"{index}.wav"
        _speak(manifest.voices[language], manifest.speed, text, segment)
        segments.append(segment)
    partial = target.with_name(f".{target.name}.partial")
    _convert(segments, partial)
    os.replace(partial, target)


def _speak(voice: str, speed: int, text: str, out: Path) -> None:
    # Text goes through stdin, so a text starting with '-' is never read as an option.
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-b", "1", "-w", str(out), "--stdin"]
    _run(command, text)


def _convert(segments: list[Path], out: Path) -> None:
    inputs = [arg for segment in segments for arg in ("-i", str(segment))]
    pads = [
        f"[{i}:a]apad=pad_dur={PAUSE_SECONDS if i < len(segments) - 1 else 0}[a{i}]"
        for i in range(len(segments))
    ]
    joined = "".join(f"[a{i}]" for i in range(len(segments)))
    graph = ";".join([*pads, f"{joined}concat=n={len(segments)}:v=0:a=1[out]"])
    # bitexact and no metadata: a plain 44-byte header, no LIST chunk, identical output for
    # identical input.
    command = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *inputs,
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-ar",
        "8000",
        "-ac",
        "1",
        "-c:a",
        "pcm_s16le",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-f",
        "wav",
        str(out),
    ]
    _run(command, None)


def _run(command: list[str], stdin: str | None) -> None:
    try:
        subprocess.run(command, input=stdin, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or "").strip().splitlines()
        raise SynthesisError(f"{command[0]} failed: {detail[-1] if detail else error}") from None
