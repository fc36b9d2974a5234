"""Data-subject export and erasure on SQLite and PostgreSQL: nothing readable stays behind."""

from __future__ import annotations

import io
import json
import uuid
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from zentrale.calls.models import Direction, EventKind
from zentrale.calls.store import CallStore
from zentrale.config.logging import configure_logging
from zentrale.core import audit
from zentrale.core.models import AuditEntry, Role
from zentrale.core.users import NewUser, UserStore
from zentrale.customers.models import CallNote, Customer, CustomerNumber, NoteKind
from zentrale.db.session import Database
from zentrale.privacy.holds import HoldStore
from zentrale.privacy.models import (
    DestructionReason,
    DestructionRecord,
    HoldScope,
    SubjectRequest,
)
from zentrale.privacy.subjects import Requester, SubjectQuery, erase, export
from zentrale.qa.models import Comment, Evaluation
from zentrale.recording.keys.base import KeyProviderError
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import RecordingState
from zentrale.recording.storage.base import StorageUnavailableError
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.surveys.models import (
    AnswerStatus,
    Campaign,
    CampaignState,
    CampaignTarget,
    SurveyAnswer,
    TargetState,
)
from zentrale.testing.recordings import decrypt

from .conftest import FakeClock, Maker, make_wav, rows_containing

NUMBER = "+905551112233"
SECOND = "+905551119999"  # the same customer's mobile
EMAIL = "ayse.demir@example.com"  # the customer's e-mail address: personal data too
OTHER = "+904441234567"
ACTOR = audit.Actor(None, "dpo", None)
WHO = Requester(ACTOR, "KVKK art. 11 request 2026/17")
TABLES = {
    "call": "calls",
    "recording": "recordings",
    "survey_answer": "survey_answers",
    "call_note": "call_notes",
    "comment": "comments",
    "evaluation": "evaluations",
}


@dataclass
class Subject:
    """What the fixture stored about the subject, by name."""

    recordings: dict[str, str]
    customer: str
    other_recording: str
    targets: dict[str, str]


async def build_subject(db: Database, maker: Maker, clock: FakeClock) -> Subject:
    """Three calls of the subject (one on a second number), a customer, QA data, another caller."""
    await maker.call("c1", caller=NUMBER)
    await maker.call("c2", caller="+902120000000", called=SECOND, direction=Direction.OUTBOUND)
    await maker.call("c3", caller=NUMBER, department="support")
    await maker.call("x1", caller=OTHER)
    recordings = {
        name: await maker.recording(name, freq=freq)
        for name, freq in (("c1", 440.0), ("c2", 550.0), ("c3", 660.0))
    }
    other = await maker.recording("x1", freq=770.0)
    calls = CallStore(db, clock)
    await calls.add_event("c1", EventKind.TRANSFER, {"to": "number", "target": NUMBER})
    await calls.add_event("x1", EventKind.TRANSFER, {"to": "number", "target": NUMBER})
    user = await UserStore(db, clock).add(
        NewUser(
            username="qa1",
            display_name="Q A",
            password="correct horse battery",
            role=Role.QA,
            departments=("sales",),
        )
    )
    customer = str(uuid.uuid4())
    async with db.write() as session:
        session.add(
            Customer(
                id=customer,
                customer_number="K-1001",
                name="Ayşe Demir",
                language="tr",
                email=EMAIL,
                vip=True,
                notes=f"prefers {SECOND}",
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
        await session.flush()
        for number in (NUMBER, SECOND):
            session.add(CustomerNumber(number=number, customer_id=customer))
        for call in ("c1", "c3"):
            session.add(
                SurveyAnswer(
                    id=str(uuid.uuid4()),
                    call_id=call,
                    survey="after",
                    question="q1",
                    position=1,
                    answer=4,
                    status=AnswerStatus.ANSWERED,
                    scale="1-5",
                    answered_at=clock.now,
                )
            )
            session.add(
                CallNote(
                    id=str(uuid.uuid4()),
                    call_id=call,
                    customer_id=customer,
                    kind=NoteKind.NOTE,
                    text=f"call back on {NUMBER}",
                    author_name="Agent",
                    created_at=clock.now,
                )
            )
        for call in ("c1", "c3"):
            rid = recordings[call]
            session.add(
                Comment(
                    id=str(uuid.uuid4()),
                    recording_id=rid,
                    offset_s=1.0,
                    text=f"caller {NUMBER} was upset",
                    author_id=user.id,
                    author_name="Q A",
                    created_at=clock.now,
                )
            )
            session.add(
                Evaluation(
                    id=str(uuid.uuid4()),
                    recording_id=rid,
                    scorecard="sales",
                    scorecard_version="1",
                    answers={},
                    score=80.0,
                    passed=True,
                    note=f"read back {NUMBER} correctly",
                    evaluator_id=user.id,
                    evaluator_name="Q A",
                    created_at=clock.now,
                )
            )
        campaign = str(uuid.uuid4())
        session.add(
            Campaign(
                id=campaign,
                name="after-sales",
                survey="nps",
                state=CampaignState.ACTIVE,
                window_from="09:00",
                window_to="18:00",
                days="mon-fri",
                concurrency=2,
                retries=2,
                retry_after_s=3600,
                ring_s=30,
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
        await session.flush()
        targets = {}
        for line, number in enumerate((NUMBER, OTHER), start=1):
            targets[number] = str(uuid.uuid4())
            session.add(
                CampaignTarget(
                    id=targets[number],
                    campaign_id=campaign,
                    line=line,
                    number=number,
                    state=TargetState.PENDING,
                    attempts=0,
                    next_attempt_at=clock.now,
                    updated_at=clock.now,
                )
            )
    return Subject(recordings, customer, other, targets)


@pytest.mark.asyncio
async def test_export_gathers_everything_and_the_audio_decodes_to_the_original(
    db: Database,
    maker: Maker,
    store: LocalStore,
    keyring: Keyring,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    subject = await build_subject(db, maker, clock)
    out = tmp_path / "subject.zip"
    await export(
        db=db,
        store=store,
        unwrappers=[LocalKeyProvider(keyring)],
        query=SubjectQuery(number=NUMBER),
        who=WHO,
        out=out,
        now=clock.now,
    )

    with zipfile.ZipFile(out) as archive:
        index = json.loads(archive.read("index.json"))
        audio = {item["id"]: archive.read(item["audio"]) for item in index["recordings"]}
    assert sorted(call["id"] for call in index["calls"]) == ["c1", "c2", "c3"]
    c1 = next(call for call in index["calls"] if call["id"] == "c1")
    assert [e["kind"] for e in c1["events"]][-1] == "transfer"
    assert index["subject"]["numbers"] == [NUMBER, SECOND]
    assert [(c["name"], c["email"]) for c in index["customers"]] == [("Ayşe Demir", EMAIL)]
    assert len(index["survey_answers"]) == 2
    assert len(index["evaluations"]) == 2
    assert len(index["comments"]) == 2
    assert len(index["call_notes"]) == 2
    assert [t["number"] for t in index["campaign_numbers"]] == [NUMBER]
    assert subject.other_recording not in audio
    for name, freq in (("c1", 440.0), ("c2", 550.0), ("c3", 660.0)):
        assert audio[subject.recordings[name]] == make_wav(1.0, freq)
        with wave.open(io.BytesIO(audio[subject.recordings[name]])) as decoded:
            assert decoded.getnframes() == 8000
    assert all("wrapped_keys" not in item for item in index["recordings"])

    async with db.read() as session:
        request = (await session.scalars(select(SubjectRequest))).one()
        entry = (await session.scalars(select(AuditEntry))).all()[-1]
    assert request.kind.value == "export"
    assert request.subject == "+90555*****33"
    assert (entry.action, entry.target, entry.reason) == (
        "subject.export",
        "subject:+90555*****33",
        WHO.reason,
    )


@pytest.mark.asyncio
async def test_erase_leaves_nothing_readable_but_what_a_hold_keeps(
    db: Database,
    maker: Maker,
    store: LocalStore,
    keyring: Keyring,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subject = await build_subject(db, maker, clock)
    hold = await HoldStore(db, clock).add(HoldScope.CALL, "c3", "complaint under review", ACTOR)
    # A QA search by the caller's number, audited after this change: stored masked.
    search = audit.Event("recording.search", detail={"filters": {"caller": NUMBER}, "hits": 1})
    await audit.record(db, ACTOR, search, clock.now)
    recordings = RecordingStore(db, clock)
    backups = {}
    for name in ("c1", "c2"):
        row = await recordings.get(subject.recordings[name])
        assert row.object_key is not None
        backups[name] = (row.object_key, b"".join(store.get(row.object_key)))
    capsys.readouterr()
    configure_logging("json", "debug")

    receipt = await erase(
        db=db, store=store, query=SubjectQuery(number=NUMBER), who=WHO, now=clock.now
    )

    logs = capsys.readouterr()
    assert "+90555*****33" in logs.err  # the erasure logged, masked
    removed = {(item["type"], item["id"]) for item in receipt.removed}
    r1, r2, r3 = (subject.recordings[name] for name in ("c1", "c2", "c3"))
    assert {
        ("recording", r1),
        ("recording", r2),
        ("customer", subject.customer),
        ("call_numbers", "c1"),
        ("call_numbers", "c2"),
        ("call_events_mention", "x1"),
    } <= removed
    kinds = [kind for kind, _id in removed]
    assert (kinds.count("survey_answer"), kinds.count("comment")) == (1, 1)
    assert (kinds.count("evaluation_note"), kinds.count("call_note")) == (1, 1)
    kept = {(item["type"], item["id"]): item for item in receipt.kept}
    assert {("call", "c3"), ("recording", r3)} <= set(kept)
    assert sorted(kind for kind, _id in kept) == [
        "call",
        "call_note",
        "comment",
        "evaluation",
        "recording",
        "survey_answer",
    ]
    assert {item["holds"][0]["id"] for item in kept.values()} == {hold.id}
    assert receipt.subject == "+90555*****33"

    # Nothing readable about the number is left, except in the held items the receipt names.
    allowed = {(TABLES[kind], item_id) for kind, item_id in kept} | {("legal_holds", hold.id)}
    for needle in (NUMBER, NUMBER[1:], SECOND, SECOND[1:], "Ayşe", EMAIL):
        hits = [
            (table, row.get("id") or row.get("call_id"))
            for table, row in await rows_containing(db, needle)
        ]
        assert set(hits) <= allowed, (needle, hits)
        assert needle in (SECOND, SECOND[1:], "Ayşe", EMAIL) or ("calls", "c3") in hits
    assert not [t for t, _ in await rows_containing(db, SECOND)]
    assert not await rows_containing(db, EMAIL)
    for key in store.list():
        assert NUMBER.encode() not in b"".join(store.get(key))
    for needle in (NUMBER, NUMBER[1:], SECOND):
        assert needle not in logs.out + logs.err

    # The erased recordings' conversation figures went with them; the held one keeps its own.
    erased = [await recordings.get(rid) for rid in (r1, r2)]
    assert [(row.talk_segments, row.agent_talk_ratio) for row in erased] == [(None, None)] * 2
    assert (await recordings.get(r3)).talk_segments is not None

    # The erased recordings cannot be decrypted, even from a restored backup of the object.
    unwrappers = [LocalKeyProvider(keyring)]
    for name, (key, data) in backups.items():
        row = await recordings.get(subject.recordings[name])
        assert row.state is RecordingState.DELETED
        assert not store.exists(key)
        store.put(key, [data])
        with pytest.raises(KeyProviderError):
            decrypt(store, row, unwrappers)
    assert decrypt(store, await recordings.get(r3), unwrappers) == make_wav(1.0, 660.0)
    assert decrypt(store, await recordings.get(subject.other_recording), unwrappers) == make_wav(
        1.0, 770.0
    )

    async with db.read() as session:
        records = list(await session.scalars(select(DestructionRecord)))
        request = (await session.scalars(select(SubjectRequest))).one()
        entry = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()[-1]
        remaining_notes = list(await session.scalars(select(CallNote)))
    shredded = {r.recording_id for r in records if r.recording_id}
    assert shredded == {r1, r2}
    assert {r.reason for r in records} == {DestructionReason.ERASURE}
    assert {r.request_id for r in records} == {receipt.request_id}
    assert request.receipt == receipt.to_json()
    assert (entry.action, entry.target) == ("subject.erase", "subject:+90555*****33")
    assert entry.detail["removed"] == len(receipt.removed)
    assert [n.call_id for n in remaining_notes] == ["c3"]  # the held call's note stays
    assert ("campaign_number", subject.targets[NUMBER]) in removed
    async with db.read() as session:
        erased_target = await session.get(CampaignTarget, subject.targets[NUMBER])
        other_target = await session.get(CampaignTarget, subject.targets[OTHER])
    assert erased_target is not None
    assert other_target is not None
    assert erased_target.state is TargetState.EXHAUSTED  # never dialled again
    assert (other_target.number, other_target.state) == (OTHER, TargetState.PENDING)
    assert (await audit.verify(db)).ok


@pytest.mark.asyncio
async def test_a_hold_on_the_number_keeps_everything_and_says_so(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    subject = await build_subject(db, maker, clock)
    hold = await HoldStore(db, clock).add(HoldScope.NUMBER, NUMBER, "court order", ACTOR)
    receipt = await erase(
        db=db, store=store, query=SubjectQuery(number=NUMBER), who=WHO, now=clock.now
    )
    kept = {(item["type"], item["id"]) for item in receipt.kept}
    assert {
        ("call", "c1"),
        ("call", "c3"),
        ("customer", subject.customer),
        ("campaign_number", subject.targets[NUMBER]),
    } <= kept
    assert ("call", "c2") not in kept  # c2 is on the second number, which is not held
    assert all(item["holds"][0]["id"] == hold.id for item in receipt.kept)
    recordings = RecordingStore(db, clock)
    assert (await recordings.get(subject.recordings["c1"])).state is RecordingState.STORED
    assert (await recordings.get(subject.recordings["c2"])).state is RecordingState.DELETED
    async with db.read() as session:
        customer = await session.get(Customer, subject.customer)
    assert customer is not None


@pytest.mark.asyncio
async def test_erasing_by_customer_number_covers_all_the_customers_numbers(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    subject = await build_subject(db, maker, clock)
    receipt = await erase(
        db=db, store=store, query=SubjectQuery(customer="K-1001"), who=WHO, now=clock.now
    )
    removed = {(item["type"], item["id"]) for item in receipt.removed}
    assert {
        ("call_numbers", "c1"),
        ("call_numbers", "c2"),
        ("call_numbers", "c3"),
        ("customer", subject.customer),
    } <= removed
    assert receipt.kept == []
    assert receipt.subject == "customer ******"
    assert "K-1001" not in json.dumps(receipt.to_json())
    for needle in (NUMBER, SECOND, "K-1001"):
        assert await rows_containing(db, needle) == [], needle


class DownStore(LocalStore):
    """A local store whose deletes fail (storage unreachable)."""

    def delete(self, key: str) -> None:
        raise StorageUnavailableError("connection refused")


@pytest.mark.asyncio
async def test_a_storage_outage_keeps_the_recording_and_says_erase_again(
    db: Database, maker: Maker, store: LocalStore, clock: FakeClock
) -> None:
    rid = await maker.recording(await maker.call("c1", caller=NUMBER))
    receipt = await erase(
        db=db,
        store=DownStore(store.root),
        query=SubjectQuery(number=NUMBER),
        who=WHO,
        now=clock.now,
    )
    kept = {(item["type"], item["id"]): item for item in receipt.kept}
    assert "erase again" in kept["recording", rid]["why"]
    assert (await RecordingStore(db, clock).get(rid)).state is RecordingState.STORED
    again = await erase(
        db=db, store=store, query=SubjectQuery(number=NUMBER), who=WHO, now=clock.now
    )
    assert ("recording", rid) in {(item["type"], item["id"]) for item in again.removed}
    assert again.kept == []
    assert await rows_containing(db, NUMBER) == []
