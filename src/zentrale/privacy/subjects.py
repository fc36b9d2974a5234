"""Data-subject requests: find everything about a phone number (or customer), export it, erase it.

`gather` collects the subject's calls (as caller, dialled or called number) with their
timelines, recordings, survey answers, evaluations, comments, call notes and callbacks promised
at wrap-up, and the customer record. `export` writes that into a zip with a JSON index and every
stored recording decrypted.
`erase` crypto-shreds the recordings (destruction records, why=erasure), deletes survey answers,
comments, evaluation notes, call notes and the customer, masks the number in call records and
event details, replaces it in survey campaigns (a number not yet reached is not called), and
returns a receipt of each item removed and each item kept under a legal hold.
Both store their receipt (number masked) and write an audit entry.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import enum
import json
import re
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import structlog
from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.base.errors import ZentraleError
from zentrale.calls.models import Call, CallEvent
from zentrale.config.logging import mask_number
from zentrale.core import audit
from zentrale.customers.models import Callback, CallNote, Customer, CustomerNumber
from zentrale.db.base import Base
from zentrale.db.session import Database
from zentrale.privacy.holds import Holds, HoldStore
from zentrale.privacy.masking import mask_call
from zentrale.privacy.models import (
    DestroyedKind,
    DestructionReason,
    LegalHold,
    RequestKind,
    SubjectRequest,
)
from zentrale.privacy.shred import Destruction, shred
from zentrale.qa.models import Comment, Evaluation
from zentrale.recording import vault
from zentrale.recording.envelope import EnvelopeError
from zentrale.recording.keys.base import KeyProviderError, KeyUnwrapper
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.playback import sealed_of
from zentrale.recording.storage.base import ObjectStore, StorageError
from zentrale.surveys.models import CampaignTarget, SurveyAnswer, TargetState

log = structlog.get_logger(__name__)

NUMBER = re.compile(r"^\+?[0-9]{6,20}$")
_SECRET_COLUMNS = frozenset({"wrapped_keys", "encryption_header", "waveform"})


class SubjectError(ZentraleError, ValueError):
    """The request names no subject, or one in a form we cannot search."""

    code = "subject"


@dataclass(frozen=True, slots=True)
class SubjectQuery:
    """Who the request is about: a phone number, a customer number, or both."""

    number: str | None = None
    customer: str | None = None

    def __post_init__(self) -> None:
        if not self.number and not self.customer:
            raise SubjectError("name the subject: a phone number or a customer number")
        if self.number and not NUMBER.match(self.number):
            raise SubjectError("the phone number must be digits with an optional leading +")

    @property
    def shown(self) -> str:
        """Return the subject as receipts and logs may show it (numbers masked)."""
        parts = [mask_number(self.number)] if self.number else []
        if self.customer:
            parts.append(f"customer {mask_number(self.customer)}")
        return " / ".join(parts)


@dataclass
class SubjectData:
    """Everything stored about one subject."""

    numbers: list[str]
    customers: list[Customer] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    events: dict[str, list[CallEvent]] = field(default_factory=dict)
    mentions: list[str] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    answers: list[SurveyAnswer] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    notes: list[CallNote] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    targets: list[CampaignTarget] = field(default_factory=list)


async def gather(db: Database, query: SubjectQuery) -> SubjectData:
    """Return every row about the subject of QUERY."""
    async with db.read() as session:
        customers, numbers = await _customers(session, query)
        data = SubjectData(numbers=numbers, customers=customers)
        if numbers:
            data.calls = list(
                await session.scalars(
                    select(Call)
                    .where(
                        or_(
                            Call.caller_number.in_(numbers),
                            Call.dialled_number.in_(numbers),
                            Call.called_number.in_(numbers),
                        )
                    )
                    .order_by(Call.arrived_at, Call.id)
                )
            )
        call_ids = [call.id for call in data.calls]
        for event in await session.scalars(
            select(CallEvent).where(CallEvent.call_id.in_(call_ids)).order_by(CallEvent.seq)
        ):
            data.events.setdefault(event.call_id, []).append(event)
        data.mentions = await _mentions(session, numbers, set(call_ids))
        data.recordings = await _all(session, Recording, Recording.call_id.in_(call_ids))
        rids = [r.id for r in data.recordings]
        data.answers = await _all(session, SurveyAnswer, SurveyAnswer.call_id.in_(call_ids))
        data.evaluations = await _all(session, Evaluation, Evaluation.recording_id.in_(rids))
        data.comments = await _all(session, Comment, Comment.recording_id.in_(rids))
        customer_ids = [c.id for c in customers]
        mine = or_(CallNote.call_id.in_(call_ids), CallNote.customer_id.in_(customer_ids))
        data.notes = await _all(session, CallNote, mine)
        promised = or_(Callback.call_id.in_(call_ids), Callback.number.in_(numbers))
        data.callbacks = await _all(session, Callback, promised)
        data.targets = await _all(session, CampaignTarget, CampaignTarget.number.in_(numbers))
    return data


async def _customers(
    session: AsyncSession, query: SubjectQuery
) -> tuple[list[Customer], list[str]]:
    numbers = {query.number} if query.number else set()
    found: dict[str, Customer] = {}
    if query.customer:
        row = await session.scalar(
            select(Customer).where(Customer.customer_number == query.customer)
        )
        if row is None and not query.number:
            raise SubjectError("no customer has this customer number")
        if row is not None:
            found[row.id] = row
    if query.number:
        owner = await session.scalar(
            select(Customer)
            .join(CustomerNumber, CustomerNumber.customer_id == Customer.id)
            .where(CustomerNumber.number == query.number)
        )
        if owner is not None:
            found[owner.id] = owner
    if found:
        rows = await session.scalars(
            select(CustomerNumber.number).where(CustomerNumber.customer_id.in_(list(found)))
        )
        numbers.update(rows)
    return list(found.values()), sorted(numbers)


async def _mentions(session: AsyncSession, numbers: list[str], known: set[str]) -> list[str]:
    """Return other calls whose event details mention one of NUMBERS (e.g. a transfer to it)."""
    if not numbers:
        return []
    text = cast(CallEvent.detail, String)
    query = select(CallEvent.call_id).where(or_(*(text.contains(n) for n in numbers))).distinct()
    return sorted(set(await session.scalars(query)) - known)


async def _all(session: AsyncSession, model: type[Any], where: Any) -> list[Any]:
    return list(await session.scalars(select(model).where(where)))


def row_json(row: Base) -> dict[str, Any]:
    """Return a row's columns as JSON-ready data (key material and waveforms left out)."""
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in _SECRET_COLUMNS:
            continue
        out[column.key] = _json_value(getattr(row, column.key))
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and why (every subject request needs a reason)."""

    actor: audit.Actor
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise SubjectError("a subject request needs a reason")


async def export(
    db: Database,
    store: ObjectStore,
    unwrappers: Sequence[KeyUnwrapper],
    query: SubjectQuery,
    who: Requester,
    out: Path | BinaryIO,
    now: dt.datetime,
) -> dict[str, Any]:
    """Write the subject's data as a zip to OUT (a path or a file); return (and store) its index."""
    data = await gather(db, query)
    request_id = str(uuid.uuid4())
    index = _index(data=data, request_id=request_id, query=query, who=who, now=now)
    await asyncio.to_thread(_write_zip, out, index, data, store, unwrappers)
    summary = {key: len(value) for key, value in index.items() if isinstance(value, list)}
    missing = [item["id"] for item in index["recordings"] if item["audio"] is None]
    receipt = {
        "request_id": request_id,
        "subject": query.shown,
        "contents": summary,
        "recordings_missing": missing,
    }
    await _store_request(
        db=db,
        kind=RequestKind.EXPORT,
        request_id=request_id,
        query=query,
        who=who,
        now=now,
        receipt=receipt,
    )
    log.info("privacy.subject_exported", subject=query.shown, request_id=request_id, **summary)
    return index


def _index(
    data: SubjectData, request_id: str, query: SubjectQuery, who: Requester, now: dt.datetime
) -> dict[str, Any]:
    calls = []
    for call in data.calls:
        item = row_json(call)
        item["events"] = [row_json(event) for event in data.events.get(call.id, [])]
        calls.append(item)
    recordings = []
    for recording in data.recordings:
        item = row_json(recording)
        stored = recording.state is RecordingState.STORED and bool(recording.wrapped_keys)
        item["audio"] = f"recordings/{recording.id}.{recording.format}" if stored else None
        recordings.append(item)
    return {
        "request_id": request_id,
        "exported_at": now.isoformat(),
        "reason": who.reason,
        "subject": {"numbers": data.numbers, "customer_number": query.customer},
        "customers": [row_json(c) for c in data.customers],
        "calls": calls,
        "recordings": recordings,
        "survey_answers": [row_json(a) for a in data.answers],
        "evaluations": [row_json(e) for e in data.evaluations],
        "comments": [row_json(c) for c in data.comments],
        "call_notes": [row_json(n) for n in data.notes],
        "callbacks": [row_json(c) for c in data.callbacks],
        "campaign_numbers": [row_json(t) for t in data.targets],
    }


def _write_zip(
    out: Path | BinaryIO,
    index: dict[str, Any],
    data: SubjectData,
    store: ObjectStore,
    unwrappers: Sequence[KeyUnwrapper],
) -> None:
    by_id = {r.id: r for r in data.recordings}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in index["recordings"]:
            if item["audio"] is None:
                continue
            try:
                chunks = vault.read(store, sealed_of(by_id[item["id"]]), unwrappers)
                with archive.open(item["audio"], "w") as member:
                    for chunk in chunks:
                        member.write(chunk)
            except (ZentraleError, StorageError, KeyProviderError, EnvelopeError) as exc:
                item["audio"], item["audio_error"] = None, f"{type(exc).__name__}: {exc}"
        archive.writestr("index.json", json.dumps(index, indent=2, ensure_ascii=False))


@dataclass
class Receipt:
    """What an erasure removed and what it kept (and why)."""

    request_id: str
    subject: str
    reason: str
    at: dt.datetime
    removed: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the receipt as JSON-ready data."""
        return {
            "request_id": self.request_id,
            "subject": self.subject,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "removed": self.removed,
            "kept": self.kept,
        }

    def keep(self, kind: str, item_id: str, holds: Sequence[LegalHold] = (), why: str = "") -> None:
        """Note an item kept, naming the holds (or the reason) that kept it."""
        entry: dict[str, Any] = {"type": kind, "id": item_id}
        if holds:
            entry["holds"] = [
                {"id": h.id, "scope": h.scope.value, "reason": h.reason} for h in holds
            ]
        if why:
            entry["why"] = why
        self.kept.append(entry)

    def remove(self, kind: str, item_id: str, **more: str) -> None:
        """Note an item removed."""
        self.removed.append({"type": kind, "id": item_id, **more})


@dataclass
class _Eraser:
    db: Database
    store: ObjectStore
    data: SubjectData
    holds: Holds
    receipt: Receipt
    why: Destruction

    async def call(self, call: Call) -> None:
        held = self.holds.covering(call)
        if held:
            self.receipt.keep("call", call.id, held)
            for recording in self._recordings(call.id):
                self._keep_recording(recording, held)
            for answer in (a for a in self.data.answers if a.call_id == call.id):
                self.receipt.keep("survey_answer", answer.id, held)
            for note in (n for n in self.data.notes if n.call_id == call.id):
                self.receipt.keep("call_note", note.id, held)
            return
        recordings = self._recordings(call.id)
        erased = [r.id for r in recordings if await self.recording(call, r)]
        # A recording kept (held, still in the pipeline, storage down) keeps the call's numbers,
        # so that erasing the number again later still finds it.
        mask = len(erased) == len(recordings)
        async with self.db.write() as session:
            await self._call_rows(session, call, erased, mask)

    def _recordings(self, call_id: str) -> list[Recording]:
        return [r for r in self.data.recordings if r.call_id == call_id]

    async def recording(self, call: Call, recording: Recording) -> bool:
        held = self.holds.covering(call, recording)
        if held:
            self._keep_recording(recording, held)
            return False
        if recording.state is RecordingState.FINISHED:
            self.receipt.keep(
                "recording",
                recording.id,
                why="still in the recording pipeline; erase again once it is stored",
            )
            return False
        if recording.state is RecordingState.STORED:
            try:
                await shred(self.db, self.store, recording.id, self.why)
            except StorageError as exc:
                self.receipt.keep(
                    "recording", recording.id, why=f"storage failed ({exc}); erase again"
                )
                return False
            self.receipt.remove("recording", recording.id, call_id=call.id)
        return True

    def _keep_recording(self, recording: Recording, held: Sequence[LegalHold]) -> None:
        self.receipt.keep("recording", recording.id, held)
        for comment in (c for c in self.data.comments if c.recording_id == recording.id):
            self.receipt.keep("comment", comment.id, held)
        for evaluation in (e for e in self.data.evaluations if e.recording_id == recording.id):
            self.receipt.keep("evaluation", evaluation.id, held)

    async def _call_rows(
        self, session: AsyncSession, call: Call, erased: list[str], mask: bool
    ) -> None:
        for answer in (a for a in self.data.answers if a.call_id == call.id):
            await session.execute(delete(SurveyAnswer).where(SurveyAnswer.id == answer.id))
            self.receipt.remove("survey_answer", answer.id, call_id=call.id)
        for comment in (c for c in self.data.comments if c.recording_id in erased):
            await session.execute(delete(Comment).where(Comment.id == comment.id))
            self.receipt.remove("comment", comment.id, recording_id=comment.recording_id)
        for evaluation in (e for e in self.data.evaluations if e.recording_id in erased):
            if evaluation.note is not None:
                row = await session.get(Evaluation, evaluation.id)
                if row is not None:
                    row.note = None
                self.receipt.remove("evaluation_note", evaluation.id)
        for note in (n for n in self.data.notes if n.call_id == call.id):
            await session.execute(delete(CallNote).where(CallNote.id == note.id))
            self.receipt.remove("call_note", note.id, call_id=call.id)
        callbacks = await session.scalars(select(Callback.id).where(Callback.call_id == call.id))
        for callback_id in list(callbacks):  # a callback promised at wrap-up holds the number
            await session.execute(delete(Callback).where(Callback.id == callback_id))
            self.receipt.remove("callback", callback_id, call_id=call.id)
        current = await session.get(Call, call.id)
        if not mask:
            self.receipt.keep(
                "call_numbers",
                call.id,
                why="a recording of the call is kept; erase again once it can go",
            )
        elif current is not None:
            await mask_call(session, current, self.data.numbers)
            session.add(self.why.record(DestroyedKind.CALL_NUMBERS, call.id))
            self.receipt.remove("call_numbers", call.id)

    async def mentions(self) -> None:
        for call_id in self.data.mentions:
            async with self.db.write() as session:
                call = await session.get(Call, call_id)
                if call is None:
                    continue
                held = self.holds.covering(call)
                if held:
                    self.receipt.keep("call_events", call_id, held)
                    continue
                await mask_call(session, call, self.data.numbers)
            self.receipt.remove("call_events_mention", call_id)

    async def campaign_target(self, target: CampaignTarget) -> None:
        """Replace the number of a campaign target; a target not yet reached is not called."""
        held = self.holds.on_numbers([target.number])
        if held:
            self.receipt.keep("campaign_number", target.id, held)
            return
        if target.state is TargetState.CALLING:
            self.receipt.keep("campaign_number", target.id, why="being called now; erase again")
            return
        async with self.db.write() as session:
            row = await session.get(CampaignTarget, target.id)
            if row is None:
                return
            row.number = f"erased-{row.id[:8]}"
            if row.state in (TargetState.PENDING, TargetState.RETRY):
                row.state, row.next_attempt_at = TargetState.EXHAUSTED, None
        self.receipt.remove("campaign_number", target.id)

    async def customer(self, customer: Customer) -> None:
        async with self.db.read() as session:
            numbers = list(
                await session.scalars(
                    select(CustomerNumber.number).where(CustomerNumber.customer_id == customer.id)
                )
            )
        held = self.holds.on_numbers(numbers)
        if held:
            self.receipt.keep("customer", customer.id, held)
            return
        kept = {item["id"] for item in self.receipt.kept if item["type"] == "call_note"}
        async with self.db.write() as session:
            for note in await session.scalars(
                select(CallNote).where(CallNote.customer_id == customer.id)
            ):
                if note.id in kept:  # a held call's note: it stays, without its customer
                    continue
                await session.delete(note)
                self.receipt.remove("call_note", note.id)
            await session.execute(
                delete(CustomerNumber).where(CustomerNumber.customer_id == customer.id)
            )
            await session.execute(delete(Customer).where(Customer.id == customer.id))
        self.receipt.remove("customer", customer.id)


async def erase(
    db: Database,
    store: ObjectStore,
    query: SubjectQuery,
    who: Requester,
    now: dt.datetime,
    keep_years: int = 3,
) -> Receipt:
    """Erase everything about the subject that no legal hold keeps; return the receipt."""
    data = await gather(db, query)
    request_id = str(uuid.uuid4())
    receipt = Receipt(request_id=request_id, subject=query.shown, reason=who.reason, at=now)
    holds = await HoldStore(db).active()
    why = Destruction(
        reason=DestructionReason.ERASURE,
        actor=who.actor.name,
        now=now,
        keep_years=keep_years,
        request_id=request_id,
    )
    eraser = _Eraser(db=db, store=store, data=data, holds=holds, receipt=receipt, why=why)
    for call in data.calls:
        await eraser.call(call)
    await eraser.mentions()
    for target in data.targets:
        await eraser.campaign_target(target)
    for customer in data.customers:
        await eraser.customer(customer)
    await _store_request(
        db=db,
        kind=RequestKind.ERASE,
        request_id=request_id,
        query=query,
        who=who,
        now=now,
        receipt=receipt.to_json(),
    )
    log.info(
        "privacy.subject_erased",
        subject=query.shown,
        request_id=request_id,
        removed=len(receipt.removed),
        kept=len(receipt.kept),
    )
    return receipt


async def _store_request(
    db: Database,
    kind: RequestKind,
    request_id: str,
    query: SubjectQuery,
    who: Requester,
    now: dt.datetime,
    receipt: dict[str, Any],
) -> None:
    counts = {"removed": len(receipt.get("removed", [])), "kept": len(receipt.get("kept", []))}
    detail = {"request_id": request_id, **(counts if kind is RequestKind.ERASE else {})}
    event = audit.Event(
        f"subject.{kind.value}", target=f"subject:{query.shown}", reason=who.reason, detail=detail
    )
    async with db.write() as session:
        session.add(
            SubjectRequest(
                id=request_id,
                kind=kind,
                # The column holds 64 characters; a long customer number is cut, not a 500.
                subject=query.shown[:64],
                reason=who.reason,
                actor=who.actor.name,
                created_at=now,
                receipt=receipt,
            )
        )
        await audit.append(session, who.actor, event, now)
