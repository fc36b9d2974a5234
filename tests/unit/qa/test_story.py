"""The call story: a timeline told in plain German and English, sensitive digits never shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from zentrale.calls.models import EventKind
from zentrale.qa.story import SENTENCES, Line, duration, tell

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CARD = "4111111111111111"
NAMES = {"PJSIP/1001": "Elif Şahin", "PJSIP/1002": "Jonas Weber"}


@dataclass(frozen=True)
class Event:
    """A timeline entry as the story reads it."""

    seconds: float
    kind: EventKind | str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def at(self) -> dt.datetime:
        return T0 + dt.timedelta(seconds=self.seconds)


INBOUND = [
    Event(0, EventKind.ARRIVED, {"dialled": "+908501234567"}),
    Event(1, EventKind.ANSWERED),
    Event(2, EventKind.MENU_ENTERED, {"menu": "main", "language": "tr"}),
    Event(5, EventKind.DIGIT, {"menu": "main", "digits": "3"}),
    Event(6, EventKind.CONSENT_PLAYED, {"notice": "2026-01", "language": "tr"}),
    Event(8, EventKind.QUEUED, {"department": "billing"}),
    Event(9, EventKind.AGENT_RUNG, {"agent": "PJSIP/1002"}),
    Event(14, EventKind.AGENT_NO_ANSWER, {"agent": "PJSIP/1002", "result": "no_answer"}),
    Event(15, EventKind.AGENT_RUNG, {"agent": "PJSIP/1001"}),
    Event(20, EventKind.AGENT_ANSWERED, {"agent": "PJSIP/1001"}),
    Event(21, EventKind.RECORDING_STARTED, {"name": "c1-1"}),
    Event(40, EventKind.MENU_ENTERED, {"menu": "card", "language": "tr"}),
    Event(41, EventKind.RECORDING_PAUSED, {"at": 20.0}),
    # the call store keeps "***" for digits of a sensitive entry
    Event(55, EventKind.DIGIT, {"menu": "card", "digits": "***"}),
    Event(56, EventKind.RECORDING_RESUMED, {"at": 35.0}),
    Event(200, EventKind.CONVERSATION_ENDED, {"agent": "PJSIP/1001"}),
    Event(201, EventKind.RECORDING_FINISHED, {"recording_id": "r1", "name": "c1-1"}),
    Event(203, EventKind.SURVEY_ANSWER, {"survey": "after", "question": 1, "answer": 4}),
    Event(210, EventKind.HANGUP, {"state": "Survey"}),
]


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def test_an_inbound_call_is_told_in_english() -> None:
    story = texts(tell(INBOUND, "en", names=NAMES, recording_id="r1"))
    assert story == [
        "Call came in on +908501234567",
        "The call centre answered the call",
        "Menu “main” played (Turkish)",
        "Caller chose 3 (billing) in the main menu",
        "Consent notice played (version 2026-01, Turkish)",
        "Waited 12 s in billing",
        "Rang Jonas Weber",
        "Jonas Weber did not answer (no answer)",
        "Rang Elif Şahin",
        "Elif Şahin answered",
        "Recording started",
        "Menu “card” played (Turkish)",
        "Recording paused for the entry in the card menu",
        "Caller typed a confidential entry in the card menu (not shown)",
        "Recording resumed",
        "Conversation with Elif Şahin ended after 3 min",
        "Recording ended",
        "Survey “after”, question 1: answer 4",
        "Call ended",
    ]


def test_the_same_call_in_german() -> None:
    story = texts(tell(INBOUND, "de", names=NAMES))
    assert story[3] == "Anrufer wählte 3 (billing) im Menü „main“"
    assert story[4] == "Einwilligungshinweis abgespielt (Version 2026-01, Türkisch)"
    assert story[5] == "Wartete 12 s in billing"
    assert story[9] == "Elif Şahin nahm an"
    assert story[12] == "Aufzeichnung pausiert für die Eingabe im Menü „card“"
    assert story[13] == "Anrufer machte im Menü „card“ eine vertrauliche Eingabe (nicht angezeigt)"
    assert story[15] == "Gespräch mit Elif Şahin nach 3 min beendet"


def test_offsets_are_seconds_of_the_audio_with_the_pause_cut_out() -> None:
    lines = tell(INBOUND, "en", names=NAMES, recording_id="r1")
    offsets = {line.kind: line.offset_s for line in lines}
    assert lines[0].offset_s is None  # before the recording: nothing to play
    assert offsets["recording_started"] == 0.0
    assert offsets["recording_paused"] == 20.0
    # 15 s paused (41..56 s) are not in the file: the conversation ends at 200-21-15 s
    assert offsets["conversation_ended"] == 164.0


def test_the_offsets_follow_the_recording_asked_for() -> None:
    second = [
        *INBOUND[:11],
        Event(30, EventKind.RECORDING_FINISHED, {"recording_id": "r1", "name": "c1-1"}),
        Event(31, EventKind.TRANSFER, {"to": "department:sales"}),
        Event(50, EventKind.RECORDING_STARTED, {"name": "c1-2"}),
        Event(90, EventKind.RECORDING_FINISHED, {"recording_id": "r2", "name": "c1-2"}),
    ]
    lines = tell(second, "en", recording_id="r2")
    assert [line.offset_s for line in lines if line.kind == "recording_finished"] == [None, 40.0]
    assert "Transferred to department sales" in texts(lines)


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize(
    "detail",
    [
        {"menu": "card", "digits": "***"},  # masked by the call store
        {"menu": "card", "digits": CARD, "sensitive": True},  # flagged
        {"menu": "card", "digits": f"{CARD[:4]}***"},  # partly masked
    ],
)
def test_sensitive_digits_are_never_shown(lang: str, detail: dict[str, Any]) -> None:
    lines = tell([Event(0, EventKind.DIGIT, detail)], lang)
    assert CARD[:4] not in lines[0].text
    assert "***" not in lines[0].text
    assert "card" in lines[0].text


@pytest.mark.parametrize("lang", ["en", "de"])
def test_digits_typed_while_the_recording_is_paused_are_hidden_even_unmasked(lang: str) -> None:
    events = [
        Event(0, EventKind.RECORDING_STARTED, {"name": "x"}),
        Event(1, EventKind.RECORDING_PAUSED, {"at": 1.0}),
        Event(9, EventKind.DIGIT, {"menu": "pin", "digits": "4711"}),
        Event(10, EventKind.RECORDING_RESUMED, {"at": 10.0}),
        Event(11, EventKind.DIGIT, {"menu": "account", "digits": "12345"}),
    ]
    story = texts(tell(events, lang))
    assert "4711" not in " ".join(story)
    assert "12345" in story[4]  # an ordinary entry, after the pause, is shown


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("kind", list(EventKind))
def test_every_event_kind_has_its_own_sentence(lang: str, kind: EventKind) -> None:
    (line,) = tell([Event(0, kind, {})], lang)
    neutral = SENTENCES[lang]["unknown"].format(kind=kind.value)
    assert line.text
    assert line.text != neutral
    assert "_" not in line.text  # a sentence, not a raw event name like agent_no_answer
    assert line.kind == kind.value


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "Event “teleported”"), ("de", "Ereignis „teleported“")]
)
def test_an_unknown_kind_gets_a_neutral_sentence(lang: str, expected: str) -> None:
    (line,) = tell([Event(0, "teleported", {"where": "moon"})], lang)
    assert line.text == expected


@pytest.mark.parametrize("lang", ["en", "de"])
def test_missing_details_never_break_a_sentence(lang: str) -> None:
    odd = [
        Event(i, kind, {"agent": None, "menu": None, "x": [1]}) for i, kind in enumerate(EventKind)
    ]
    assert all(line.text for line in tell(odd, lang))


def test_other_sentences() -> None:
    events = [
        Event(0, EventKind.AGENT_RUNG, {"to": "campaign", "campaign": "spring", "attempt": 2}),
        Event(1, EventKind.ANSWERED),
        Event(2, EventKind.CONSENT_FAILED, {"notice": "v1", "language": "de", "reason": "timeout"}),
        Event(3, EventKind.DIGIT, {"menu": "main", "timeout": True}),
        Event(4, EventKind.TRANSFER, {"overflow": "sales", "reason": "max_wait"}),
        Event(5, EventKind.VOICEMAIL, {"mailbox": "sales"}),
        Event(6, EventKind.CALLBACK_REQUESTED, {"department": "sales"}),
        Event(7, EventKind.MESSAGE_PLAYED, {"prompt": "closed"}),
        Event(8, EventKind.AGENT_NO_ANSWER, {"agent": "PJSIP/9", "result": "busy"}),
        Event(9, EventKind.AGENT_RUNG, {"to": "out"}),
    ]
    assert texts(tell(events, "en", outbound=True)) == [
        "Dialled the customer (campaign spring, attempt 2)",
        "The customer answered",
        "Consent notice could not be played (version v1, German, timeout); not recorded",
        "Caller pressed no key in the main menu",
        "Nobody in sales was free in time; the call moved on",
        "Caller was sent to voicemail (sales)",
        "Caller asked to be called back by sales",
        "Message “closed” played",
        "PJSIP/9 did not answer (busy)",
        "Dialled the customer",
    ]


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (0.4, 12.4, 60, 185, 3720)] == [
        "0 s",
        "12 s",
        "1 min",
        "3 min 5 s",
        "1 h 2 min",
    ]
    assert duration(3720, "de") == "1 Std. 2 min"
