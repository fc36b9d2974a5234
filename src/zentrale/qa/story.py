"""The call story: a call's timeline told in plain sentences, in German or English.

QA staff read "Caller chose 3 (billing) in the main menu", "Waited 12 s in billing",
"Elif Şahin answered" instead of raw events. Pure functions of the timeline (the events'
kind, time and detail), the agents' names and the language; the raw timeline stays in the API.

Digits of a sensitive entry never appear: the call store already keeps `***` in their place,
and the story also hides any entry that is masked, flagged `sensitive`, or typed while the
recording was paused (a pause is how a flow keeps a card number out of the audio).
An event kind the story does not know is told in a neutral sentence naming it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zentrale.calls.models import EventKind

MASK = "***"
Texts = Mapping[str, str]


class TimelineEvent(Protocol):
    """What the story reads of a timeline entry (a `CallEvent` row fits)."""

    @property
    def at(self) -> dt.datetime: ...
    @property
    def kind(self) -> EventKind | str: ...
    @property
    def detail(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One sentence of the story: when, where in the audio (None: before it) and what."""

    at: dt.datetime
    offset_s: float | None
    kind: str
    text: str


SENTENCES: Mapping[str, Texts] = {
    "en": {
        "arrived": "Call came in on {dialled}",
        "arrived_plain": "Call came in",
        "answered_in": "The call centre answered the call",
        "answered_out": "The customer answered",
        "consent_played": "Consent notice played ({details})",
        "consent_failed": "Consent notice could not be played ({details}); not recorded",
        "version": "version {version}",
        "menu_entered": "Menu “{menu}” played{language}",
        "chose": "Caller chose {digits}{target} in the {menu} menu",
        "entered": "Caller entered {digits} in the {menu} menu",
        "secret": "Caller typed a confidential entry in the {menu} menu (not shown)",
        "timeout": "Caller pressed no key in the {menu} menu",
        "queued": "Queued in {department}",
        "waited": "Waited {wait} in {department}",
        "rang": "Rang {agent}",
        "rang_customer": "Dialled the customer",
        "rang_campaign": "Dialled the customer (campaign {campaign}, attempt {attempt})",
        "agent_answered": "{agent} answered",
        "no_answer": "{agent} did not answer{result}",
        "overflow": "Nobody in {department} was free in time; the call moved on",
        "transfer": "Transferred to {target}",
        "voicemail": "Caller was sent to voicemail{mailbox}",
        "recording_started": "Recording started",
        "recording_paused": "Recording paused",
        "paused_for": "Recording paused for the entry in the {menu} menu",
        "recording_resumed": "Recording resumed",
        "recording_finished": "Recording ended",
        "hold": "The agent put the caller on hold",
        "hold_customer": "The caller put the call on hold",
        "unhold": "The call was taken off hold",
        "hangup": "Call ended",
        "conversation_ended": "Conversation with {agent} ended",
        "talked": "Conversation with {agent} ended after {length}",
        "survey": "Survey “{survey}”, question {question}: answer {answer}",
        "callback": "Caller asked to be called back by {department}",
        "message": "Message “{prompt}” played",
        "unknown": "Event “{kind}”",
        "someone": "an agent",
        "nobody": "no answer",
        "busy": "busy",
        "the_agent": "the agent",
        "department": "department {name}",
        "menu": "menu {name}",
        "number": "{name}",
    },
    "de": {
        "arrived": "Anruf ging ein auf {dialled}",
        "arrived_plain": "Anruf ging ein",
        "answered_in": "Die Zentrale nahm den Anruf an",
        "answered_out": "Der Kunde nahm ab",
        "consent_played": "Einwilligungshinweis abgespielt ({details})",
        "consent_failed": (
            "Einwilligungshinweis konnte nicht abgespielt werden ({details}); nicht aufgezeichnet"
        ),
        "version": "Version {version}",
        "menu_entered": "Menü „{menu}“ abgespielt{language}",
        "chose": "Anrufer wählte {digits}{target} im Menü „{menu}“",
        "entered": "Anrufer gab {digits} im Menü „{menu}“ ein",
        "secret": "Anrufer machte im Menü „{menu}“ eine vertrauliche Eingabe (nicht angezeigt)",
        "timeout": "Anrufer drückte im Menü „{menu}“ keine Taste",
        "queued": "In der Warteschlange von {department}",
        "waited": "Wartete {wait} in {department}",
        "rang": "{agent} klingelte",
        "rang_customer": "Kunde angerufen",
        "rang_campaign": "Kunde angerufen (Kampagne {campaign}, Versuch {attempt})",
        "agent_answered": "{agent} nahm an",
        "no_answer": "{agent} nahm nicht an{result}",
        "overflow": "In {department} war niemand rechtzeitig frei; der Anruf ging weiter",
        "transfer": "Weitergeleitet an {target}",
        "voicemail": "Anrufer wurde zur Mailbox geleitet{mailbox}",
        "recording_started": "Aufzeichnung gestartet",
        "recording_paused": "Aufzeichnung pausiert",
        "paused_for": "Aufzeichnung pausiert für die Eingabe im Menü „{menu}“",
        "recording_resumed": "Aufzeichnung fortgesetzt",
        "recording_finished": "Aufzeichnung beendet",
        "hold": "Der Agent hat den Anrufer in die Warteschleife gelegt",
        "hold_customer": "Der Anrufer hat das Gespräch gehalten",
        "unhold": "Das Gespräch wurde aus der Warteschleife geholt",
        "hangup": "Anruf beendet",
        "conversation_ended": "Gespräch mit {agent} beendet",
        "talked": "Gespräch mit {agent} nach {length} beendet",
        "survey": "Umfrage „{survey}“, Frage {question}: Antwort {answer}",
        "callback": "Anrufer bat um Rückruf durch {department}",
        "message": "Ansage „{prompt}“ abgespielt",
        "unknown": "Ereignis „{kind}“",
        "someone": "ein Agent",
        "nobody": "keine Antwort",
        "busy": "besetzt",
        "the_agent": "Der Agent",
        "department": "Abteilung {name}",
        "menu": "Menü {name}",
        "number": "{name}",
    },
}

LANGUAGE_NAMES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "de": "German",
        "en": "English",
        "tr": "Turkish",
        "fr": "French",
        "es": "Spanish",
        "it": "Italian",
        "ar": "Arabic",
        "ru": "Russian",
        "pl": "Polish",
        "nl": "Dutch",
        "pt": "Portuguese",
        "uk": "Ukrainian",
    },
    "de": {
        "de": "Deutsch",
        "en": "Englisch",
        "tr": "Türkisch",
        "fr": "Französisch",
        "es": "Spanisch",
        "it": "Italienisch",
        "ar": "Arabisch",
        "ru": "Russisch",
        "pl": "Polnisch",
        "nl": "Niederländisch",
        "pt": "Portugiesisch",
        "uk": "Ukrainisch",
    },
}

# Where a choice in a menu led: the next of these events names it.
_LEADS = {EventKind.MENU_ENTERED: "menu", EventKind.QUEUED: "department"}
_STOPS = frozenset(
    {
        EventKind.DIGIT,
        EventKind.VOICEMAIL,
        EventKind.CALLBACK_REQUESTED,
        EventKind.MESSAGE_PLAYED,
        EventKind.TRANSFER,
        EventKind.HANGUP,
        EventKind.AGENT_ANSWERED,
    }
)
# What ends a wait in a queue.
_WAIT_ENDS = frozenset(
    {
        EventKind.AGENT_ANSWERED,
        EventKind.TRANSFER,
        EventKind.CALLBACK_REQUESTED,
        EventKind.VOICEMAIL,
        EventKind.HANGUP,
    }
)


def tell(
    events: Sequence[TimelineEvent],
    lang: str,
    *,
    names: Mapping[str, str] | None = None,
    outbound: bool = False,
    recording_id: str | None = None,
) -> list[Line]:
    """Return the story of EVENTS (in timeline order) in LANG ('en' or 'de').

    NAMES maps agent endpoints to display names; RECORDING_ID picks the recording whose
    audio the offsets refer to (else the call's first).
    """
    teller = _Teller(list(events), SENTENCES.get(lang, SENTENCES["en"]), lang, names or {})
    audio = _AudioClock(teller.events, recording_id)
    lines = []
    for index, event in enumerate(teller.events):
        text = teller.sentence(index, outbound)
        kind = str(getattr(event.kind, "value", event.kind))
        lines.append(Line(at=event.at, offset_s=audio.offset(event.at), kind=kind, text=text))
    return lines


def duration(seconds: float, lang: str = "en") -> str:
    """Return SECONDS as '12 s', '3 min 5 s' or '1 h 2 min' (German: 'Std.')."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} {'Std.' if lang == 'de' else 'h'} {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _kind(event: TimelineEvent) -> EventKind | None:
    try:
        return EventKind(event.kind)
    except ValueError:
        return None


def _detail(event: TimelineEvent) -> Mapping[str, Any]:
    return event.detail or {}


class _AudioClock:
    """Turns wall times into seconds of the audio: paused stretches are cut out of the file."""

    def __init__(self, events: list[TimelineEvent], recording_id: str | None) -> None:
        self.start = _recording_start(events, recording_id)
        self.pauses: list[tuple[dt.datetime, dt.datetime | None]] = []
        for event in events:
            kind = _kind(event)
            if kind is EventKind.RECORDING_PAUSED:
                self.pauses.append((event.at, None))
            elif kind is EventKind.RECORDING_RESUMED and self.pauses and not self.pauses[-1][1]:
                self.pauses[-1] = (self.pauses[-1][0], event.at)

    def offset(self, at: dt.datetime) -> float | None:
        if self.start is None or at < self.start:
            return None
        cut = 0.0
        for paused, resumed in self.pauses:
            if paused >= at or paused < self.start:
                continue
            cut += (
                (resumed if resumed is not None and resumed < at else at) - paused
            ).total_seconds()
        return round((at - self.start).total_seconds() - cut, 2)


def _recording_start(events: list[TimelineEvent], recording_id: str | None) -> dt.datetime | None:
    starts = [e for e in events if _kind(e) is EventKind.RECORDING_STARTED]
    if recording_id is not None:
        names = {
            _detail(e).get("name")
            for e in events
            if _kind(e) is EventKind.RECORDING_FINISHED
            and _detail(e).get("recording_id") == recording_id
        }
        mine = [e for e in starts if _detail(e).get("name") in names - {None}]
        starts = mine or starts
    return starts[0].at if starts else None


class _Teller:
    """The sentence for each event, looking around it where the story needs context."""

    def __init__(
        self, events: list[TimelineEvent], texts: Texts, lang: str, names: Mapping[str, str]
    ) -> None:
        self.events, self.texts, self.lang, self.names = events, texts, lang, names

    def sentence(self, index: int, outbound: bool) -> str:
        event = self.events[index]
        kind, detail = _kind(event), _detail(event)
        if kind is None:
            return self.say("unknown", kind=str(event.kind))
        if kind is EventKind.ANSWERED:
            return self.say("answered_out" if outbound else "answered_in")
        return self._by_kind(kind, index, detail)

    def _by_kind(self, kind: EventKind, index: int, detail: Mapping[str, Any]) -> str:
        match kind:
            case EventKind.ARRIVED:
                dialled = detail.get("dialled")
                return (
                    self.say("arrived", dialled=dialled) if dialled else self.say("arrived_plain")
                )
            case EventKind.CONSENT_PLAYED | EventKind.CONSENT_FAILED:
                return self.say(kind.value, details=self._notice(detail))
            case EventKind.MENU_ENTERED:
                language = detail.get("language")
                said = f" ({self.language(str(language))})" if language else ""
                return self.say("menu_entered", menu=self.menu(detail), language=said)
            case EventKind.DIGIT:
                return self._digits(index, detail)
            case EventKind.QUEUED:
                return self._queued(index, detail)
            case EventKind.AGENT_RUNG:
                return self._rung(detail)
            case EventKind.AGENT_ANSWERED:
                return self.say("agent_answered", agent=self.agent(detail, capital=True))
            case EventKind.AGENT_NO_ANSWER:
                return self._no_answer(detail)
            case EventKind.TRANSFER:
                return self._transfer(detail)
            case EventKind.VOICEMAIL:
                mailbox = detail.get("mailbox")
                return self.say("voicemail", mailbox=f" ({mailbox})" if mailbox else "")
            case EventKind.RECORDING_PAUSED:
                return self._paused(index)
            case EventKind.CONVERSATION_ENDED:
                return self._conversation_ended(index, detail)
            case EventKind.SURVEY_ANSWER:
                return self._survey(detail)
            case EventKind.CALLBACK_REQUESTED:
                return self.say("callback", department=detail.get("department", "?"))
            case EventKind.MESSAGE_PLAYED:
                return self.say("message", prompt=detail.get("prompt", "?"))
            case EventKind.HOLD:
                return self.say("hold_customer" if detail.get("party") == "customer" else "hold")
            case EventKind.UNHOLD:
                return self.say("unhold")
            case (
                EventKind.RECORDING_STARTED
                | EventKind.RECORDING_RESUMED
                | EventKind.RECORDING_FINISHED
                | EventKind.HANGUP
            ):
                return self.say(kind.value)
            case EventKind.ANSWERED:  # pragma: no cover - told in `sentence` (direction)
                return self.say("answered_in")

    # -- helpers -----------------------------------------------------------------------------
    def say(self, key: str, **values: object) -> str:
        return self.texts[key].format(**values)

    def language(self, code: str) -> str:
        return LANGUAGE_NAMES.get(self.lang, LANGUAGE_NAMES["en"]).get(code, code)

    def menu(self, detail: Mapping[str, Any]) -> str:
        return str(detail.get("menu") or "?")

    def agent(self, detail: Mapping[str, Any], *, capital: bool = False) -> str:
        endpoint = detail.get("agent")
        if endpoint:
            return self.names.get(str(endpoint), str(endpoint))
        return self.say("the_agent") if capital else self.say("someone")

    def _notice(self, detail: Mapping[str, Any]) -> str:
        parts = []
        if detail.get("notice"):
            parts.append(self.say("version", version=detail["notice"]))
        if detail.get("language"):
            parts.append(self.language(str(detail["language"])))
        if detail.get("reason"):
            parts.append(str(detail["reason"]))
        return ", ".join(parts) or "\u2013"

    def _digits(self, index: int, detail: Mapping[str, Any]) -> str:
        if "survey" in detail:
            return self._survey(detail)
        menu = self.menu(detail)
        if detail.get("timeout"):
            return self.say("timeout", menu=menu)
        digits = detail.get("digits")
        if self._secret(index, detail) or digits is None:
            return self.say("secret", menu=menu)
        digits = str(digits)
        if len(digits) > 1:
            return self.say("entered", digits=digits, menu=menu)
        target = self._led_to(index)
        return self.say("chose", digits=digits, target=f" ({target})" if target else "", menu=menu)

    def _secret(self, index: int, detail: Mapping[str, Any]) -> bool:
        if detail.get("sensitive") or MASK in str(detail.get("digits", "")):
            return True
        paused = False
        for event in self.events[:index]:
            kind = _kind(event)
            if kind is EventKind.RECORDING_PAUSED:
                paused = True
            elif kind in (EventKind.RECORDING_RESUMED, EventKind.RECORDING_FINISHED):
                paused = False
        return paused

    def _led_to(self, index: int) -> str | None:
        for event in self.events[index + 1 :]:
            kind = _kind(event)
            if kind in _LEADS:
                return str(_detail(event).get(_LEADS[kind]) or "") or None
            if kind in _STOPS:
                return None
        return None

    def _queued(self, index: int, detail: Mapping[str, Any]) -> str:
        department = detail.get("department", "?")
        start = self.events[index].at
        for event in self.events[index + 1 :]:
            if _kind(event) in _WAIT_ENDS:
                wait = duration((event.at - start).total_seconds(), self.lang)
                return self.say("waited", wait=wait, department=department)
        return self.say("queued", department=department)

    def _rung(self, detail: Mapping[str, Any]) -> str:
        to = detail.get("to")
        if to == "campaign":
            return self.say(
                "rang_campaign", campaign=detail.get("campaign", "?"), attempt=detail.get("attempt")
            )
        if to == "out":
            return self.say("rang_customer")
        return self.say("rang", agent=self.agent(detail))

    def _no_answer(self, detail: Mapping[str, Any]) -> str:
        result = str(detail.get("result") or "")
        said = {"no_answer": self.say("nobody"), "busy": self.say("busy")}.get(result, result)
        agent = self.agent(detail, capital=True)
        return self.say("no_answer", agent=agent, result=f" ({said})" if said else "")

    def _transfer(self, detail: Mapping[str, Any]) -> str:
        if detail.get("overflow"):
            return self.say("overflow", department=detail["overflow"])
        kind, _, name = str(detail.get("to") or "?").partition(":")
        if name and kind in ("department", "menu", "number"):
            return self.say("transfer", target=self.say(kind, name=name))
        return self.say("transfer", target=name or kind)

    def _paused(self, index: int) -> str:
        for event in reversed(self.events[:index]):
            kind = _kind(event)
            if kind is EventKind.MENU_ENTERED:
                return self.say("paused_for", menu=self.menu(_detail(event)))
            if kind not in (EventKind.RECORDING_STARTED, EventKind.CONSENT_PLAYED):
                break
        return self.say("recording_paused")

    def _conversation_ended(self, index: int, detail: Mapping[str, Any]) -> str:
        agent = self.agent(detail)
        for event in reversed(self.events[:index]):
            if _kind(event) is EventKind.AGENT_ANSWERED:
                length = (self.events[index].at - event.at).total_seconds()
                return self.say("talked", agent=agent, length=duration(length, self.lang))
        return self.say("conversation_ended", agent=agent)

    def _survey(self, detail: Mapping[str, Any]) -> str:
        answer = detail.get("answer", detail.get("digits"))
        shown = self.say("nobody") if answer is None else str(answer)
        return self.say(
            "survey",
            survey=detail.get("survey", "?"),
            question=detail.get("question", "?"),
            answer=shown,
        )
