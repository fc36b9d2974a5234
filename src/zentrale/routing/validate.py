"""Whole-document checks that single values cannot make: references, loops, dead ends.

Runs on a schema-valid `RoutingDocument` and returns findings as (path, message, severity);
the loader turns the paths into line and column. Errors refuse the file, warnings do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from zentrale.routing.errors import DocPath, Severity
from zentrale.routing.schema import Action, Consent, Notice, RoutingDocument

Finding = tuple[DocPath, str, Severity]
Node = tuple[str, str]

_INPUT = re.compile(r"^([0-9*#]{1,32}|timeout)$")
# A voicemail box is a department's: `{voicemail: sales}` names the box of department sales.
_SECTION = {
    "menu": "menus",
    "department": "departments",
    "survey": "surveys",
    "voicemail": "departments",
}


def check_document(doc: RoutingDocument) -> list[Finding]:
    """Return every finding about `doc`, errors and warnings alike."""
    checks = (
        _action_references,
        _prompt_references,
        _schedule_references,
        _languages,
        _zones_and_holidays,
        _departments,
        _menus,
        _entry_rules,
        _automatic_loops,
        _unreachable_menus,
        _expect_cases,
        _consent_languages,
    )
    return [finding for check in checks for finding in check(doc)]


def actions(doc: RoutingDocument) -> Iterator[tuple[DocPath, Action]]:
    """Yield every action in the document with its path (not the `expect:` cases)."""
    for name, dept in doc.departments.items():
        yield ("departments", name, "on_max_wait"), dept.on_max_wait
        if dept.when_closed is not None:
            yield ("departments", name, "when_closed"), dept.when_closed
    for name, menu in doc.menus.items():
        yield from _menu_actions(name, menu)
    for index, rule in enumerate(doc.entry_rules):
        yield ("entry_rules", index, "action"), rule.action


def _menu_actions(name: str, menu: object) -> Iterator[tuple[DocPath, Action]]:
    for key, action in getattr(menu, "options", {}).items():
        yield ("menus", name, "options", key), action
    entry = getattr(menu, "entry", None)
    if entry is not None:
        yield ("menus", name, "entry", "then"), entry.then
    for field in ("on_invalid", "on_timeout", "when_closed"):
        action = getattr(menu, field, None)
        if action is not None:
            yield ("menus", name, field), action


def _action_references(doc: RoutingDocument) -> Iterator[Finding]:
    for path, action in actions(doc):
        problem = _reference_problem(doc, action, path)
        if problem:
            yield path, problem, "error"


def _reference_problem(doc: RoutingDocument, action: Action, path: DocPath) -> str | None:
    if action.kind == "invalid":
        if path[0] == "menus" and path[2] == "options":
            return None
        return "'invalid' is only allowed as a menu option"
    kind = "department" if action.kind == "callback" else action.kind
    if kind == "play_and_hangup" and action.target not in doc.prompts:
        return f"unknown prompt '{action.target}'{_known(doc.prompts)}"
    section = _SECTION.get(kind)
    names: dict[str, object] | None = getattr(doc, section) if section else None
    if names is not None and action.target not in names:
        what = "voicemail box (a department's)" if kind == "voicemail" else kind
        return f"unknown {what} '{action.target}'{_known(names)}"
    return None


def _known(names: object) -> str:
    listed = ", ".join(sorted(str(name) for name in names))[:200]  # type: ignore[attr-defined]
    return f" (defined: {listed})" if listed else " (none defined)"


def _prompt_uses(doc: RoutingDocument) -> Iterator[tuple[DocPath, str | None]]:
    for name, menu in doc.menus.items():
        for field in ("prompt", "invalid_prompt", "timeout_prompt"):
            yield ("menus", name, field), getattr(menu, field)
    if doc.languages.selection is not None:
        yield ("languages", "selection", "prompt"), doc.languages.selection.prompt
    for path, notice in consent_notices(doc):
        yield path, notice.prompt
    yield ("announcements", "closed"), doc.announcements.closed
    yield ("announcements", "voicemail"), doc.announcements.voicemail
    for name, survey in doc.surveys.items():
        for index, question in enumerate(survey.questions):
            yield ("surveys", name, "questions", index, "prompt"), question.prompt
        yield ("surveys", name, "thanks"), survey.thanks
        yield ("surveys", name, "retry_prompt"), survey.retry_prompt


def consent_notices(doc: RoutingDocument) -> Iterator[tuple[DocPath, Notice]]:
    """Yield every consent notice (global, then per department) with its path."""
    sections: list[tuple[DocPath, Consent]] = [
        (("announcements", "consent"), doc.announcements.consent)
    ]
    sections += [
        (("departments", name, "consent"), dept.consent)
        for name, dept in doc.departments.items()
        if dept.consent is not None
    ]
    for path, consent in sections:
        for direction in ("inbound", "outbound"):
            notice = getattr(consent, direction)
            if notice is not None:
                yield (*path, direction), notice


def _consent_languages(doc: RoutingDocument) -> Iterator[Finding]:
    for path, notice in consent_notices(doc):
        sounds = doc.prompts.get(notice.prompt, {})
        missing = [code for code in doc.languages.available if code not in sounds]
        if sounds and "*" not in sounds and missing:
            message = (
                f"consent notice '{notice.prompt}' has no sound in {', '.join(missing)}: "
                "those callers hear it in the fallback language"
            )
            yield path, message, "warning"


def _prompt_references(doc: RoutingDocument) -> Iterator[Finding]:
    for path, prompt in _prompt_uses(doc):
        if prompt is not None and prompt not in doc.prompts:
            yield path, f"unknown prompt '{prompt}'", "error"


def _schedule_references(doc: RoutingDocument) -> Iterator[Finding]:
    uses: list[tuple[DocPath, str | None]] = [
        *((("departments", n, "schedule"), d.schedule) for n, d in doc.departments.items()),
        *((("menus", n, "schedule"), m.schedule) for n, m in doc.menus.items()),
        *(
            (("entry_rules", i, "match", "schedule"), r.match.schedule)
            for i, r in enumerate(doc.entry_rules)
        ),
    ]
    for path, name in uses:
        if name is not None and name not in doc.schedules:
            yield path, f"unknown schedule '{name}'{_known(doc.schedules)}", "error"


def _languages(doc: RoutingDocument) -> Iterator[Finding]:
    langs = doc.languages
    available = set(langs.available)
    for field, code in (("default", langs.default), ("fallback", langs.fallback)):
        if code is not None and code not in available:
            yield ("languages", field), f"'{code}' is not in languages.available", "error"
    if langs.selection is not None:
        for key, code in langs.selection.options.items():
            if code not in available:
                path = ("languages", "selection", "options", key)
                yield path, f"'{code}' is not in languages.available", "error"
    for index, rule in enumerate(doc.entry_rules):
        for code in (rule.language, *rule.match.language):
            if code is not None and code not in available:
                yield ("entry_rules", index), f"'{code}' is not in languages.available", "error"
    yield from _prompt_languages(doc, available)


def _prompt_languages(doc: RoutingDocument, available: set[str]) -> Iterator[Finding]:
    reachable = {doc.languages.default, doc.languages.fallback, "*"}
    for name, sounds in doc.prompts.items():
        for code in sounds:
            if code != "*" and code not in available:
                message = f"'{code}' is not in languages.available"
                yield ("prompts", name, code), message, "error"
        if not reachable.intersection(sounds):
            message = "has no sound for the default or the fallback language"
            yield ("prompts", name), message, "error"


def _zones_and_holidays(doc: RoutingDocument) -> Iterator[Finding]:
    if not zone_exists(doc.timezone):
        yield ("timezone",), f"unknown time zone '{doc.timezone}'", "error"
    for name, schedule in doc.schedules.items():
        if schedule.timezone is not None and not zone_exists(schedule.timezone):
            message = f"unknown time zone '{schedule.timezone}'"
            yield ("schedules", name, "timezone"), message, "error"
        for index, source in enumerate(schedule.holidays):
            problem = _holiday_problem(source.country, source.subdiv)
            if problem:
                yield ("schedules", name, "holidays", index), problem, "error"


@cache
def zone_exists(name: str) -> bool:
    """Return whether the IANA time zone `name` is known."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def _holiday_problem(country: str, subdiv: str | None) -> str | None:
    supported = holidays.list_supported_countries()
    if country not in supported:
        return f"no public holidays known for country '{country}'"
    if subdiv is not None and subdiv not in supported[country]:
        return f"'{subdiv}' is not a subdivision of {country}: {', '.join(supported[country])}"
    return None


def _departments(doc: RoutingDocument) -> Iterator[Finding]:
    for name, dept in doc.departments.items():
        if not dept.agents:
            yield ("departments", name, "agents"), "has no agents: a dead end", "error"
        if dept.survey is not None and dept.survey not in doc.surveys:
            yield ("departments", name, "survey"), f"unknown survey '{dept.survey}'", "error"
        if dept.schedule and dept.when_closed is None and doc.announcements.closed is None:
            message = _NO_CLOSED_ACTION
            yield ("departments", name, "schedule"), message, "error"


_NO_CLOSED_ACTION = (
    "has a schedule but no 'when_closed' action and there is no announcements.closed: "
    "callers would reach a dead end outside opening hours"
)


def _menus(doc: RoutingDocument) -> Iterator[Finding]:
    for name, menu in doc.menus.items():
        if not menu.options and menu.entry is None:
            yield ("menus", name), "has neither options nor entry: a dead end", "error"
        if menu.options and menu.entry is not None:
            message = "a menu either offers options or collects an entry, not both"
            yield ("menus", name, "entry"), message, "error"
        if menu.schedule and menu.when_closed is None and doc.announcements.closed is None:
            yield ("menus", name, "schedule"), _NO_CLOSED_ACTION, "error"


def _entry_rules(doc: RoutingDocument) -> Iterator[Finding]:
    catch_all = next(
        (i for i, rule in enumerate(doc.entry_rules) if not rule.match.model_fields_set), None
    )
    if catch_all is None:
        message = "no rule matches every call: end the list with a rule without 'match'"
        yield ("entry_rules",), message, "error"
        return
    for index in range(catch_all + 1, len(doc.entry_rules)):
        message = f"never used: rule {catch_all} ('{doc.entry_rules[catch_all].name}') "
        message += "already matches every call"
        yield ("entry_rules", index), message, "warning"


def _automatic_edges(doc: RoutingDocument) -> dict[Node, list[tuple[Node, DocPath]]]:
    """Transitions that happen without asking the caller anything."""
    edges: dict[Node, list[tuple[Node, DocPath]]] = {}
    for path, action in actions(doc):
        if path[0] == "entry_rules" or path[-1] not in ("on_max_wait", "when_closed"):
            continue
        if action.kind in ("menu", "department"):
            source = ("menu" if path[0] == "menus" else "department", str(path[1]))
            edges.setdefault(source, []).append(((action.kind, action.target), path))
    return edges


def _automatic_loops(doc: RoutingDocument) -> Iterator[Finding]:
    edges = _automatic_edges(doc)
    reported: set[frozenset[Node]] = set()
    for start in sorted(edges):
        cycle = _find_cycle(edges, start)
        if cycle is None or frozenset(node for node, _ in cycle) in reported:
            continue
        reported.add(frozenset(node for node, _ in cycle))
        route = " -> ".join(f"{kind} {name}" for (kind, name), _ in cycle)
        message = f"loops without asking the caller anything: {route} -> {start[0]} {start[1]}"
        yield cycle[0][1], message, "error"


def _find_cycle(
    edges: dict[Node, list[tuple[Node, DocPath]]], start: Node
) -> list[tuple[Node, DocPath]] | None:
    """Return the edges of a cycle through `start` as (node, path of its edge), if any."""
    stack: list[tuple[Node, list[tuple[Node, DocPath]]]] = [(start, [])]
    seen: set[Node] = set()
    while stack:
        node, trail = stack.pop()
        for target, path in edges.get(node, []):
            step = [*trail, (node, path)]
            if target == start:
                return step
            if target not in seen:
                seen.add(target)
                stack.append((target, step))
    return None


def _unreachable_menus(doc: RoutingDocument) -> Iterator[Finding]:
    targets: dict[Node, list[Node]] = {}
    for path, action in actions(doc):
        source = ("menu" if path[0] == "menus" else str(path[0])[:-1], str(path[1]))
        if path[0] == "entry_rules":
            source = ("root", "")
        targets.setdefault(source, []).append((_node_kind(action), action.target))
    seen: set[Node] = set()
    todo = list(targets.get(("root", ""), []))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(targets.get(node, []))
    for name in doc.menus:
        if ("menu", name) not in seen:
            yield ("menus", name), "unreachable: no rule or option leads here", "warning"


def _node_kind(action: Action) -> str:
    return "department" if action.kind == "callback" else action.kind


def _expect_cases(doc: RoutingDocument) -> Iterator[Finding]:
    for index, case in enumerate(doc.expect):
        for position, entered in enumerate(case.digits):
            if not _INPUT.match(entered):
                message = f"'{entered}' is neither keypad keys nor 'timeout'"
                yield ("expect", index, "digits", position), message, "error"
        problem = _reference_problem(doc, case.goes_to, ("expect", index, "goes_to"))
        if problem:
            yield ("expect", index, "goes_to"), problem, "error"
        if case.language is not None and case.language not in doc.languages.available:
            message = f"'{case.language}' is not in languages.available"
            yield ("expect", index, "language"), message, "error"
