"""missing_prompts against a fake Asterisk sound list, the ARI sounds helper, the example rules."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.check import MissingPrompt, assumed_builtins, missing_prompts
from zentrale.prompts.manifest import load_manifest
from zentrale.prompts.sounds import fetch_asterisk_sounds, flatten_sounds
from zentrale.prompts.synthesize import synthesize
from zentrale.routing.load import load_rules, parse_rules
from zentrale.routing.rules import Rules

from .support import write_wav

REPO = Path(__file__).resolve().parents[3]
RULES = """\
version: 1
timezone: Europe/Istanbul
languages: {available: [de, tr], default: de}
prompts:
  welcome: {de: "sound:de/willkommen", tr: "sound:tr/hosgeldiniz"}
  goodbye: sound:vm-goodbye
  blocked: sound:ss-noservice
  account: {de: "digits:12345"}
  hold: {de: "sound:de/warten"}
departments:
  sales: {agents: [{endpoint: PJSIP/1001, name: A}], on_max_wait: {voicemail: sales}}
menus:
  main:
    prompt: welcome
    options: {"1": {department: sales}}
    on_invalid: {play_and_hangup: goodbye}
entry_rules:
  - {name: blocked, match: {caller: ["+90850*"]}, action: {play_and_hangup: blocked}}
  - {name: hold, match: {caller: ["+90851*"]}, action: {play_and_hangup: hold}}
  - {name: all, action: {menu: main}}
"""
ARI_SOUNDS = [
    {"id": "vm-goodbye", "formats": [{"language": "en", "format": "gsm"}]},
    {"id": "warten", "formats": [{"language": "de", "format": "gsm"}]},
]


@pytest.fixture
def rules() -> Rules:
    return parse_rules(RULES)


def test_flatten_gives_ids_and_language_paths() -> None:
    assert flatten_sounds(ARI_SOUNDS) == {"vm-goodbye", "en/vm-goodbye", "warten", "de/warten"}
    assert flatten_sounds([{"id": "x", "formats": []}]) == {"x"}


def test_missing_names_each_prompt_language_without_file_or_builtin(
    rules: Rules, tmp_path: Path
) -> None:
    write_wav(tmp_path / "de" / "willkommen.wav")
    missing = missing_prompts(rules, PromptCatalog(tmp_path), flatten_sounds(ARI_SOUNDS))
    assert [(m.prompt, m.language, m.sound) for m in missing] == [
        ("blocked", "*", "sound:ss-noservice"),
        ("welcome", "tr", "sound:tr/hosgeldiniz"),
    ]
    assert str(missing[1]) == (
        "prompts.welcome.tr: sound:tr/hosgeldiniz: "
        "no file in the prompts directory and not one of Asterisk's sounds"
    )


def test_nothing_missing_when_files_and_builtins_cover_all(rules: Rules, tmp_path: Path) -> None:
    write_wav(tmp_path / "de" / "willkommen.wav")
    write_wav(tmp_path / "tr" / "hosgeldiniz.wav16", rate=16000)
    sounds = flatten_sounds([*ARI_SOUNDS, {"id": "ss-noservice", "formats": []}])
    assert missing_prompts(rules, PromptCatalog(tmp_path), sounds) == []


def test_an_unplayable_file_counts_as_missing(rules: Rules, tmp_path: Path) -> None:
    write_wav(tmp_path / "de" / "willkommen.wav", rate=16000)
    write_wav(tmp_path / "tr" / "hosgeldiniz.wav")
    sounds = flatten_sounds([*ARI_SOUNDS, {"id": "ss-noservice", "formats": []}])
    assert missing_prompts(rules, PromptCatalog(tmp_path), sounds) == [
        MissingPrompt(
            prompt="welcome",
            language="de",
            sound="sound:de/willkommen",
            reason="willkommen.wav is not playable: 16000 Hz in a .wav file; "
            "Asterisk reads 8000 Hz (name it .wav16)",
        )
    ]


def test_offline_assumes_names_without_directory_are_builtins(rules: Rules, tmp_path: Path) -> None:
    catalog = PromptCatalog(tmp_path)
    builtins = assumed_builtins(rules, catalog)
    assert builtins == {"vm-goodbye", "ss-noservice"}
    missing = {m.sound for m in missing_prompts(rules, catalog, builtins)}
    assert missing == {"sound:de/willkommen", "sound:tr/hosgeldiniz", "sound:de/warten"}


def test_example_rules_have_no_missing_prompt_once_synthesized(tmp_path: Path) -> None:
    rules = load_rules(REPO / "config" / "routing.yaml")
    catalog = PromptCatalog(tmp_path)
    assert len(missing_prompts(rules, catalog, assumed_builtins(rules, catalog))) == 32
    synthesize(load_manifest(REPO / "config" / "prompts.yaml"), tmp_path)
    assert missing_prompts(rules, catalog, assumed_builtins(rules, catalog)) == []
    assert assumed_builtins(rules, catalog) == {"vm-goodbye", "ss-noservice"}


@pytest.mark.asyncio
async def test_fetch_asks_ari_with_basic_auth_and_flattens() -> None:
    seen: list[httpx.Request] = []

    def ari(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=json.dumps(ARI_SOUNDS))

    sounds = await fetch_asterisk_sounds(
        "http://pbx:8088/ari/", "zentrale", SecretStr("s3cret"), transport=httpx.MockTransport(ari)
    )
    assert sounds == flatten_sounds(ARI_SOUNDS)
    assert str(seen[0].url) == "http://pbx:8088/ari/sounds"
    expected = "Basic " + base64.b64encode(b"zentrale:s3cret").decode()
    assert seen[0].headers["authorization"] == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "error"),
    [(httpx.Response(401), httpx.HTTPStatusError), (httpx.Response(200, json={}), ValueError)],
)
async def test_fetch_errors_are_raised(reply: httpx.Response, error: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda request: reply)
    with pytest.raises(error):
        await fetch_asterisk_sounds("http://pbx/ari", "u", SecretStr("p"), transport=transport)
