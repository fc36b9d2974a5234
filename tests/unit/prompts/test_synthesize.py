"""Synthesis with the real espeak-ng and ffmpeg: 8 kHz mono speech, skipped when unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zentrale.prompts.formats import playability_problem
from zentrale.prompts.manifest import parse_manifest
from zentrale.prompts.synthesize import (
    SynthesisError,
    installed_voices,
    synthesize,
    target_file,
)

from .support import rms, shape, write_wav

MANIFEST = """\
version: 1
voices: {de: de, tr: tr, en: en}
prompts:
  de/willkommen: {de: "Willkommen beim Kundenservice in Antalya."}
  tr/hosgeldiniz: {tr: "Antalya müşteri hizmetlerine hoş geldiniz."}
  zentrale/choose-language:
    de: Für Deutsch drücken Sie die 1.
    tr: Türkçe için 2'ye basın.
    en: For English, press 3.
"""  # noqa: RUF001 (Turkish has a dotless i)
SILENCE_RMS = 300  # a 16-bit sample's RMS over a whole prompt; espeak speech is far above


def test_each_entry_becomes_8_khz_mono_speech(tmp_path: Path) -> None:
    report = synthesize(parse_manifest(MANIFEST), tmp_path)
    assert report.made == ["de/willkommen", "tr/hosgeldiniz", "zentrale/choose-language"]
    for name in report.made:
        path = target_file(tmp_path, name)
        rate, channels, width, seconds = shape(path)
        assert (rate, channels, width) == (8000, 1, 2)
        assert 0.5 < seconds < 15
        assert rms(path) > SILENCE_RMS
        assert playability_problem(path) is None
        assert path.read_bytes()[36:40] == b"data"  # plain 44-byte header, no LIST chunk


def test_a_multilingual_prompt_holds_all_its_languages(tmp_path: Path) -> None:
    synthesize(parse_manifest(MANIFEST), tmp_path)
    one = shape(target_file(tmp_path, "de/willkommen"))[3]
    three = shape(target_file(tmp_path, "zentrale/choose-language"))[3]
    assert three > 2 * one * 0.8  # three sentences and two pauses of 0.5 s


def test_unchanged_entries_are_skipped_and_changed_ones_remade(tmp_path: Path) -> None:
    first = parse_manifest(MANIFEST)
    synthesize(first, tmp_path)
    files = {name: target_file(tmp_path, name) for name in first.prompts}
    before = {name: path.stat().st_mtime_ns for name, path in files.items()}
    again = synthesize(first, tmp_path)
    assert again.made == []
    assert len(again.skipped) == 3
    assert {name: path.stat().st_mtime_ns for name, path in files.items()} == before

    edited = parse_manifest(MANIFEST.replace("Willkommen beim", "Herzlich willkommen beim"))
    report = synthesize(edited, tmp_path)
    assert report.made == ["de/willkommen"]
    assert files["de/willkommen"].stat().st_mtime_ns != before["de/willkommen"]


def test_a_damaged_or_deleted_file_is_remade(tmp_path: Path) -> None:
    manifest = parse_manifest(MANIFEST)
    synthesize(manifest, tmp_path)
    target_file(tmp_path, "de/willkommen").write_bytes(b"RIFF broken")
    target_file(tmp_path, "tr/hosgeldiniz").unlink()
    seen: list[tuple[str, str]] = []
    report = synthesize(manifest, tmp_path, lambda name, made: seen.append((name, made)))
    assert report.made == ["de/willkommen", "tr/hosgeldiniz"]
    assert seen[-1] == ("zentrale/choose-language", "skipped")
    assert playability_problem(target_file(tmp_path, "de/willkommen")) is None


def test_a_supervisors_own_file_is_never_overwritten(tmp_path: Path) -> None:
    own = write_wav(target_file(tmp_path, "de/willkommen"), seconds=3)
    data = own.read_bytes()
    edited = parse_manifest(MANIFEST.replace("Willkommen beim", "Hallo beim"))
    report = synthesize(edited, tmp_path)
    assert report.kept == ["de/willkommen"]
    assert report.made == ["tr/hosgeldiniz", "zentrale/choose-language"]
    assert own.read_bytes() == data
    assert not own.with_name("willkommen.wav.sha256").exists()


def test_missing_programs_are_named_with_their_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SynthesisError, match="espeak-ng ffmpeg"):
        synthesize(parse_manifest(MANIFEST), tmp_path)


def test_an_unknown_voice_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    # espeak-ng itself would silently speak with its default voice instead.
    broken = parse_manifest(MANIFEST.replace("{de: de,", "{de: no-such-voice,"))
    with pytest.raises(SynthesisError, match="no voice 'no-such-voice' \\(for language de\\)"):
        synthesize(broken, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_voices_by_language_name_file_and_variant_are_accepted(tmp_path: Path) -> None:
    manifest = parse_manifest(MANIFEST.replace("{de: de, tr: tr,", "{de: German, tr: trk/tr+f3,"))
    assert len(synthesize(manifest, tmp_path).made) == 3
    assert {"de", "tr", "en"} <= installed_voices()


def test_a_failing_conversion_is_reported_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[SynthesisError.__module__]  # the package exports a function of its name
    monkeypatch.setattr(module, "PAUSE_SECONDS", "x")  # an invalid ffmpeg filter
    with pytest.raises(SynthesisError, match="ffmpeg failed"):
        synthesize(parse_manifest(MANIFEST), tmp_path)
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == {
        target_file(tmp_path, "de/willkommen"),
        target_file(tmp_path, "de/willkommen").with_suffix(".wav.sha256"),
        target_file(tmp_path, "tr/hosgeldiniz"),
        target_file(tmp_path, "tr/hosgeldiniz").with_suffix(".wav.sha256"),
    }
