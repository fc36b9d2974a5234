"""Property tests: generated valid documents never crash the engine, and mutated documents
either validate or fail with located errors, never with an exception."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from zentrale.routing.engine import after_call, on_digits, on_max_wait, on_timeout, start
from zentrale.routing.errors import InvalidRulesError, Issue
from zentrale.routing.facts import CallFacts
from zentrale.routing.load import parse_rules
from zentrale.routing.steps import CollectDigits, Queue, StepBase

from .support import BASE, ISTANBUL

KEYS = list("0123456789*#")
SETTINGS = settings(max_examples=60, deadline=None)


def dump(tree: Any) -> str:
    stream = io.StringIO()
    YAML(typ="rt").dump(tree, stream)
    return stream.getvalue()


@st.composite
def actions(draw: st.DrawFn, menus: list[str], departments: list[str]) -> dict[str, str]:
    kind = draw(
        st.sampled_from(
            ["menu", "department", "voicemail", "dial", "play_and_hangup", "survey", "callback"]
        )
    )
    target = {
        "menu": st.sampled_from(menus),
        "department": st.sampled_from(departments),
        "callback": st.sampled_from(departments),
        "voicemail": st.sampled_from(departments),  # a box is a department's
        "dial": st.sampled_from(["+4930123456", "+902421234567"]),
        "play_and_hangup": st.sampled_from(["hello", "bye"]),
        "survey": st.just("poll"),
    }[kind]
    return {kind: draw(target)}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    menus = [f"m{i}" for i in range(draw(st.integers(1, 4)))]
    departments = [f"d{i}" for i in range(draw(st.integers(1, 4)))]
    action = actions(menus, departments)
    return {
        "version": 1,
        "timezone": "Europe/Istanbul",
        "languages": {
            "available": ["de", "tr"],
            "default": "de",
            "selection": {"prompt": "hello", "options": {"1": "de", "2": "tr"}},
        },
        "prompts": {
            "hello": {"de": "sound:de/hallo", "tr": "sound:tr/merhaba"},
            "bye": "sound:vm-goodbye",
        },
        "announcements": {"consent": {"inbound": "hello"}, "closed": "bye"},
        "schedules": {
            "s": {
                "weekly": {"mon": ["09:00-12:00", "13:00-17:00"]},
                "holidays": [{"country": "TR"}],
            }
        },
        "departments": {name: _department(draw) for name in departments},
        "menus": {name: _menu(draw, action) for name in menus},
        "surveys": {"poll": {"questions": ["hello"], "thanks": "bye"}},
        "entry_rules": [
            *draw(st.lists(_entry_rule(action), max_size=4)),
            {"name": "all", "action": draw(action)},
        ],
    }


def _department(draw: st.DrawFn) -> dict[str, Any]:
    department: dict[str, Any] = {
        "agents": [{"endpoint": "PJSIP/1001", "name": "A"}],
        "on_max_wait": {"voicemail": "d0"},  # overflow between departments could loop
        "recording": draw(st.booleans()),
        "survey": draw(st.sampled_from([None, "poll"])),
    }
    if draw(st.booleans()):
        department["schedule"] = "s"
    return {key: value for key, value in department.items() if value is not None}


def _menu(draw: st.DrawFn, action: st.SearchStrategy[dict[str, str]]) -> dict[str, Any]:
    menu: dict[str, Any] = {
        "prompt": "hello",
        "on_invalid": {"play_and_hangup": "bye"},
        "retries": draw(st.integers(0, 2)),
    }
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True))
        menu["options"] = {key: draw(action | st.just("invalid")) for key in keys}
    else:
        menu["entry"] = {"max_length": 4, "store_as": "x", "then": draw(action)}
    return menu


def _entry_rule(action: st.SearchStrategy[dict[str, str]]) -> st.SearchStrategy[dict[str, Any]]:
    match = st.one_of(
        st.fixed_dictionaries({"did": st.just(["+902420000001"])}),
        st.fixed_dictionaries({"caller": st.just(["+90532*", "+49?5*"])}),
        st.fixed_dictionaries({"hours": st.just(["20:00-24:00"])}),
        st.fixed_dictionaries({"schedule": st.just("s"), "open": st.booleans()}),
        st.fixed_dictionaries({"customer": st.just({"tier": "vip"})}),
        st.fixed_dictionaries({"language": st.just(["tr"])}),
    )
    return st.fixed_dictionaries({"name": st.just("r"), "match": match, "action": action})


call_facts = st.builds(
    CallFacts,
    at=st.datetimes(
        dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31), timezones=st.just(ISTANBUL)
    ),
    dialled=st.sampled_from(["", "+902420000001"]),
    caller=st.sampled_from([None, "+905321112233", "+4915112345678"]),
    language=st.sampled_from([None, "tr", "de", "fr"]),
    customer=st.sampled_from([{}, {"tier": "vip"}, {"language": "tr"}]),
    direction=st.sampled_from(["inbound", "outbound"]),
)
inputs = st.lists(st.sampled_from([*KEYS, "12", "1234#", "", "timeout"]), max_size=8)


@SETTINGS
@given(document=documents(), facts=call_facts, entered=inputs)
def test_valid_documents_never_crash_the_engine(
    document: dict[str, Any], facts: CallFacts, entered: list[str]
) -> None:
    rules = parse_rules(dump(document))
    step = start(rules, facts)
    for keys in entered:
        if not isinstance(step, CollectDigits):
            break
        step = on_timeout(step.state) if keys == "timeout" else on_digits(step.state, keys)
    assert isinstance(step, StepBase)
    assert step.reason
    assert step.state.rules is rules
    if isinstance(step, Queue):
        assert isinstance(on_max_wait(step.state), StepBase)
        after_call(step.state)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


BASE_TREE = YAML(typ="rt").load(BASE)
BASE_PATHS = [path for path in _paths(BASE_TREE) if path]
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.text(max_size=12),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.sampled_from(["20s", "invalid", "sound:x", "menu"]),
)


def issues_or_none(text: str) -> tuple[Issue, ...] | None:
    """Return the issues refusing `text`, or None when it is valid; anything else raises."""
    try:
        parse_rules(text)
    except InvalidRulesError as error:
        return error.issues
    return None


def assert_valid_or_located(text: str) -> None:
    issues = issues_or_none(text)
    if issues is not None:
        assert issues
        for issue in issues:
            assert issue.line >= 1
            assert issue.column >= 1
            assert issue.message


@SETTINGS
@given(path=st.sampled_from(BASE_PATHS), value=odd_values, delete=st.booleans())
def test_mutated_trees_validate_or_fail_with_a_location(
    path: tuple[Any, ...], value: Any, delete: bool
) -> None:
    tree = YAML(typ="rt").load(BASE)
    parent = tree
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    assert_valid_or_located(dump(tree))


@SETTINGS
@given(
    line=st.integers(0, BASE.count("\n") - 1),
    column=st.integers(0, 40),
    junk=st.text(alphabet=" :-[]{}#'\"\t\n0123456789abcz*&!|>%@`", max_size=4),
)
def test_mutated_text_validates_or_fails_with_a_location(line: int, column: int, junk: str) -> None:
    lines = BASE.splitlines(keepends=True)
    target = lines[line]
    lines[line] = target[:column] + junk + target[column + len(junk) :]
    assert_valid_or_located("".join(lines))
