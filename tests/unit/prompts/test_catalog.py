"""PromptCatalog: listing the directory, finding files safely, resolving sound references."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.prompts.catalog import PromptCatalog, is_sound_name, sound_name

from .support import write_wav

BASE = "http://10.0.0.5:8080/prompts/t0k3n-t0k3n-t0k3n-t0k3n"


@pytest.fixture
def catalog(tmp_path: Path) -> PromptCatalog:
    write_wav(tmp_path / "de" / "willkommen-hauptmenue.wav")
    write_wav(tmp_path / "tr" / "hosgeldiniz.wav16", rate=16000)
    write_wav(tmp_path / "zentrale" / "choose-language.wav")
    (tmp_path / "de" / "willkommen-hauptmenue.wav.sha256").write_text("abc\n")
    (tmp_path / "de" / "notes.txt").write_text("not audio")
    (tmp_path / "de" / "bad.name.wav").write_bytes(b"RIFF")
    return PromptCatalog(tmp_path)


def test_resolve_present_file_becomes_http_media_uri(catalog: PromptCatalog) -> None:
    resolved = catalog.resolve("sound:de/willkommen-hauptmenue", BASE)
    assert resolved == f"sound:{BASE}/de/willkommen-hauptmenue.wav"


def test_resolve_keeps_the_extension_asterisk_reads_for_16_khz(catalog: PromptCatalog) -> None:
    assert (
        catalog.resolve("sound:tr/hosgeldiniz", BASE + "/") == f"sound:{BASE}/tr/hosgeldiniz.wav16"
    )


@pytest.mark.parametrize(
    "sound",
    [
        "sound:vm-goodbye",
        "sound:de/nope",
        "digits:1234",
        "recording:x",
        "sound:../de/willkommen-hauptmenue",
    ],
)
def test_resolve_absent_or_other_media_is_unchanged(catalog: PromptCatalog, sound: str) -> None:
    assert catalog.resolve(sound, BASE) == sound


def test_resolve_without_base_url_leaves_reference_for_asterisk(catalog: PromptCatalog) -> None:
    assert (
        catalog.resolve("sound:de/willkommen-hauptmenue", None) == "sound:de/willkommen-hauptmenue"
    )


def test_listing_has_only_playable_formats_with_safe_names(
    catalog: PromptCatalog, tmp_path: Path
) -> None:
    assert catalog.sounds() == {
        "de/willkommen-hauptmenue": tmp_path / "de" / "willkommen-hauptmenue.wav",
        "tr/hosgeldiniz": tmp_path / "tr" / "hosgeldiniz.wav16",
        "zentrale/choose-language": tmp_path / "zentrale" / "choose-language.wav",
    }


def test_listing_prefers_wav_when_a_sound_has_several_formats(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "x.gsm").write_bytes(b"\0" * 33)
    write_wav(tmp_path / "de" / "x.wav")
    assert PromptCatalog(tmp_path).sounds() == {"de/x": tmp_path / "de" / "x.wav"}


def test_missing_directory_lists_nothing(tmp_path: Path) -> None:
    catalog = PromptCatalog(tmp_path / "absent")
    assert catalog.sounds() == {}
    assert catalog.resolve("sound:de/x", BASE) == "sound:de/x"


def test_files_added_later_are_found_without_a_restart(
    catalog: PromptCatalog, tmp_path: Path
) -> None:
    assert catalog.find("en/closed") is None
    write_wav(tmp_path / "en" / "closed.wav")
    assert catalog.find("en/closed") == tmp_path / "en" / "closed.wav"


@pytest.mark.parametrize(
    "relative",
    [
        "../outside.wav",
        "de/../../outside.wav",
        "/etc/passwd.wav",
        "de//willkommen-hauptmenue.wav",
        "./de/willkommen-hauptmenue.wav",
        "de/willkommen-hauptmenue",
        "de/willkommen-hauptmenue.wav.sha256",
        "de/notes.txt",
        "de",
        "de\\willkommen-hauptmenue.wav",
    ],
)
def test_file_refuses_anything_but_a_sound_file_inside(
    catalog: PromptCatalog, tmp_path: Path, relative: str
) -> None:
    write_wav(tmp_path.parent / "outside.wav")
    assert catalog.file(relative) is None


def test_symlink_leading_outside_is_refused_inside_is_allowed(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    secret = write_wav(tmp_path / "secret.wav")
    inner = write_wav(root / "de" / "real.wav")
    (root / "de" / "leak.wav").symlink_to(secret)
    (root / "de" / "alias.wav").symlink_to(inner)
    (root / "en").symlink_to(tmp_path, target_is_directory=True)
    catalog = PromptCatalog(root)
    assert catalog.file("de/leak.wav") is None
    assert catalog.file("en/secret.wav") is None
    assert catalog.file("de/alias.wav") == root / "de" / "alias.wav"
    assert set(catalog.sounds()) == {"de/alias", "de/real"}


def test_sound_names() -> None:
    assert sound_name("sound:de/x") == "de/x"
    assert sound_name("tone:ring") is None
    assert is_sound_name("zentrale/choose-language")
    assert not is_sound_name("de/../x")
    assert not is_sound_name("/abs")
    assert not is_sound_name("")
