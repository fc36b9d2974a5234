"""What Asterisk can play: extensions and WAV headers (8 kHz in .wav, 16 kHz in .wav16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.prompts.formats import format_of, playability_problem

from .support import write_wav


@pytest.mark.parametrize(("name", "rate"), [("x.wav", 8000), ("x.wav16", 16000)])
def test_pcm_mono_16_bit_at_the_right_rate_is_playable(
    tmp_path: Path, name: str, rate: int
) -> None:
    assert playability_problem(write_wav(tmp_path / name, rate=rate)) is None


def test_16_khz_in_wav_is_refused_with_the_fix(tmp_path: Path) -> None:
    problem = playability_problem(write_wav(tmp_path / "x.wav", rate=16000))
    assert problem is not None
    assert "16000 Hz" in problem
    assert ".wav16" in problem


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"channels": 2}, "2 channel(s)"),
        ({"width": 1}, "8 bit"),
        ({"rate": 22050}, "convert it to 8000 Hz"),
        ({"seconds": 0}, "no audio"),
    ],
)
def test_unplayable_wav_headers(tmp_path: Path, kwargs: dict[str, int], expected: str) -> None:
    problem = playability_problem(write_wav(tmp_path / "x.wav", **kwargs))
    assert problem is not None
    assert expected in problem


def test_not_a_wav_and_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"ID3 this is an mp3")
    (tmp_path / "x.mp3").write_bytes(b"ID3")
    assert "not a PCM WAV" in str(playability_problem(tmp_path / "x.wav"))
    assert "not a format Asterisk plays" in str(playability_problem(tmp_path / "x.mp3"))
    assert format_of(tmp_path / "x.mp3") is None


def test_formats_without_header_check_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "x.gsm").write_bytes(b"\0" * 33)
    assert playability_problem(tmp_path / "x.gsm") is None
    fmt = format_of(tmp_path / "x.gsm")
    assert fmt is not None
    assert fmt.content_type == "audio/x-gsm"
