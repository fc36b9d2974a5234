"""Customer records and agents' notes on calls, on zentrale's metadata (migration v0004).

A customer has any number of phone numbers (each number belongs to at most one customer);
the call flows look a caller up by number when the call arrives. Notes are what agents
leave on a call: a note, a disposition, or a suggestion for management.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zentrale.calls.models import Call
from zentrale.db.base import ID, NAME, NUMBER, Base, _label


class Customer(Base):
    """One customer: the record agents check and complete."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    customer_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(NAME)
    language: Mapped[str | None] = mapped_column(String(16))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    email: Mapped[str | None] = mapped_column(String(254))
    """Normalised by `zentrale.customers.emails` (migration v0016); personal data."""


class CustomerNumber(Base):
    """A phone number (E.164 as the call flows see it) and the customer it belongs to."""

    __tablename__ = "customer_numbers"

    number: Mapped[str] = mapped_column(NUMBER, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))

    __table_args__ = (Index("ix_customer_numbers_customer_id", "customer_id"),)


class NoteKind(enum.StrEnum):
    """What an agent's note on a call is."""

    NOTE = "note"
    DISPOSITION = "disposition"
    SUGGESTION = "suggestion"


class CallNote(Base):
    """A note, disposition or suggestion an agent left on a call."""

    __tablename__ = "call_notes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    kind: Mapped[NoteKind] = mapped_column(_label(NoteKind))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(ID)
    author_name: Mapped[str] = mapped_column(NAME)
    department: Mapped[str | None] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]
    # A copy of the call's arrived_at, kept by the writers (migration v0009): the statistics
    # find a period's suggestions by it without looking up each call (zentrale.stats.indexes).
    call_arrived_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_call_notes_call_id", "call_id"),
        Index("ix_call_notes_customer_id", "customer_id"),
        Index("ix_call_notes_kind_created_at", "kind", "created_at"),
    )


class CallWrapUp(Base):
    """An agent's wrap-up of a call (migration v0012): the disposition code picked, once per
    agent who took the call (v0017: after a transfer each agent who answered files their own).

    Notes and the suggestion for management are `call_notes` rows beside it (kinds note and
    suggestion; the code also as a disposition note), so the customer's history and the
    statistics read them where they always did.
    """

    __tablename__ = "call_wrapups"

    call_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    agent_endpoint: Mapped[str] = mapped_column(NAME, primary_key=True)
    author_id: Mapped[str | None] = mapped_column(ID)
    department: Mapped[str | None] = mapped_column(NAME)
    disposition: Mapped[str | None] = mapped_column(NAME)
    created_at: Mapped[dt.datetime]


class CallbackState(enum.StrEnum):
    """Where a callback stands."""

    SCHEDULED = "scheduled"
    CALLING = "calling"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Callback(Base):
    """A callback an agent promised at wrap-up: an outbound call at `due_at` (v0012)."""

    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), ForeignKey("calls.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(NUMBER)
    department: Mapped[str | None] = mapped_column(NAME)
    agent_endpoint: Mapped[str] = mapped_column(NAME)
    author_id: Mapped[str | None] = mapped_column(ID)
    due_at: Mapped[dt.datetime]
    state: Mapped[CallbackState] = mapped_column(_label(CallbackState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    placed_call_id: Mapped[str | None] = mapped_column(String(64))
    """The outbound call of the last attempt."""
    result: Mapped[str | None] = mapped_column(String(32))
    """How the last attempt went (answered, agent_no_answer, busy, ...)."""
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    """The daemon placing the callback while it is `calling` (v0014)."""
    locked_until: Mapped[dt.datetime | None]
    """Until when that daemon's claim holds; renewed while it places the call (v0014)."""

    __table_args__ = (
        Index("ix_callbacks_state_due_at", "state", "due_at"),
        Index("ix_callbacks_agent_endpoint_state", "agent_endpoint", "state"),
        Index("ix_callbacks_call_id", "call_id"),
    )


# A customer's history finds outbound calls by the number called, as inbound ones are found
# by the caller's number (ix_calls_caller_number_arrived_at); migration v0007.
calls_called_number = Index(
    "ix_calls_called_number_arrived_at", Call.__table__.c.called_number, Call.__table__.c.arrived_at
)
