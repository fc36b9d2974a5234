"""The pure engine, one rule kind at a time: entry rules, languages, menus, departments."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from zentrale.routing.engine import (
    LANGUAGE_MENU,
    MAX_HOPS,
    NotWaitingError,
    after_call,
    on_digits,
    on_max_wait,
    on_timeout,
    start,
)
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.steps import (
    CollectDigits,
    Dial,
    Hangup,
    OfferCallback,
    PlayAndHangup,
    Queue,
    Step,
    Survey,
    Voicemail,
)

from .support import BASE, ISTANBUL, facts, load, monday

RULES = """\
  - name: blocked
    match: {caller: ["+90850*", "+49151000000?"]}
    action: {play_and_hangup: bye}
  - name: vip line
    match: {did: ["+902420000100"]}
    action: {department: sales}
  - name: vip customer
    match: {customer: {tier: vip}}
    action: {dial: "+4989123456"}
  - name: turkish
    match: {language: [tr]}
    action: {voicemail: sales}
  - name: night
    match: {hours: ["20:00-24:00"]}
    language: en
    action: {play_and_hangup: closed}
  - name: closed office
    match: {schedule: office, open: false}
    action: {survey: feedback}
  - name: everyone
"""

ENGINE = (
    BASE.replace("  - name: everyone\n", RULES)
    + """\
surveys:
  feedback: {questions: [welcome, invalid], max_digit: 3, thanks: bye}
"""
)


def only(step: Step) -> tuple[str, str]:
    return step.destination


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load(ENGINE)


def test_catch_all_rule_leads_to_the_first_menu(rules: Rules) -> None:
    step = start(rules, facts(caller="+905551112233"))
    assert isinstance(step, CollectDigits)
    assert (step.menu, step.prompts, step.max_digits) == ("main", ("sound:de/willkommen",), 1)
    assert step.reason == (
        "entry rule 6 'everyone' matched: matches every call",
        "default language de",
        "menu main",
    )


def test_caller_pattern_with_star_and_question_mark(rules: Rules) -> None:
    assert only(start(rules, facts(caller="+908501234567"))) == ("play_and_hangup", "bye")
    assert only(start(rules, facts(caller="+491510000007"))) == ("play_and_hangup", "bye")
    assert only(start(rules, facts(caller="+4915100000077"))) == ("menu", "main")
    assert only(start(rules, facts(caller=None))) == ("menu", "main")


def test_dialled_number(rules: Rules) -> None:
    step = start(rules, facts(dialled="+902420000100"))
    assert isinstance(step, Queue)
    assert step.name == "sales"
    assert step.reason[0] == "entry rule 1 'vip line' matched: dialled +902420000100"


def test_customer_record(rules: Rules) -> None:
    step = start(rules, facts(customer={"tier": "vip"}))
    assert isinstance(step, Dial)
    assert step.number == "+4989123456"
    assert "customer tier is vip" in step.reason[0]


def test_known_language_from_facts_or_customer_record(rules: Rules) -> None:
    assert only(start(rules, facts(language="tr"))) == ("voicemail", "sales")
    step = start(rules, facts(customer={"language": "tr"}))
    assert isinstance(step, Voicemail)
    assert step.state.language == "tr"


def test_time_of_day_and_rule_language(rules: Rules) -> None:
    step = start(rules, facts(at=monday(21, 30)))
    assert isinstance(step, PlayAndHangup)
    assert (step.prompt, step.sound, step.state.language) == ("closed", "sound:closed", "en")
    assert step.reason[1] == "language en set by rule 'night'"


def test_schedule_state_and_survey_action(rules: Rules) -> None:
    step = start(rules, facts(at=monday(19)))
    assert isinstance(step, Survey)
    assert step.questions == ("sound:de/willkommen", "sound:de/ungueltig")
    assert (step.max_digit, step.thanks) == (3, "sound:vm-goodbye")
    assert "schedule office closed at 19:00 (mon hours: 09:00-18:00)" in step.reason[0]


def test_first_match_wins(rules: Rules) -> None:
    step = start(rules, facts(caller="+908501234567", dialled="+902420000100"))
    assert only(step) == ("play_and_hangup", "bye")


def test_option_goes_to_department_with_consent(rules: Rules) -> None:
    menu = start(rules, facts())
    step = on_digits(menu.state, "1")
    assert isinstance(step, Queue)
    assert (step.consent, step.config.recording, step.config.strategy) == (
        "sound:de/hinweis",
        True,
        "ring_all",
    )
    assert step.reason[-2:] == (
        "caller pressed 1 in menu main",
        "department sales: ring_all over 1 agent(s)",
    )


def test_outbound_calls_have_no_consent_prompt_when_none_is_configured(rules: Rules) -> None:
    menu = start(rules, CallFacts(at=monday(10), direction="outbound"))
    step = on_digits(menu.state, "1")
    assert isinstance(step, Queue)
    assert step.consent is None


def test_closed_department_plays_the_closed_announcement() -> None:
    rules = load()
    menu = start(rules, facts(at=dt.datetime(2026, 3, 4, 10, tzinfo=ISTANBUL)))  # a Wednesday
    step = on_digits(menu.state, "1")
    assert isinstance(step, PlayAndHangup)
    assert step.prompt == "closed"
    assert step.reason[-1] == (
        "department sales is closed at 10:00 (wed hours: none) (schedule office)"
    )


def test_invalid_key_retries_with_the_invalid_prompt_then_gives_up(rules: Rules) -> None:
    menu = start(rules, facts())
    retry = on_digits(menu.state, "7")
    assert isinstance(retry, CollectDigits)
    assert retry.prompts == ("sound:de/ungueltig", "sound:de/willkommen")
    assert retry.reason[-1] == "menu main: '7' is not an option; retry 1"
    second = on_digits(retry.state, "8")
    assert isinstance(second, CollectDigits)
    assert second.state.attempts == 2
    assert not second.state.gave_up
    final = on_digits(second.state, "9")
    assert only(final) == ("play_and_hangup", "bye")
    assert final.reason[-2] == "menu main: '9' is not an option; 2 retries used up"
    assert final.state.gave_up  # the call ends in the menu (outcome ended_in_menu)


def test_timeout_retries_without_a_prompt_then_uses_on_invalid(rules: Rules) -> None:
    menu = start(rules, facts())
    retry = on_timeout(menu.state)
    assert isinstance(retry, CollectDigits)
    assert retry.prompts == ("sound:de/willkommen",)
    final = on_timeout(on_timeout(retry.state).state)
    assert only(final) == ("play_and_hangup", "bye")


MENUS = (
    BASE.replace(
        '      "0": {play_and_hangup: bye}\n',
        '      "0": {play_and_hangup: bye}\n      "5": invalid\n      "2": {menu: card}\n',
    )
    .replace(
        "    invalid_prompt: invalid\n", "    on_timeout: {department: sales}\n    retries: 0\n"
    )
    .replace(
        "entry_rules:",
        """\
  card:
    prompt: welcome
    entry: {min_length: 4, max_length: 6, store_as: card, sensitive: true, then: {callback: sales}}
    timeout: 12s
    retries: 0
    on_invalid: {voicemail: sales}
entry_rules:""",
    )
)


def test_invalid_marked_option_and_separate_timeout_action() -> None:
    rules = load(MENUS)
    menu = start(rules, facts())
    assert only(on_digits(menu.state, "5")) == ("play_and_hangup", "bye")
    assert only(on_timeout(menu.state)) == ("department", "sales")


def test_multi_digit_entry_with_terminator_is_sensitive() -> None:
    rules = load(MENUS)
    entry = on_digits(start(rules, facts()).state, "2")
    assert isinstance(entry, CollectDigits)
    assert (entry.max_digits, entry.min_digits, entry.terminator) == (7, 4, "#")
    assert (entry.sensitive, entry.timeout) == (True, 12.0)
    step = on_digits(entry.state, "12345#")
    assert isinstance(step, OfferCallback)
    assert step.department == "sales"
    assert step.state.entered == {"card": "12345"}
    assert "caller entered ***** as card in menu card" in step.reason
    assert not any("12345" in reason for reason in step.reason)


def test_entry_of_wrong_length_is_invalid() -> None:
    rules = load(MENUS)
    entry = on_digits(start(rules, facts()).state, "2")
    step = on_digits(entry.state, "12#")
    assert only(step) == ("voicemail", "sales")
    assert step.reason[-2] == "menu card: an entry of 2 digits where 4-6 fit; 0 retries used up"


def test_queue_overflow_and_after_call_survey() -> None:
    text = BASE.replace("    recording: true\n", "    recording: true\n    survey: s\n")
    rules = load(text + "surveys:\n  s: {questions: [welcome]}\n")
    queue = on_digits(start(rules, facts()).state, "1")
    assert only(on_max_wait(queue.state)) == ("voicemail", "sales")
    survey = after_call(queue.state)
    assert survey is not None
    assert survey.questions == ("sound:de/willkommen",)
    assert after_call(on_digits(start(load(), facts()).state, "1").state) is None


def test_language_selection_when_language_is_unknown() -> None:
    selection = "  selection: {prompt: welcome, options: {'1': de, '2': tr}}\nprompts:"
    rules = load(BASE.replace("prompts:", selection, 1))
    ask = start(rules, facts())
    assert isinstance(ask, CollectDigits)
    assert ask.menu == LANGUAGE_MENU
    menu = on_digits(ask.state, "2")
    assert isinstance(menu, CollectDigits)
    assert menu.prompts == ("sound:tr/hosgeldiniz",)
    fallback = on_digits(on_digits(ask.state, "9").state, "7")
    assert isinstance(fallback, CollectDigits)
    assert fallback.prompts[0] == "sound:de/ungueltig"
    timed_out = on_timeout(ask.state)
    assert isinstance(timed_out, CollectDigits)
    assert timed_out.state.language == "de"
    assert only(start(rules, facts(language="tr"))) == ("menu", "main")


def test_prompt_falls_back_to_the_fallback_language() -> None:
    rules = load()
    assert rules.sound("invalid", "tr") == "sound:en/invalid"
    assert rules.sound("closed", "tr") == "sound:closed"


def test_closed_menu_follows_when_closed() -> None:
    text = BASE.replace(
        "    invalid_prompt: invalid\n",
        "    invalid_prompt: invalid\n    schedule: office\n    when_closed: {voicemail: sales}\n",
    )
    assert only(start(load(text), facts(at=monday(7)))) == ("voicemail", "sales")
    assert only(start(load(text), facts(at=monday(9)))) == ("menu", "main")


def test_states_not_waiting_are_refused() -> None:
    rules = load()
    queue = on_digits(start(rules, facts()).state, "1")
    with pytest.raises(NotWaitingError):
        on_digits(queue.state, "1")
    with pytest.raises(NotWaitingError):
        on_max_wait(start(rules, facts()).state)


def test_hop_limit_is_a_backstop_and_not_reached_by_valid_rules() -> None:
    menu = start(load(), facts())
    assert on_digits(menu.state, "1").state.hops < MAX_HOPS
    exhausted = on_digits(replace(menu.state, hops=MAX_HOPS), "1")
    assert isinstance(exhausted, Hangup)
    assert exhausted.reason[-1] == f"gave up after {MAX_HOPS} automatic transitions"


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CallFacts(at=dt.datetime(2026, 3, 2, 10))


def test_state_keeps_the_rules_it_started_with() -> None:
    old, new = load(), load(BASE.replace("sound:vm-goodbye", "sound:goodbye"))
    menu = start(old, facts())
    assert old.version != new.version
    step = on_digits(menu.state, "0")
    assert isinstance(step, PlayAndHangup)
    assert step.sound == "sound:vm-goodbye"
    assert step.state.rules is old


def test_entry_rule_priority_is_carried_to_the_queue() -> None:
    vip = RULES.replace(
        '  - name: vip line\n    match: {did: ["+902420000100"]}\n',
        '  - name: vip line\n    match: {did: ["+902420000100"]}\n    priority: 7\n',
    )
    rules = load(
        BASE.replace("  - name: everyone\n", vip)
        + "surveys:\n  feedback: {questions: [welcome], max_digit: 3}\n"
    )
    step = start(rules, facts(dialled="+902420000100"))
    assert isinstance(step, Queue)
    assert step.state.priority == 7
    assert start(rules, facts()).state.priority == 0


def test_transfer_moves_a_call_to_another_department_or_number(rules: Rules) -> None:
    from zentrale.routing.engine import transfer

    queued = on_digits(start(rules, facts()).state, "1")
    assert isinstance(queued, Queue)
    moved = transfer(queued.state, "dial", "+4930123")
    assert isinstance(moved, Dial)
    assert moved.number == "+4930123"
    assert moved.reason[-2] == "transferred to dial: +4930123"
    back = transfer(queued.state, "menu", "main")
    assert only(back) == ("menu", "main")
    with pytest.raises(ValueError, match="no department named 'nowhere'"):
        transfer(queued.state, "department", "nowhere")
    with pytest.raises(ValueError, match="not voicemail"):
        transfer(queued.state, "voicemail", "x")


def test_closed_is_a_fact_of_the_step_not_of_its_notes(rules: Rules) -> None:
    department = on_digits(
        start(load(), facts(at=dt.datetime(2026, 3, 4, 10, tzinfo=ISTANBUL))).state, "1"
    )
    night = start(rules, facts(at=monday(21, 30)))
    blocked = start(rules, facts(caller="+908501234567"))
    closed_office = start(rules, facts(at=monday(19)))
    assert isinstance(department, PlayAndHangup)
    assert isinstance(night, PlayAndHangup)
    assert isinstance(blocked, PlayAndHangup)
    # A closed schedule, or the rules' own closed announcement, makes the call `closed`.
    assert (department.closed, department.state.out_of_hours) == (True, True)
    assert (night.closed, night.state.out_of_hours) == (True, False)
    # Any other message is not, whatever words the notes hold.
    assert blocked.closed is False
    assert closed_office.state.out_of_hours is True
    renamed = replace(blocked.state, trail=("the office is closed",))
    assert PlayAndHangup(renamed, "bye", "sound:bye").closed is False
