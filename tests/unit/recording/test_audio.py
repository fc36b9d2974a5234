"""Audio: decode, two-party merge, analysis (duration, peaks, silence) and ffmpeg encoding."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from zentrale.recording import audio


def write_wav(
    path: Path, seconds: float, amplitude: int = 8000, hz: float = 440.0, rate: int = 8000
) -> Path:
    """Write a 16-bit mono WAV: a tone of AMPLITUDE (0 gives silence)."""
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def test_analysis_of_a_tone(tmp_path: Path) -> None:
    segment = audio.load([write_wav(tmp_path / "a.wav", 2.5)])
    found = audio.analyse(segment)
    assert found.duration_s == pytest.approx(2.5, abs=0.01)
    assert len(found.peaks) == 25  # one per 100 ms
    assert all(55 < peak < 70 for peak in found.peaks)  # 8000 of 32767, scaled to 0-255: 62
    assert not found.silent
    assert found.channels == 1


def test_peaks_scale_with_level(tmp_path: Path) -> None:
    loud = audio.analyse(audio.load([write_wav(tmp_path / "l.wav", 1, amplitude=32000)]))
    quiet = audio.analyse(audio.load([write_wav(tmp_path / "q.wav", 1, amplitude=3000)]))
    assert min(loud.peaks) >= 240
    assert max(quiet.peaks) <= 30


def test_silence_is_flagged(tmp_path: Path) -> None:
    found = audio.analyse(audio.load([write_wav(tmp_path / "s.wav", 3, amplitude=0)]))
    assert found.silent
    assert set(found.peaks) == {0}


def test_a_short_blip_is_still_silent(tmp_path: Path) -> None:
    blip = audio.load([write_wav(tmp_path / "b.wav", 0.2)])
    quiet = audio.load([write_wav(tmp_path / "q.wav", 3, amplitude=0)])
    assert audio.analyse(quiet + blip).silent
    assert not audio.analyse(quiet + blip + blip).silent


def test_two_party_merge_puts_customer_left(tmp_path: Path) -> None:
    customer = write_wav(tmp_path / "c.wav", 2.0, amplitude=10000)
    agent = write_wav(tmp_path / "a.wav", 1.5, amplitude=0)
    merged = audio.load([customer, agent])
    assert merged.channels == 2
    assert merged.duration_seconds == pytest.approx(2.0, abs=0.01)  # the shorter one is padded
    left, right = audio.channel_rms(merged)
    assert left > 5000
    assert right == 0


@pytest.mark.parametrize(("name", "magic"), [("opus", b"OggS"), ("mp3", b"ID3"), ("wav", b"RIFF")])
def test_encode_each_format_keeps_duration(tmp_path: Path, name: str, magic: bytes) -> None:
    segment = audio.load([write_wav(tmp_path / "in.wav", 3.0)])
    target = tmp_path / f"out.{audio.FORMATS[name].extension}"
    audio.encode(segment, audio.FORMATS[name], target)
    assert target.read_bytes().startswith(magic)
    back = audio.decode(target)
    assert back.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert back.rms > 2000


def test_opus_is_small_for_speech_rates(tmp_path: Path) -> None:
    segment = audio.load([write_wav(tmp_path / "in.wav", 10.0)])
    target = tmp_path / "out.opus"
    audio.encode(segment, audio.FORMATS["opus"], target)
    kbit_per_s = target.stat().st_size * 8 / 10 / 1000
    assert kbit_per_s < 24  # 16 kbit/s mono plus Ogg framing


def test_stereo_encode_keeps_two_channels(tmp_path: Path) -> None:
    merged = audio.load(
        [write_wav(tmp_path / "c.wav", 2, amplitude=10000), write_wav(tmp_path / "a.wav", 2, 0)]
    )
    target = tmp_path / "out.opus"
    audio.encode(merged, audio.FORMATS["opus"], target)
    left, right = audio.channel_rms(audio.decode(target))
    assert left > 20 * max(right, 1.0)


def test_garbage_does_not_decode(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" + bytes(range(256)) * 10)
    with pytest.raises(audio.CorruptAudioError):
        audio.load([bad])


def test_ffmpeg_refusal_raises_and_leaves_no_file(tmp_path: Path) -> None:
    segment = audio.load([write_wav(tmp_path / "in.wav", 1.0)])
    broken = audio.StoredFormat(
        name="x", extension="x", content_type="x", mono=("-c:a", "no-such-codec"), stereo=()
    )
    target = tmp_path / "out.x"
    with pytest.raises(audio.AudioError, match="ffmpeg failed"):
        audio.encode(segment, broken, target)
    assert not target.exists()


def test_wav_is_written_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No ffmpeg on PATH: WAV still encodes (it is the PCM with a header), the others cannot.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    merged = audio.load(
        [write_wav(tmp_path / "c.wav", 2, amplitude=10000), write_wav(tmp_path / "a.wav", 2, 0)]
    )
    target = tmp_path / "out.wav"
    audio.encode(merged, audio.FORMATS["wav"], target)
    with wave.open(str(target), "rb") as back:
        assert (back.getnchannels(), back.getsampwidth(), back.getframerate()) == (2, 2, 8000)
        assert back.getnframes() == 16000
        assert back.readframes(back.getnframes()) == merged.raw_data
    with pytest.raises(audio.AudioError, match="ffmpeg did not start"):
        audio.encode(merged, audio.FORMATS["opus"], tmp_path / "out.opus")
