"""Audio file formats Asterisk plays from the prompts directory, and checks of WAV headers.

Asterisk picks the decoder from the file extension (for media fetched over HTTP: from the
URL's tail), and its `wav` decoder reads only 8 kHz mono 16-bit PCM: a 16 kHz WAV must be
named `.wav16`, or the playback fails during the call. Checked on the sandbox Asterisk 22.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AudioFormat:
    """A file extension Asterisk recognises, its HTTP content type and WAV rate if any."""

    extension: str
    content_type: str
    wav_rate: int | None = None


# In order of preference when one sound exists in several formats.
FORMATS: tuple[AudioFormat, ...] = (
    AudioFormat("wav", "audio/wav", 8000),
    AudioFormat("wav16", "audio/wav", 16000),
    AudioFormat("gsm", "audio/x-gsm"),
    AudioFormat("ulaw", "audio/basic"),
    AudioFormat("alaw", "audio/x-alaw-basic"),
)
BY_EXTENSION: dict[str, AudioFormat] = {fmt.extension: fmt for fmt in FORMATS}


def format_of(path: Path) -> AudioFormat | None:
    """Return the playable format named by PATH's extension, or None."""
    return BY_EXTENSION.get(path.suffix.removeprefix("."))


def playability_problem(path: Path) -> str | None:
    """Say why Asterisk would fail to play the file at PATH, or None if it looks playable."""
    fmt = format_of(path)
    if fmt is None:
        return f"'{path.suffix}' is not a format Asterisk plays"
    if fmt.wav_rate is None:
        return None
    return _wav_problem(path, fmt)


def _wav_problem(path: Path, fmt: AudioFormat) -> str | None:
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        return f"not a PCM WAV file ({error})"
    rate, channels, width, frames = shape
    if (channels, width) != (1, 2):
        return f"{channels} channel(s) of {8 * width} bit; Asterisk needs mono 16-bit PCM"
    if rate != fmt.wav_rate:
        hint = "name it .wav16" if rate == 16000 else "convert it to 8000 Hz"
        return f"{rate} Hz in a .{fmt.extension} file; Asterisk reads {fmt.wav_rate} Hz ({hint})"
    if frames == 0:
        return "no audio in it"
    return None
