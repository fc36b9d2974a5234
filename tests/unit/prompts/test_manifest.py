"""The synthesis manifest: validation with located errors, and the shipped config/prompts.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.prompts.catalog import sound_name
from zentrale.prompts.manifest import ManifestError, load_manifest, parse_manifest
from zentrale.routing.load import load_rules

REPO = Path(__file__).resolve().parents[3]
GOOD = """\
version: 1
voices: {de: de, tr: tr}
prompts:
  de/danke: {de: "Vielen   Dank."}
  zentrale/choose-language:
    de: Deutsch, die 1.
    tr: Türkçe, 2.
"""


def _errors(text: str) -> tuple[str, ...]:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "p.yaml")
    return caught.value.issues


def test_a_good_manifest_keeps_order_and_normalises_spaces() -> None:
    manifest = parse_manifest(GOOD)
    assert list(manifest.prompts) == ["de/danke", "zentrale/choose-language"]
    assert manifest.prompts["de/danke"] == {"de": "Vielen Dank."}
    assert list(manifest.prompts["zentrale/choose-language"]) == ["de", "tr"]
    assert manifest.speed == 150


def test_unknown_language_is_located() -> None:
    issues = _errors(GOOD.replace("tr: Türkçe", "fr: Français"))
    assert issues == (
        "p.yaml:7:5: error: prompts.zentrale/choose-language.fr: "
        "unknown language 'fr' (voices are given for de, tr)",
    )


@pytest.mark.parametrize("empty", ['""', '"   "'])
def test_empty_text_is_located(empty: str) -> None:
    issues = _errors(GOOD.replace('"Vielen   Dank."', empty))
    assert len(issues) == 1
    assert issues[0].startswith("p.yaml:4:")
    assert "prompts.de/danke.de: the text is empty" in issues[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("de/danke:", "../danke:"), "'../danke' is not a sound name"),
        (("voices:", "voicez:"), "unknown key 'voicez'"),
        (("version: 1", "version: 2"), "manifest version 2 is not supported"),
        (('  de/danke: {de: "Vielen   Dank."}\n', "  de/danke: {}\n"), "no text in any language"),
    ],
)
def test_schema_errors(change: tuple[str, str], expected: str) -> None:
    issues = _errors(GOOD.replace(*change))
    assert any(expected in issue for issue in issues), issues


def test_yaml_syntax_error_and_wrong_top_level() -> None:
    assert _errors("version: [1\n")[0].startswith("p.yaml:2:")
    assert "must be a YAML mapping" in _errors("- 1\n")[0]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read file"):
        load_manifest(tmp_path / "absent.yaml")


def test_fingerprint_changes_with_text_voice_and_speed() -> None:
    base = parse_manifest(GOOD)
    same = parse_manifest(GOOD.replace("Vielen   Dank.", "Vielen Dank."))
    assert base.fingerprint("de/danke") == same.fingerprint("de/danke")
    changed = [
        parse_manifest(GOOD.replace("Vielen", "Herzlichen")),
        parse_manifest(GOOD.replace("{de: de,", "{de: de+f3,")),
        parse_manifest(GOOD + "speed: 120\n"),
    ]
    for other in changed:
        assert other.fingerprint("de/danke") != base.fingerprint("de/danke")
    assert base.fingerprint("zentrale/choose-language") == same.fingerprint(
        "zentrale/choose-language"
    )


def test_shipped_manifest_covers_every_non_builtin_sound_of_the_example_rules() -> None:
    manifest = load_manifest(REPO / "config" / "prompts.yaml")
    rules = load_rules(REPO / "config" / "routing.yaml")
    used = {
        name
        for sounds in rules.document.prompts.values()
        for reference in sounds.values()
        if (name := sound_name(reference)) is not None
    }
    assert used - set(manifest.prompts) == {"vm-goodbye", "ss-noservice"}
    assert set(manifest.prompts) - used == set()
    assert set(manifest.voices) == {"de", "tr", "en"}
    assert len(manifest.prompts["zentrale/choose-language"]) == 3
