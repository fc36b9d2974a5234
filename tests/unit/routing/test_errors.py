"""Every kind of refused routing file: each error names its line, column, path and problem."""

from __future__ import annotations

import pytest

from zentrale.routing.errors import Issue

from .support import BASE, issues_of, load


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """Return the 1-based line holding the `occurrence`-th `needle` in `text`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence - 1]


def only_error(text: str) -> Issue:
    errors = [issue for issue in issues_of(text) if issue.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def changed(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_issue_text_names_file_line_column_and_path() -> None:
    text = changed('"1": {department: sales}', '"3": {menu: nowhere}')
    issue = only_error(text)
    line = line_of(text, '"3"')
    assert str(issue) == (
        f'routing.yaml:{line}:7: error: menus.main.options."3": '
        "unknown menu 'nowhere' (defined: main)"
    )


def test_voicemail_must_name_a_defined_box() -> None:
    # A box is a department's: a misspelt one would record messages nobody is told about.
    text = changed("on_max_wait: {voicemail: sales}", "on_max_wait: {voicemail: slaes}")
    issue = only_error(text)
    assert str(issue) == (
        f"routing.yaml:{line_of(text, 'slaes')}:5: error: departments.sales.on_max_wait: "
        "unknown voicemail box (a department's) 'slaes' (defined: sales)"
    )


def test_yaml_syntax_error_is_located() -> None:
    text = changed("  default: de", "  default: [de")
    issue = only_error(text)
    assert issue.message.startswith("not valid YAML")
    assert issue.line >= line_of(text, "default: [de")


def test_duplicate_key_is_a_yaml_error_at_the_second_key() -> None:
    text = changed("  fallback: en", "  fallback: en\n  fallback: tr")
    issue = only_error(text)
    assert "duplicate key" in issue.message
    assert issue.line == line_of(text, "fallback: tr")


def test_unknown_key_suggests_the_right_one() -> None:
    text = changed("    recording: true", "    recording: true\n    straegy: ring_all")
    issue = only_error(text)
    assert issue.message == "unknown key 'straegy'; did you mean 'strategy'?"
    assert (issue.line, issue.path) == (line_of(text, "straegy"), "departments.sales.straegy")


def test_missing_key_is_reported_on_its_parent() -> None:
    text = changed("    on_max_wait: {voicemail: sales}\n", "")
    issue = only_error(text)
    assert issue.message == "missing required key 'on_max_wait'"
    assert (issue.line, issue.path) == (line_of(text, "  sales:"), "departments.sales")


def test_bad_duration() -> None:
    text = changed("    recording: true", "    recording: true\n    ring_timeout: 20 seconds")
    issue = only_error(text)
    assert "'20 seconds' is not a duration" in issue.message
    assert issue.line == line_of(text, "ring_timeout")


def test_unknown_strategy_lists_the_choices() -> None:
    text = changed("    recording: true", "    recording: true\n    strategy: loudest")
    issue = only_error(text)
    assert "'ring_all', 'round_robin', 'longest_idle', 'in_order' or 'random'" in issue.message
    assert "found 'loudest'" in issue.message
    assert issue.line == line_of(text, "strategy: loudest")


def test_menu_key_must_be_one_keypad_key() -> None:
    text = changed('"0": {play_and_hangup: bye}', '"12": {play_and_hangup: bye}')
    issue = only_error(text)
    assert issue.message == "'12' is not a keypad key; use one of 0-9, * or #"
    assert (issue.line, issue.path) == (line_of(text, '"12"'), 'menus.main.options."12"')


def test_action_must_be_one_known_pair() -> None:
    text = changed("{department: sales}", "{goto: sales}")
    issue = only_error(text)
    assert issue.message.startswith("an action is one pair like 'department: sales'")
    assert issue.line == line_of(text, "goto")


def test_action_target_must_be_a_name() -> None:
    text = changed("{department: sales}", "{department: [sales]}")
    assert (
        only_error(text).message == "'department' needs a name after it, like 'department: sales'"
    )


def test_dial_needs_a_phone_number() -> None:
    text = changed("{department: sales}", "{dial: reception}")
    assert only_error(text).message == "'reception' is not a phone number like +4930123456"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "{department: sales}",
            "{department: salse}",
            "salse",
            "unknown department 'salse' (defined: sales)",
        ),
        (
            "{play_and_hangup: bye}\n    invalid",
            "{play_and_hangup: ciao}\n    invalid",
            "ciao",
            "unknown prompt 'ciao'",
        ),
        ("    prompt: welcome", "    prompt: hello", "prompt: hello", "unknown prompt 'hello'"),
        (
            "    schedule: office",
            "    schedule: ofice",
            "ofice",
            "unknown schedule 'ofice' (defined: office)",
        ),
        (
            "{voicemail: sales}",
            "{survey: after}",
            "survey: after",
            "unknown survey 'after' (none defined)",
        ),
        (
            "{voicemail: sales}",
            "{callback: billing}",
            "callback",
            "unknown department 'billing' (defined: sales)",
        ),
        (
            "{voicemail: sales}",
            "invalid",
            "on_max_wait",
            "'invalid' is only allowed as a menu option",
        ),
    ],
)
def test_references_must_exist(old: str, new: str, needle: str, message: str) -> None:
    text = changed(old, new)
    issue = only_error(text)
    assert issue.message.startswith(message)
    assert issue.line == line_of(text, needle)


def test_unsupported_version() -> None:
    issue = only_error(changed("version: 1", "version: 2"))
    assert issue.message == (
        "routing schema version 2 is not supported; this zentrale reads version 1"
    )
    assert (issue.line, issue.path) == (1, "version")


def test_unknown_time_zone() -> None:
    text = changed("    weekly:", "    timezone: Europe/Antalya\n    weekly:")
    issue = only_error(text)
    assert issue.message == "unknown time zone 'Europe/Antalya'"
    assert issue.line == line_of(text, "Europe/Antalya")


def test_unknown_holiday_country_and_subdivision() -> None:
    text = changed(
        "    weekly:", "    holidays: [{country: XX}, {country: DE, subdiv: ZZ}]\n    weekly:"
    )
    messages = [issue.message for issue in issues_of(text)]
    assert messages[0] == "no public holidays known for country 'XX'"
    assert messages[1].startswith("'ZZ' is not a subdivision of DE: BB, BE, BW, BY")
    assert {issue.line for issue in issues_of(text)} == {line_of(text, "holidays")}


def test_language_must_be_available() -> None:
    text = changed("  fallback: en", "  fallback: fr")
    issue = only_error(text)
    assert (issue.message, issue.path) == (
        "'fr' is not in languages.available",
        "languages.fallback",
    )


def test_prompt_language_must_be_available() -> None:
    text = changed('en: "sound:en/invalid"}', 'fr: "sound:fr/invalid"}')
    messages = {issue.message for issue in issues_of(text)}
    assert "'fr' is not in languages.available" in messages
    assert "has no sound for the default or the fallback language" not in messages


def test_prompt_needs_a_sound_for_default_or_fallback() -> None:
    text = changed('{de: "sound:de/ungueltig", en: "sound:en/invalid"}', '{tr: "sound:tr/x"}')
    issue = only_error(text)
    assert issue.message == "has no sound for the default or the fallback language"
    assert (issue.line, issue.path) == (line_of(text, "  invalid:"), "prompts.invalid")


def test_sound_reference_needs_a_scheme() -> None:
    text = changed("closed: sound:closed", "closed: closed.wav")
    issue = only_error(text)
    assert issue.message.startswith("'closed.wav' is not a sound reference")
    assert issue.path == 'prompts.closed."*"'


def test_endpoint_must_name_a_technology() -> None:
    text = changed('"Local/1001@sim-agent"', '"1001"')
    assert only_error(text).message == "'1001' is not an endpoint like PJSIP/1001"


def test_loop_without_asking_the_caller() -> None:
    second = (
        "  support:\n    agents: [{endpoint: PJSIP/2001, name: Can}]\n"
        "    on_max_wait: {department: sales}\nmenus:"
    )
    text = changed("{voicemail: sales}", "{department: support}", changed("menus:", second))
    issue = only_error(text)
    assert issue.message == (
        "loops without asking the caller anything: "
        "department sales -> department support -> department sales"
    )
    assert issue.line == line_of(text, "{department: support}")


def test_department_without_agents_is_a_dead_end() -> None:
    text = changed('[{endpoint: "Local/1001@sim-agent", name: Ayşe}]', "[]")
    issue = only_error(text)
    assert (issue.message, issue.path) == ("has no agents: a dead end", "departments.sales.agents")


def test_menu_without_options_is_a_dead_end() -> None:
    text = changed('      "1": {department: sales}\n      "0": {play_and_hangup: bye}\n', "")
    text = changed("    options:\n", "", text)
    issue = only_error(text)
    assert issue.message == "has neither options nor entry: a dead end"
    assert issue.line == line_of(text, "  main:")


def test_closed_department_needs_somewhere_to_go() -> None:
    text = changed("  closed: closed\n", "")
    issue = only_error(text)
    assert issue.message.startswith("has a schedule but no 'when_closed' action")
    assert issue.line == line_of(text, "    schedule: office")


def test_entry_rules_need_a_catch_all() -> None:
    text = changed("  - name: everyone\n", "  - name: everyone\n    match: {did: ['+902420']}\n")
    issue = only_error(text)
    assert issue.message.startswith("no rule matches every call")
    assert issue.line == line_of(text, "entry_rules:")


def test_menu_cannot_have_options_and_entry() -> None:
    entry = "    entry: {max_length: 4, store_as: pin, then: {menu: main}}\n    on_invalid"
    issue = only_error(changed("    on_invalid", entry))
    assert issue.message == "a menu either offers options or collects an entry, not both"


def test_entry_lengths_must_be_consistent() -> None:
    entry = "    entry: {min_length: 6, max_length: 4, store_as: pin, then: {menu: main}}\n"
    text = changed('"0": {play_and_hangup: bye}\n', '"0": {play_and_hangup: bye}\n' + entry)
    assert "min_length is larger than max_length" in [i.message for i in issues_of(text)]


def test_schedule_and_open_go_together() -> None:
    text = changed(
        "  - name: everyone\n",
        "  - name: night\n    match: {schedule: office}\n"
        "    action: {menu: main}\n  - name: everyone\n",
    )
    issue = only_error(text)
    assert issue.message == "'schedule' and 'open' go together: schedule: office, open: false"
    assert issue.line == line_of(text, "match: {schedule")


def test_closed_days_must_be_days_or_ranges() -> None:
    text = changed("    weekly:", "    closed: [2026-12-31, 2026-12-26..2026-12-24]\n    weekly:")
    issue = only_error(text)
    assert issue.message == "'2026-12-26..2026-12-24' ends before it starts"
    assert issue.path == "schedules.office.closed[1]"


def test_expect_case_inputs_are_keys_or_timeout() -> None:
    case = "expect:\n  - {name: x, at: '2026-03-02 10:00', digits: ['1', later],\n"
    case += "     goes_to: {menu: main}}\n"
    issue = only_error(BASE + case)
    assert issue.message == "'later' is neither keypad keys nor 'timeout'"
    assert issue.path == "expect[0].digits[1]"


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n"])
def test_file_must_be_a_mapping(text: str) -> None:
    assert only_error(text).message == "the file must be a YAML mapping of sections"


def test_all_errors_are_reported_together_in_line_order() -> None:
    text = changed(
        "{department: sales}", "{department: nobody}", changed("  fallback: en", "  fallback: fr")
    )
    lines = [issue.line for issue in issues_of(text)]
    assert len(lines) == 2
    assert lines == sorted(lines)


def test_warnings_do_not_refuse_the_file() -> None:
    extra = "  spare:\n    prompt: welcome\n    options: {'1': {menu: main}}\n"
    extra += "    on_invalid: {menu: main}\n"
    text = (
        changed("entry_rules:", extra + "entry_rules:")
        + "  - name: never\n    action: {menu: main}\n"
    )
    warnings = load(text).warnings
    assert [(w.path, w.message) for w in warnings] == [
        ("menus.spare", "unreachable: no rule or option leads here"),
        ("entry_rules[1]", "never used: rule 0 ('everyone') already matches every call"),
    ]
    assert all(w.severity == "warning" for w in warnings)
