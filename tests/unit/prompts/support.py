"""Helpers for the prompts tests: write WAV files and measure them with the wave module."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path


def write_wav(
    path: Path,
    *,
    rate: int = 8000,
    seconds: float = 1.0,
    channels: int = 1,
    width: int = 2,
    amplitude: int = 8000,
) -> Path:
    """Write a 440 Hz tone as a PCM WAV file and return PATH."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(rate * seconds)
    samples = array(
        "h", (int(amplitude * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    )
    data = samples.tobytes() if width == 2 else bytes(128 for _ in range(frames))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data * channels)
    return path


def shape(path: Path) -> tuple[int, int, int, float]:
    """Return (rate, channels, sample width, seconds) of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        return rate, wav.getnchannels(), wav.getsampwidth(), wav.getnframes() / rate


def rms(path: Path) -> float:
    """Root mean square of a 16-bit mono WAV file's samples (0 for silence)."""
    with wave.open(str(path), "rb") as wav:
        samples = array("h", wav.readframes(wav.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
