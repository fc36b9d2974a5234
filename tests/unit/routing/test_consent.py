"""Consent notices: per direction and department, a version label, the caller's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from zentrale.cli.routing import routing
from zentrale.routing.engine import consent_notice, on_digits, start
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.steps import ConsentPlay, Queue

from .support import issues_of, load, monday

RULES = """\
version: 1
timezone: Europe/Istanbul
languages: {available: [de, tr, en], default: de, fallback: en}
prompts:
  menu: sound:de/menu
  bye: sound:vm-goodbye
  hinweis: {de: "sound:de/hinweis", tr: "sound:tr/bildirim", en: "sound:en/notice"}
  beschwerde: {de: "sound:de/beschwerde", tr: "sound:tr/sikayet", en: "sound:en/complaint"}
announcements:
  consent:
    inbound: {prompt: hinweis, version: "2026-01"}
    outbound: hinweis
departments:
  sales:
    agents: [{endpoint: PJSIP/1001, name: Ayşe}]
    on_max_wait: {play_and_hangup: bye}
    recording: true
  complaints:
    agents: [{endpoint: PJSIP/1002, name: Jonas}]
    on_max_wait: {play_and_hangup: bye}
    recording: true
    consent:
      inbound: {prompt: beschwerde, version: "2026-11-b"}
  quiet:
    agents: [{endpoint: PJSIP/1003, name: Lena}]
    on_max_wait: {play_and_hangup: bye}
menus:
  main:
    prompt: menu
    options: {"1": {department: sales}, "2": {department: complaints}, "3": {department: quiet}}
    on_invalid: {play_and_hangup: bye}
entry_rules:
  - name: all
    action: {menu: main}
"""


@pytest.fixture
def rules() -> Rules:
    return load(RULES)


def test_the_general_notice_carries_its_version_and_the_callers_language(rules: Rules) -> None:
    notice = consent_notice(rules, "inbound", "sales", "tr")
    assert notice == ConsentPlay(sound="sound:tr/bildirim", version="2026-01", language="tr")


def test_a_department_overrides_one_direction_and_inherits_the_other(rules: Rules) -> None:
    assert consent_notice(rules, "inbound", "complaints", "de") == ConsentPlay(
        "sound:de/beschwerde", "2026-11-b", "de"
    )
    # No outbound notice of its own: the general one, named by its sound (no version given).
    assert consent_notice(rules, "outbound", "complaints", "de") == ConsentPlay(
        "sound:de/hinweis", "sound:de/hinweis", "de"
    )


def test_a_language_without_a_sound_falls_back_and_says_so(rules: Rules) -> None:
    notice = consent_notice(rules, "inbound", "sales", "fr")
    assert notice is not None
    assert (notice.sound, notice.language) == ("sound:en/notice", "en")


def test_the_engine_queues_with_the_notice_only_when_the_department_records(rules: Rules) -> None:
    menu = start(rules, CallFacts(at=monday(10), language="tr"))
    complaints = on_digits(menu.state, "2")
    assert isinstance(complaints, Queue)
    assert complaints.consent == "sound:tr/sikayet"
    assert complaints.notice == ConsentPlay("sound:tr/sikayet", "2026-11-b", "tr")
    quiet = on_digits(menu.state, "3")
    assert isinstance(quiet, Queue)
    assert (quiet.consent, quiet.notice) == (None, None)


def test_the_first_form_a_bare_prompt_name_stays_valid() -> None:
    rules = load(
        RULES.replace('inbound: {prompt: hinweis, version: "2026-01"}', "inbound: hinweis")
    )
    notice = consent_notice(rules, "inbound", "sales", "de")
    assert notice == ConsentPlay("sound:de/hinweis", "sound:de/hinweis", "de")


def test_an_unknown_notice_prompt_in_a_department_is_located() -> None:
    (issue,) = issues_of(RULES.replace("{prompt: beschwerde,", "{prompt: beschwerd,"))
    assert issue.path == "departments.complaints.consent.inbound"
    assert issue.message == "unknown prompt 'beschwerd'"
    assert (
        issue.line
        == RULES.splitlines().index('      inbound: {prompt: beschwerde, version: "2026-11-b"}') + 1
    )


def test_a_version_label_must_be_short_and_keys_known() -> None:
    (issue,) = issues_of(RULES.replace('version: "2026-11-b"', f'version: "{"x" * 33}"'))
    assert issue.path.startswith("departments.complaints.consent.inbound")
    assert "32" in issue.message
    (issue,) = issues_of(RULES.replace('version: "2026-11-b"', 'versoin: "2026-11-b"'))
    assert "versoin" in issue.path


def test_a_notice_missing_a_language_is_a_warning() -> None:
    text = RULES.replace(', en: "sound:en/complaint"', "")
    rules = load(text)
    (warning,) = [w for w in rules.warnings if "consent notice" in w.message]
    assert warning.path == "departments.complaints.consent.inbound"
    assert "no sound in en" in warning.message


def test_simulate_names_the_notice_version_and_language(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    args = ["simulate", str(path), "--at", "2026-03-02 10:00", "--language", "tr", "--digits", "2"]
    result = CliRunner().invoke(routing, args)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("consent sound:tr/sikayet [version 2026-11-b, tr])\n"), (
        result.output
    )
