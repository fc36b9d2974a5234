"""The call record's tables: each call from arrival to hangup, and its timeline of events.

Written by the call flows through `zentrale.calls.store.CallStore`; read by QA search,
statistics, customer history and the privacy tools.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.db.base import LABEL, NAME, NUMBER, Base, _label


class Direction(enum.StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Outcome(enum.StrEnum):
    """How a call ended.

    `answered` means an agent (or a dialled number) answered. A caller served by the IVR alone
    ends `message` (a message played to the end: an option, an entry rule, a queue's
    `play_and_hangup`... never reached an agent), `ended_in_menu` (the menu's retries were used
    up, or the rules hung up), `voicemail` or `survey` (a survey without a conversation).
    """

    ANSWERED = "answered"
    ENDED_IN_MENU = "ended_in_menu"
    MESSAGE = "message"
    SURVEY = "survey"
    ABANDONED = "abandoned"
    ABANDONED_IN_MENU = "abandoned_in_menu"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    OVERFLOWED = "overflowed"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CLOSED = "closed"
    TRANSFERRED = "transferred"
    INTERRUPTED = "interrupted"
    """The daemon stopped without ending the call (a crash, SIGKILL): closed at the next start."""
    DROPPED = "dropped"
    """Asterisk went away (restart, crash): the channel vanished, the caller did not hang up."""


class EventKind(enum.StrEnum):
    """What happened at one point of a call's timeline."""

    ARRIVED = "arrived"
    ANSWERED = "answered"
    CONSENT_PLAYED = "consent_played"
    CONSENT_FAILED = "consent_failed"
    MENU_ENTERED = "menu_entered"
    DIGIT = "digit"
    QUEUED = "queued"
    AGENT_RUNG = "agent_rung"
    AGENT_ANSWERED = "agent_answered"
    AGENT_NO_ANSWER = "agent_no_answer"
    TRANSFER = "transfer"
    VOICEMAIL = "voicemail"
    RECORDING_STARTED = "recording_started"
    RECORDING_PAUSED = "recording_paused"
    RECORDING_RESUMED = "recording_resumed"
    RECORDING_FINISHED = "recording_finished"
    HANGUP = "hangup"
    CONVERSATION_ENDED = "conversation_ended"
    SURVEY_ANSWER = "survey_answer"
    CALLBACK_REQUESTED = "callback_requested"
    MESSAGE_PLAYED = "message_played"
    HOLD = "hold"
    UNHOLD = "unhold"


class Call(Base):
    """One inbound or outbound call, from arrival to hangup."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[Direction] = mapped_column(_label(Direction))
    caller_number: Mapped[str | None] = mapped_column(NUMBER)
    dialled_number: Mapped[str | None] = mapped_column(NUMBER)
    called_number: Mapped[str | None] = mapped_column(NUMBER)
    department: Mapped[str | None] = mapped_column(NAME)
    agent_endpoint: Mapped[str | None] = mapped_column(NAME)
    agent_name: Mapped[str | None] = mapped_column(NAME)
    language: Mapped[str | None] = mapped_column(String(16))
    arrived_at: Mapped[dt.datetime]
    answered_by_app_at: Mapped[dt.datetime | None]
    queued_at: Mapped[dt.datetime | None]
    agent_answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[Outcome | None] = mapped_column(_label(Outcome))
    hangup_cause_code: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None] = mapped_column(NAME)
    consent_version: Mapped[str | None] = mapped_column(LABEL)
    consent_language: Mapped[str | None] = mapped_column(String(16))
    asterisk_node: Mapped[str | None] = mapped_column(String(64))
    app_name: Mapped[str | None] = mapped_column(String(64))
    rules_version: Mapped[str | None] = mapped_column(String(64))
    # The last sequence number handed to call_events; bumped in the event's transaction.
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Figures of the timeline for the statistics, kept by `append_event` in each event's
    # transaction (see docs/statistics.md): conversation seconds (sum of conversation ends
    # minus agent answers, from arrival), conversations ended, blind transfers, queue
    # overflows and the department they overflowed from (NULL if from several).
    handle_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transfers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overflows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    overflowed_from: Mapped[str | None] = mapped_column(NAME)

    __table_args__ = (
        Index("ix_calls_arrived_at", "arrived_at"),
        Index("ix_calls_caller_number_arrived_at", "caller_number", "arrived_at"),
        Index("ix_calls_department_arrived_at", "department", "arrived_at"),
    )


class CallEvent(Base):
    """One entry of a call's timeline; `seq` counts 1, 2, 3... within the call."""

    __tablename__ = "call_events"

    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    kind: Mapped[EventKind] = mapped_column(_label(EventKind))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
