"""Audio for the recording pipeline: decode, merge two parties, analyse and transcode.

Asterisk hands over 16-bit WAV files. pydub decodes them (in-process for WAV, ffmpeg for
anything else), merges a two-party recording into one stereo stream (customer left, agent
right), measures the duration, draws the player's waveform (one peak per 100 ms, 0-255) and
tells empty recordings (no 300 ms of sound) apart. ffmpeg encodes the stored format, reading
PCM from a pipe and writing only the file asked for (no temporary files elsewhere); WAV is the
PCM itself with a header, written here without starting ffmpeg. Everything
here blocks: the pipeline runs it in a thread. Audio that does not decode raises CorruptAudioError.
"""

from __future__ import annotations

import subprocess
import warnings
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zentrale.base.errors import ZentraleError

with warnings.catch_warnings():
    # pydub imports the stdlib audioop, which Python 3.11 deprecates with a warning at import.
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    from pydub import AudioSegment  # type: ignore[import-untyped]
    from pydub.exceptions import CouldntDecodeError  # type: ignore[import-untyped]

PEAK_MS = 100
SILENCE_RMS = 300  # per 100 ms window, on 16-bit samples: about -41 dBFS
MIN_SOUND_WINDOWS = 3  # under 300 ms of sound in the whole recording: flagged silent
SAMPLE_WIDTH = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFormat:
    """One format the pipeline can store: file extension and ffmpeg output options.

    A format with `pcm` set is 16-bit PCM in a WAV container: written directly, with no ffmpeg
    process (its options are unused).
    """

    name: str
    extension: str
    content_type: str
    mono: tuple[str, ...]
    stereo: tuple[str, ...]
    pcm: bool = False


FORMATS = {
    "opus": StoredFormat(
        name="opus",
        extension="opus",
        content_type="audio/ogg; codecs=opus",
        mono=("-f", "ogg", "-c:a", "libopus", "-b:a", "16k", "-application", "voip"),
        # Two uncoupled mono streams (channel mapping family 255), 16 kbit/s each like a mono
        # recording: Opus's coupled stereo at 24 kbit/s put the agent in the customer's
        # channel at about -24 dB (measured on a real SIP call; -51 dB with this). Chromium
        # and ffmpeg decode it as ordinary stereo.
        stereo=(
            "-f",
            "ogg",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-application",
            "voip",
            "-mapping_family",
            "255",
        ),
    ),
    "mp3": StoredFormat(
        name="mp3",
        extension="mp3",
        content_type="audio/mpeg",
        mono=("-f", "mp3", "-c:a", "libmp3lame", "-b:a", "32k"),
        stereo=("-f", "mp3", "-c:a", "libmp3lame", "-b:a", "48k"),
    ),
    "wav": StoredFormat(
        name="wav",
        extension="wav",
        content_type="audio/wav",
        mono=(),
        stereo=(),
        pcm=True,
    ),
}


class AudioError(ZentraleError):
    """Audio could not be processed."""

    code = "audio"


class CorruptAudioError(AudioError):
    """The received audio does not decode (or ffmpeg refused it)."""

    code = "corrupt-audio"


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the pipeline learns from the audio: length, waveform, emptiness, channels."""

    duration_s: float
    peaks: bytes
    silent: bool
    channels: int


def decode(path: Path) -> AudioSegment:
    """Read one audio file as 16-bit samples, or raise CorruptAudioError."""
    try:
        with path.open("rb") as file:  # pydub leaves a file it opened itself unclosed
            segment = AudioSegment.from_file(file, format=_demuxer(path))
    except (CouldntDecodeError, ValueError, IndexError, OSError, EOFError) as exc:
        raise CorruptAudioError(f"{path.name} does not decode: {_first_line(exc)}") from None
    return segment.set_sample_width(SAMPLE_WIDTH)


def merge_stereo(left: AudioSegment, right: AudioSegment) -> AudioSegment:
    """Return one stereo segment: LEFT (the customer) left, RIGHT (the agent) right."""
    rate = max(left.frame_rate, right.frame_rate)
    left, right = (_mono(part, rate) for part in (left, right))
    frames = max(int(left.frame_count()), int(right.frame_count()))
    return AudioSegment.from_mono_audiosegments(_padded(left, frames), _padded(right, frames))


def load(paths: Sequence[Path]) -> AudioSegment:
    """Decode one source, or two (customer, agent) merged into stereo."""
    if len(paths) == 1:
        return decode(paths[0])
    if len(paths) == 2:
        return merge_stereo(decode(paths[0]), decode(paths[1]))
    raise AudioError(f"one or two sources expected, got {len(paths)}")


def analyse(segment: AudioSegment) -> Analysis:
    """Return the duration, one peak (0-255) per 100 ms, and whether nothing was said."""
    peaks = bytearray()
    sounding = 0
    for start in range(0, len(segment), PEAK_MS):
        window = segment[start : start + PEAK_MS]
        peaks.append(min(255, round(window.max * 255 / 32767)))
        sounding += window.rms >= SILENCE_RMS
    silent = sounding < MIN_SOUND_WINDOWS
    return Analysis(
        duration_s=round(segment.duration_seconds, 3),
        peaks=bytes(peaks),
        silent=silent,
        channels=segment.channels,
    )


def channel_rms(segment: AudioSegment) -> list[float]:
    """Return the RMS level of each channel (left first)."""
    return [float(part.rms) for part in segment.split_to_mono()]


def encode(segment: AudioSegment, fmt: StoredFormat, target: Path) -> None:
    """Encode SEGMENT into TARGET with ffmpeg (PCM through a pipe), or raise AudioError.

    PCM formats are written directly. A write that fails (a full disk) raises OSError and
    leaves no file: that is the disk's fault, not the audio's, so the caller retries it.
    """
    if fmt.pcm:
        _write_wav(segment, target)
        return
    options = fmt.stereo if segment.channels == 2 else fmt.mono
    command = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "s16le",
        "-ar",
        str(segment.frame_rate),
        "-ac",
        str(segment.channels),
        "-i",
        "pipe:0",
        *options,
        str(target),
    ]
    try:
        done = subprocess.run(command, input=segment.raw_data, capture_output=True, check=False)
    except OSError as exc:
        raise AudioError(f"ffmpeg did not start: {exc.strerror}") from None
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        message = done.stderr.decode(errors="replace").strip()
        raise AudioError(f"ffmpeg failed ({done.returncode}): {message[:300]}")


def _write_wav(segment: AudioSegment, target: Path) -> None:
    try:
        with wave.open(str(target), "wb") as out:
            out.setnchannels(segment.channels)
            out.setsampwidth(segment.sample_width)
            out.setframerate(segment.frame_rate)
            out.writeframes(segment.raw_data)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _mono(segment: AudioSegment, rate: int) -> AudioSegment:
    return segment.set_channels(1).set_frame_rate(rate).set_sample_width(SAMPLE_WIDTH)


def _padded(segment: AudioSegment, frames: int) -> AudioSegment:
    missing = frames - int(segment.frame_count())
    if missing <= 0:
        return segment
    data = segment.raw_data + b"\x00" * (missing * SAMPLE_WIDTH)
    return AudioSegment(
        data=data, sample_width=SAMPLE_WIDTH, frame_rate=segment.frame_rate, channels=1
    )


def _demuxer(path: Path) -> str | None:
    extension = path.suffix.lstrip(".").lower()
    return {"opus": "ogg", "": None}.get(extension, extension)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
