"""The pure routing engine: given rules, the facts of a call and its input, the next step.

No I/O, no clock, no logging: every function takes what it needs and returns a `Step`
(see steps.py). The call flow drives a call like this::

    step = start(rules, facts)
    while isinstance(step, CollectDigits):
        digits = ...  # play step.prompts, collect up to step.max_digits keys
        step = on_digits(step.state, digits) if digits else on_timeout(step.state)
    # Queue: when max_wait runs out, step = on_max_wait(step.state);
    #        after the agent hangs up, survey = after_call(step.state)

The state carries the `Rules` the call started with, so a reload never affects it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zentrale.base.errors import ZentraleError
from zentrale.routing.facts import CallFacts
from zentrale.routing.matching import first_match
from zentrale.routing.rules import Rules
from zentrale.routing.schedule import opening
from zentrale.routing.schema import Action, EntryRule, Menu
from zentrale.routing.steps import (
    CallState,
    CollectDigits,
    ConsentPlay,
    Dial,
    Hangup,
    OfferCallback,
    PlayAndHangup,
    Queue,
    Step,
    Survey,
    Voicemail,
)
from zentrale.routing.survey import plan_survey

MAX_HOPS = 32
"""Automatic transitions allowed in a row; validation forbids loops, this is a backstop."""

LANGUAGE_MENU = "(language selection)"


class NotWaitingError(ZentraleError, ValueError):
    """The state passed in is not waiting for what the call flow reports."""

    code = "not-waiting"


def start(rules: Rules, facts: CallFacts) -> Step:
    """Return the first step for a new call: entry rules, language, then the rule's action."""
    default = rules.document.languages.default
    found = first_match(rules, facts)
    if found is None:
        return Hangup(
            CallState(rules=rules, facts=facts, language=default, trail=("no entry rule matched",))
        )
    compiled, why = found
    rule = compiled.rule
    trail = (f"entry rule {compiled.index} '{rule.name}' matched: {why}",)
    language, said = _language(rules, facts, rule)
    state = CallState(
        rules=rules,
        facts=facts,
        language=language or default,
        trail=(*trail, said) if said else trail,
        priority=rule.priority,
        out_of_hours=rule.match.schedule is not None and rule.match.open is False,
    )
    if language is None and rule.action.kind == "menu":
        return _ask_language(state, rule.action)
    return _go(state, rule.action)


def on_digits(state: CallState, digits: str) -> Step:
    """Return the next step after the caller entered `digits` at a CollectDigits step."""
    if state.pending is not None:
        return _language_chosen(state, digits)
    menu = _waiting_menu(state)
    if menu.entry is not None:
        return _entry(state, menu, digits)
    action = menu.options.get(digits)
    if action is None or action.kind == "invalid":
        return _retry(
            state=state,
            menu=menu,
            why=f"'{digits}' is not an option",
            prompt=menu.invalid_prompt,
            timeout=False,
        )
    return _go(_note(state, f"caller pressed {digits} in menu {state.menu}"), action)


def on_timeout(state: CallState) -> Step:
    """Return the next step after the caller entered nothing at a CollectDigits step."""
    if state.pending is not None:
        return _language_chosen(state, "")
    menu = _waiting_menu(state)
    return _retry(
        state=state,
        menu=menu,
        why="no input before the timeout",
        prompt=menu.timeout_prompt,
        timeout=True,
    )


def on_max_wait(state: CallState) -> Step:
    """Return the next step when a queued call has waited the department's max_wait."""
    if state.department is None:
        raise NotWaitingError("on_max_wait needs the state of a Queue step")
    department = state.rules.document.departments[state.department]
    note = f"nobody answered in department {state.department} within its max_wait"
    return _go(_note(state, note), department.on_max_wait)


def after_call(state: CallState) -> Survey | None:
    """Return the department's after-call survey for a queued call, if it has one."""
    if state.department is None:
        raise NotWaitingError("after_call needs the state of a Queue step")
    survey = state.rules.document.departments[state.department].survey
    if survey is None:
        return None
    note = f"after-call survey of department {state.department}"
    return _survey_named(_note(state, note), survey)


def transfer(state: CallState, kind: str, target: str) -> Step:
    """Return the step for moving a call to `kind: target` (department, menu or dial)."""
    if kind not in ("department", "menu", "dial"):
        raise ValueError(f"a call can be transferred to a department, menu or number, not {kind}")
    action = Action.model_validate({kind: target})
    if kind != "dial":
        names = getattr(state.rules.document, f"{kind}s")
        if target not in names:
            raise ValueError(f"no {kind} named {target!r} in the rules")
    moved = replace(_note(state, f"transferred to {action}"), hops=0, attempts=0)
    return _go(moved, action)


def _note(state: CallState, text: str) -> CallState:
    return replace(state, trail=(*state.trail, text))


def _language(rules: Rules, facts: CallFacts, rule: EntryRule) -> tuple[str | None, str]:
    languages = rules.document.languages
    if rule.language is not None:
        return rule.language, f"language {rule.language} set by rule '{rule.name}'"
    known = facts.known_language
    if known in languages.available:
        return known, f"caller's known language {known}"
    if languages.selection is not None and rule.action.kind == "menu":
        return None, ""  # asked before the menu; calls not going to a menu use the default
    return languages.default, f"default language {languages.default}"


def _ask_language(state: CallState, pending: Action) -> Step:
    selection = state.rules.document.languages.selection
    assert selection is not None
    sound = state.rules.sound(selection.prompt, state.language)
    state = replace(state, pending=pending, menu=None, trail=(*state.trail, "asking language"))
    return CollectDigits(
        state=state,
        menu=LANGUAGE_MENU,
        prompts=(sound,),
        max_digits=1,
        min_digits=1,
        terminator=None,
        timeout=selection.timeout,
        sensitive=False,
    )


def _language_chosen(state: CallState, digits: str) -> Step:
    languages = state.rules.document.languages
    chosen = languages.selection.options.get(digits) if languages.selection else None
    note = f"caller chose language {chosen}" if chosen else "no language chosen"
    language = chosen or languages.default
    if not chosen:
        note += f": default language {language}"
    pending = state.pending
    assert pending is not None
    return _go(replace(_note(state, note), language=language, pending=None), pending)


def _waiting_menu(state: CallState) -> Menu:
    if state.menu is None:
        raise NotWaitingError("on_digits and on_timeout need the state of a CollectDigits step")
    return state.rules.document.menus[state.menu]


def _entry(state: CallState, menu: Menu, digits: str) -> Step:
    entry = menu.entry
    assert entry is not None
    value = digits.removesuffix(entry.terminator) if entry.terminator else digits
    if not (value.isdigit() and entry.min_length <= len(value) <= entry.max_length):
        shown = "an entry" if entry.sensitive else f"'{value}'"
        why = f"{shown} of {len(value)} digits where {entry.min_length}-{entry.max_length} fit"
        return _retry(state=state, menu=menu, why=why, prompt=menu.invalid_prompt, timeout=False)
    shown = "*" * len(value) if entry.sensitive else value
    state = replace(
        _note(state, f"caller entered {shown} as {entry.store_as} in menu {state.menu}"),
        entered={**state.entered, entry.store_as: value},
    )
    return _go(state, entry.then)


def _retry(state: CallState, menu: Menu, why: str, prompt: str | None, timeout: bool) -> Step:
    attempts = state.attempts + 1
    if attempts > menu.retries:
        action = (menu.on_timeout or menu.on_invalid) if timeout else menu.on_invalid
        note = f"menu {state.menu}: {why}; {menu.retries} retries used up"
        return _go(replace(_note(state, note), gave_up=True), action)
    state = replace(_note(state, f"menu {state.menu}: {why}; retry {attempts}"), attempts=attempts)
    prompts = (prompt, menu.prompt) if prompt else (menu.prompt,)
    return _collect(state, menu, prompts)


def _collect(state: CallState, menu: Menu, prompts: tuple[str, ...]) -> CollectDigits:
    sounds = tuple(state.rules.sound(name, state.language) for name in prompts)
    name = state.menu or ""
    entry = menu.entry
    if entry is None:
        return CollectDigits(
            state=state,
            menu=name,
            prompts=sounds,
            max_digits=1,
            min_digits=1,
            terminator=None,
            timeout=menu.timeout,
            sensitive=False,
        )
    longest = entry.max_length + (1 if entry.terminator else 0)
    return CollectDigits(
        state=state,
        menu=name,
        prompts=sounds,
        max_digits=longest,
        min_digits=entry.min_length,
        terminator=entry.terminator,
        timeout=menu.timeout,
        sensitive=entry.sensitive,
    )


def _go(state: CallState, action: Action) -> Step:
    if state.hops >= MAX_HOPS:
        return Hangup(_note(state, f"gave up after {MAX_HOPS} automatic transitions"))
    state = replace(state, hops=state.hops + 1)
    return _GO[action.kind](state, action)


def _menu(state: CallState, action: Action) -> Step:
    menu = state.rules.document.menus[action.target]
    closed = _closed(state, menu.schedule, f"menu {action.target}", menu.when_closed)
    if closed is not None:
        return closed
    state = replace(state, menu=action.target, department=None, attempts=0, gave_up=False)
    return _collect(_note(state, f"menu {action.target}"), menu, (menu.prompt,))


def _department(state: CallState, action: Action) -> Step:
    name = action.target
    department = state.rules.document.departments[name]
    closed = _closed(state, department.schedule, f"department {name}", department.when_closed)
    if closed is not None:
        return closed
    note = f"department {name}: {department.strategy} over {len(department.agents)} agent(s)"
    state = replace(_note(state, note), menu=None, department=name)
    if not department.recording:
        return Queue(state=state, name=name, config=department, consent=None)
    notice = consent_notice(state.rules, state.facts.direction, name, state.language)
    return Queue(
        state=state,
        name=name,
        config=department,
        consent=notice.sound if notice else None,
        notice=notice,
    )


def consent_notice(
    rules: Rules, direction: str, department: str | None, language: str
) -> ConsentPlay | None:
    """Return the notice a recorded call hears: the department's own, else the general one."""
    document = rules.document
    dept = document.departments.get(department) if department else None
    own = getattr(dept.consent, direction) if dept is not None and dept.consent else None
    notice = own or getattr(document.announcements.consent, direction)
    if notice is None:
        return None
    heard, sound = rules.spoken(notice.prompt, language)
    return ConsentPlay(sound=sound, version=notice.version or sound, language=heard)


def _closed(state: CallState, schedule: str | None, what: str, then: Action | None) -> Step | None:
    if schedule is None:
        return None
    rules = state.rules
    status = opening(rules.document.schedules[schedule], rules.zone_of(schedule), state.facts.at)
    if status.is_open:
        return None
    state = replace(
        _note(state, f"{what} is {status.reason} (schedule {schedule})"), out_of_hours=True
    )
    if then is not None:
        return _go(state, then)
    closed = rules.document.announcements.closed
    if closed is None:
        return Hangup(state)
    return PlayAndHangup(state, closed, rules.sound(closed, state.language), closed=True)


def _play_and_hangup(state: CallState, action: Action) -> Step:
    note = f"play {action.target} and hang up"
    closed = state.out_of_hours or action.target == state.rules.document.announcements.closed
    return PlayAndHangup(
        _note(state, note),
        action.target,
        state.rules.sound(action.target, state.language),
        closed=closed,
    )


def _survey(state: CallState, action: Action) -> Survey:
    return _survey_named(state, action.target)


def _survey_named(state: CallState, name: str) -> Survey:
    plan = plan_survey(state.rules, name, state.language)
    max_digit = state.rules.document.surveys[name].max_digit
    questions = tuple(question.sound for question in plan.questions)
    return Survey(
        state=_note(state, f"survey {name}"),
        name=name,
        questions=questions,
        max_digit=max_digit,
        thanks=plan.thanks,
        plan=plan,
    )


def _voicemail(state: CallState, action: Action) -> Step:
    prompt = state.rules.document.announcements.voicemail
    note = _note(state, f"voicemail {action.target}")
    if prompt is None:
        return Voicemail(note, action.target)
    return Voicemail(note, action.target, state.rules.sound(prompt, state.language))


def _dial(state: CallState, action: Action) -> Step:
    return Dial(_note(state, "dial an external number"), action.target)


def _callback(state: CallState, action: Action) -> Step:
    note = f"offer a callback from department {action.target}"
    return OfferCallback(_note(state, note), action.target)


def _invalid(state: CallState, action: Action) -> Step:
    return Hangup(_note(state, "'invalid' used outside a menu option"))


_GO: dict[str, Callable[[CallState, Action], Step]] = {
    "menu": _menu,
    "department": _department,
    "voicemail": _voicemail,
    "dial": _dial,
    "play_and_hangup": _play_and_hangup,
    "survey": _survey,
    "callback": _callback,
    "invalid": _invalid,
}
