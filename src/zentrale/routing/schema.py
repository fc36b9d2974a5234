"""The versioned routing schema (version 1) as immutable pydantic models.

This module says what a routing file may contain and checks each value on its own: unknown
keys, durations, clock times, keypad keys, sound references. Whether the names a value refers
to exist, and whether the whole document makes a usable call flow, is `validate.py`'s job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from zentrale.routing.durations import Seconds, TimeRange
from zentrale.routing.scale import Scale, parse_scale

SCHEMA_VERSION = 1

ActionKind = Literal[
    "menu", "department", "voicemail", "dial", "play_and_hangup", "survey", "callback", "invalid"
]
ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)
Strategy = Literal["ring_all", "round_robin", "longest_idle", "in_order", "random"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_SOUND = re.compile(r"^(sound|recording|digits|number|characters|tone):\S+$")
_ENDPOINT = re.compile(r"^(PJSIP|SIP|IAX2|Local|DAHDI)/\S+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_DIALABLE = re.compile(r"^\+?[0-9]{2,20}$")


def _check(pattern: re.Pattern[str], explain: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' {explain}")
        return value

    return AfterValidator(check)


def _keypad_key(value: object) -> str:
    text = str(value)
    if text not in set("0123456789*#"):
        raise ValueError(f"'{text}' is not a keypad key; use one of 0-9, * or #")
    return text


Name = Annotated[str, _check(_NAME, "is not a name; use letters, digits, _ and -")]
Sound = Annotated[
    str, _check(_SOUND, "is not a sound reference; write it like sound:de/willkommen")
]
Endpoint = Annotated[str, _check(_ENDPOINT, "is not an endpoint like PJSIP/1001")]
Language = Annotated[str, _check(_LANGUAGE, "is not a language code like de, tr or en")]
Dialable = Annotated[str, _check(_DIALABLE, "is not a phone number like +4930123456")]
Key = Annotated[str, BeforeValidator(_keypad_key)]


def _customer_fields(value: object) -> object:
    """Let `customer: {vip: true}` be written as YAML booleans (records give "true"/"false")."""
    if isinstance(value, Mapping):
        return {k: str(v).lower() if isinstance(v, bool) else v for k, v in value.items()}
    return value


CustomerFields = Annotated[dict[str, str], BeforeValidator(_customer_fields)]
"""Fields of the caller's customer record: vip, language, customer_number (see facts.py)."""


class Strict(BaseModel):
    """Base for every schema model: frozen, and unknown keys are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, populate_by_name=False
    )


class Action(Strict):
    """Where a call goes next, written in YAML as one `kind: target` pair."""

    kind: ActionKind
    target: str

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, Action):
            return value
        if value == "invalid":
            return {"kind": "invalid", "target": ""}
        if isinstance(value, Mapping) and len(value) == 1:
            ((kind, target),) = value.items()
            if kind in ACTION_KINDS and kind != "invalid":
                return {"kind": kind, "target": _action_target(str(kind), target)}
        raise ValueError(
            "an action is one pair like 'department: sales'; the kinds are "
            + ", ".join(kind for kind in ACTION_KINDS if kind != "invalid")
        )

    def __str__(self) -> str:
        return self.kind if self.kind == "invalid" else f"{self.kind}: {self.target}"


def _action_target(kind: str, target: object) -> str:
    if isinstance(target, int) and not isinstance(target, bool):
        target = str(target)
    if not isinstance(target, str) or not target:
        raise ValueError(f"'{kind}' needs a name after it, like '{kind}: sales'")
    if kind == "dial" and not _DIALABLE.match(target):
        raise ValueError(f"'{target}' is not a phone number like +4930123456")
    return target


class Agent(Strict):
    """An agent's phone as Asterisk knows it, and the agent's name."""

    endpoint: Endpoint
    name: str


class Disposition(Strict):
    """A wrap-up code an agent picks for a call of the department (sale, complaint, ...)."""

    code: Name
    label: Annotated[str, Field(min_length=1, max_length=64)]


def _unique_codes(value: tuple[Disposition, ...]) -> tuple[Disposition, ...]:
    codes = [disposition.code for disposition in value]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"disposition codes repeat: {', '.join(repeated)}")
    return value


class Department(Strict):
    """A queue of agents with its ring strategy and what happens when nobody answers."""

    agents: tuple[Agent, ...]
    strategy: Strategy = "ring_all"
    ring_timeout: Seconds = 20.0
    max_wait: Seconds = 300.0
    on_max_wait: Action
    hold_music: str = "default"
    wrap_up: Seconds = 0.0
    recording: bool = False
    survey: Name | None = None
    schedule: Name | None = None
    when_closed: Action | None = None
    consent: Consent | None = None
    """This department's own consent notice per direction (else announcements.consent)."""
    dispositions: Annotated[tuple[Disposition, ...], AfterValidator(_unique_codes)] = ()
    """The codes agents pick at wrap-up; none: wrap-up takes notes without a code."""

    def disposition(self, code: str) -> Disposition | None:
        """Return the disposition CODE of this department, if it has one."""
        return next((d for d in self.dispositions if d.code == code), None)


def _closed_days(value: object) -> tuple[dt.date, dt.date]:
    if isinstance(value, dt.date):
        return value, value
    first, _, last = str(value).partition("..")
    try:
        start = dt.date.fromisoformat(first.strip())
        end = dt.date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise ValueError(
            f"'{value}' is not a day or range; write 2026-12-31 or 2026-12-24..2026-12-26"
        ) from None
    if end < start:
        raise ValueError(f"'{value}' ends before it starts")
    return start, end


ClosedDays = Annotated[tuple[dt.date, dt.date], BeforeValidator(_closed_days)]


class HolidaySource(Strict):
    """Public holidays of a country, optionally of one of its states or provinces."""

    country: str
    subdiv: str | None = None


class Schedule(Strict):
    """Opening hours: a weekly pattern, public holidays, closed days and half days."""

    timezone: str | None = None
    weekly: dict[Weekday, tuple[TimeRange, ...]]
    holidays: tuple[HolidaySource, ...] = ()
    closed: tuple[ClosedDays, ...] = ()
    half_days: dict[dt.date, tuple[TimeRange, ...]] = Field(default_factory=dict)


class DigitEntry(Strict):
    """A multi-digit entry such as a customer or card number."""

    min_length: int = Field(default=1, ge=1)
    max_length: int = Field(ge=1, le=32)
    terminator: Key | None = "#"
    store_as: Name
    sensitive: bool = False
    then: Action

    @model_validator(mode="after")
    def _lengths(self) -> DigitEntry:
        if self.min_length > self.max_length:
            raise ValueError("min_length is larger than max_length")
        return self


class Menu(Strict):
    """A prompt and what each keypad key (or a digit entry) does, with retries."""

    prompt: Name
    options: dict[Key, Action] = Field(default_factory=dict)
    entry: DigitEntry | None = None
    timeout: Seconds = 5.0
    retries: int = Field(default=2, ge=0, le=10)
    invalid_prompt: Name | None = None
    timeout_prompt: Name | None = None
    on_invalid: Action
    on_timeout: Action | None = None
    schedule: Name | None = None
    when_closed: Action | None = None


class LanguageSelection(Strict):
    """A menu asking callers whose language is unknown to choose one."""

    prompt: Name
    options: dict[Key, Language]
    timeout: Seconds = 5.0


class Languages(Strict):
    """Which languages prompts exist in, the default and the fallback."""

    available: tuple[Language, ...] = Field(min_length=1)
    default: Language
    fallback: Language | None = None
    selection: LanguageSelection | None = None


class Match(Strict):
    """Conditions of an entry rule; all given ones must hold, none given matches any call."""

    did: tuple[str, ...] = ()
    caller: tuple[str, ...] = ()
    language: tuple[Language, ...] = ()
    customer: CustomerFields = Field(default_factory=dict)
    schedule: Name | None = None
    open: bool | None = None
    hours: tuple[TimeRange, ...] = ()

    @model_validator(mode="after")
    def _schedule_state(self) -> Match:
        if (self.schedule is None) != (self.open is None):
            raise ValueError("'schedule' and 'open' go together: schedule: office, open: false")
        return self


class EntryRule(Strict):
    """A rule tried, in order, before the first menu; the first that matches wins."""

    name: str
    match: Match = Field(default_factory=Match)
    language: Language | None = None
    priority: int = Field(default=0, ge=0, le=9)
    action: Action


def _notice(value: object) -> object:
    # The first schema named just the prompt; that form stays valid (no version label).
    return {"prompt": value} if isinstance(value, str) else value


class Notice(Strict):
    """A recording-consent notice: its prompt (one sound per language) and a version label."""

    prompt: Name
    version: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    """Stored with the call; without one the call names the sound played."""


ConsentNotice = Annotated[Notice, BeforeValidator(_notice)]


class Consent(Strict):
    """The recording-consent notice per call direction: a prompt name, or prompt and version."""

    inbound: ConsentNotice | None = None
    outbound: ConsentNotice | None = None


class Announcements(Strict):
    """Notices the engine plays on its own: recording consent, the closed message, the
    voicemail greeting."""

    consent: Consent = Field(default_factory=Consent)
    closed: Name | None = None
    voicemail: Name | None = None
    """The greeting before a message is recorded, per language like every prompt; without
    it, Asterisk's own `vm-intro` in the caller's language (English when not installed)."""
    replay_on_transfer: bool = True
    """Play the consent notice again when a transferred call reaches a new party."""


def _question(value: object) -> object:
    # The first schema had bare prompt names; they stay valid (scale from max_digit).
    return {"prompt": value} if isinstance(value, str) else value


def _scale(value: object) -> str:
    return parse_scale(str(value)).text


class Question(Strict):
    """One survey question: its prompt (per language), answer scale, timeout and retries."""

    prompt: Name
    id: Name | None = None
    """Name the answers are stored under (default: the prompt's name)."""
    scale: Annotated[str, BeforeValidator(_scale)] | None = None
    """1-5 (any 1-N), 0-9, 0-10 (NPS), yes/no (1 = yes, 2 = no); default 1..max_digit."""
    timeout: Seconds = 8.0
    retries: int = Field(default=1, ge=0, le=5)

    @property
    def name(self) -> str:
        """Return the name answers are stored under."""
        return self.id or self.prompt


class Survey(Strict):
    """A short survey after a call or in an outbound campaign."""

    questions: tuple[Annotated[Question, BeforeValidator(_question)], ...] = Field(min_length=1)
    max_digit: int = Field(default=5, ge=1, le=9)
    """Scale of questions that name none: keys 1 to max_digit."""
    thanks: Name | None = None
    retry_prompt: Name | None = None
    """Played before a question is asked again (after silence or a key off the scale)."""

    def scale_of(self, question: Question) -> Scale:
        """Return QUESTION's answer scale."""
        return parse_scale(question.scale or f"1-{self.max_digit}")

    @model_validator(mode="after")
    def _unique_names(self) -> Survey:
        names = [question.name for question in self.questions]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"question names repeat: {', '.join(repeated)}; give each an id")
        return self


class ExpectCase(Strict):
    """A supervisor's test: a call's facts and where it must end up."""

    name: str
    at: dt.datetime
    caller: str | None = None
    did: str = ""
    language: Language | None = None
    customer: CustomerFields = Field(default_factory=dict)
    digits: tuple[str, ...] = ()
    goes_to: Action


def _supported_version(value: int) -> int:
    if value != SCHEMA_VERSION:
        raise ValueError(
            f"routing schema version {value} is not supported; "
            f"this zentrale reads version {SCHEMA_VERSION}"
        )
    return value


def _prompt_sounds(value: object) -> object:
    return {"*": value} if isinstance(value, str) else value


Prompt = Annotated[dict[str, Sound], BeforeValidator(_prompt_sounds)]


class RoutingDocument(Strict):
    """A whole routing file."""

    version: Annotated[int, AfterValidator(_supported_version)]
    timezone: str
    languages: Languages
    prompts: dict[Name, Prompt]
    announcements: Announcements = Field(default_factory=Announcements)
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    departments: dict[Name, Department]
    menus: dict[Name, Menu] = Field(default_factory=dict)
    surveys: dict[Name, Survey] = Field(default_factory=dict)
    entry_rules: tuple[EntryRule, ...] = Field(min_length=1)
    expect: tuple[ExpectCase, ...] = ()
