"""The retention purge: destroy what its rule no longer allows us to keep.

For each stored recording older than its rule's period and under no legal hold, the purge
crypto-shreds it (`shred.shred`) and so writes a destruction record. A call record past its
period, once none of its recordings is still kept, gets its phone numbers masked (a
destruction record of kind `call_numbers`). A dry run computes the same list and changes
nothing. Each item is its own transaction: a crash or a storage outage midway leaves the rest
for the next run, which picks up exactly what is still due. The agent state log's rows
(employees' states, not tied to a call) are deleted once they ended longer ago than
`agent_states_keep`, in batches, and counted in the report and the audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import structlog
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zentrale.calls.agent_states import AgentStateRow
from zentrale.calls.models import Call
from zentrale.config.settings import Settings
from zentrale.core import audit
from zentrale.db.session import Database
from zentrale.privacy.holds import Holds, HoldStore
from zentrale.privacy.masking import call_numbers, mask_call
from zentrale.privacy.models import DestroyedKind, DestructionReason
from zentrale.privacy.rules import Facts, RetentionRules, Rule
from zentrale.privacy.shred import Destruction, shred
from zentrale.qa.models import RecordingTag
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.base import ObjectStore, StorageError

log = structlog.get_logger(__name__)

ACTOR = "retention"
_BATCH = 500
_KEPT_STATES = (RecordingState.FINISHED, RecordingState.STORED)

Status = Literal["destroyed", "due", "held", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeItem:
    """One recording or call record the purge looked at, and what became of it."""

    kind: DestroyedKind
    id: str
    call_id: str
    rule: str
    expired_at: dt.datetime
    status: Status
    note: str = ""


@dataclass
class PurgeReport:
    """What a purge run did (or, dry, would do)."""

    dry_run: bool
    at: dt.datetime
    items: list[PurgeItem] = field(default_factory=list)
    agent_states: int = 0
    """Agent state log rows deleted (dry run: due)."""

    def count(self, status: Status, kind: DestroyedKind | None = None) -> int:
        """Return how many items ended with STATUS (of KIND, if given)."""
        return sum(1 for i in self.items if i.status == status and kind in (None, i.kind))

    @property
    def failed(self) -> list[PurgeItem]:
        """Return the items that could not be destroyed (retried next run)."""
        return [item for item in self.items if item.status == "failed"]


@dataclass(frozen=True, slots=True)
class Purger:
    """Runs the purge with its collaborators."""

    db: Database
    store: ObjectStore
    keep_years: int = 3
    agent_states_keep: dt.timedelta | None = None
    """How long an ended agent state row is kept; None: the purge leaves them alone."""

    async def run(self, rules: RetentionRules, now: dt.datetime, dry_run: bool) -> PurgeReport:
        """Purge (or list) everything past retention at NOW."""
        report = PurgeReport(dry_run=dry_run, at=now)
        holds = _HoldsNow(self.db)
        shortest = min(_periods(rules))
        for row, call, tags in await self._recordings(now - shortest):
            rule = rules.rule_for(_facts(call, row.department, tags))
            if row.created_at + rule.keep <= now:
                report.items.append(await self._recording(row, call, rule, holds, now, dry_run))
        for call, tags in await self._calls(now - shortest):
            rule = rules.rule_for(_facts(call, call.department, tags))
            if call.arrived_at + rule.keep <= now:
                report.items.append(await self._call(call, rule, holds, now, dry_run))
        if self.agent_states_keep is not None:
            report.agent_states = await self._agent_states(now - self.agent_states_keep, dry_run)
        if not dry_run and (report.count("destroyed") or report.agent_states):
            await _audit(self.db, report)
        log.info(
            "privacy.purge_done",
            dry_run=dry_run,
            destroyed=report.count("destroyed"),
            due=report.count("due"),
            held=report.count("held"),
            failed=report.count("failed"),
            agent_states=report.agent_states,
        )
        return report

    async def _agent_states(self, before: dt.datetime, dry_run: bool) -> int:
        """Delete (dry: count) the agent state rows that ended at or before BEFORE."""
        row = AgentStateRow
        # ended_at >= started_at, so the started_at bound only lets the index narrow the scan.
        ended = (row.started_at <= before, row.ended_at.is_not(None), row.ended_at <= before)
        if dry_run:
            async with self.db.read() as session:
                count = select(func.count()).select_from(row).where(*ended)
                return await session.scalar(count) or 0
        total = 0
        while True:  # in batches: short transactions however much is due
            async with self.db.write() as session:
                due = select(row.id).where(*ended).limit(_BATCH)
                ids = list(await session.scalars(due.with_for_update(skip_locked=True)))
                if ids:
                    # Rows deleted, not selected: another node's purge may have taken some.
                    done = await session.execute(delete(row).where(row.id.in_(ids)))
                    total += max(getattr(done, "rowcount", 0) or 0, 0)
            if not ids:
                return total

    async def _recording(
        self,
        row: Recording,
        call: Call,
        rule: Rule,
        holds: _HoldsNow,
        now: dt.datetime,
        dry_run: bool,
    ) -> PurgeItem:
        item = PurgeItem(
            kind=DestroyedKind.RECORDING,
            id=row.id,
            call_id=row.call_id,
            rule=rule.name,
            expired_at=row.created_at + rule.keep,
            status="due",
        )
        held = (await holds.now()).covering(call, row)
        if held:
            return _with(item, "held", "held by " + ", ".join(h.id for h in held))
        if dry_run:
            return item
        why = Destruction(
            reason=DestructionReason.RETENTION,
            actor=ACTOR,
            now=now,
            keep_years=self.keep_years,
            rule=rule.name,
        )
        try:
            await shred(self.db, self.store, row.id, why)
        except StorageError as exc:
            log.error("privacy.purge_storage_failed", recording_id=row.id, error=str(exc))
            return _with(item, "failed", f"storage: {exc}")
        return _with(item, "destroyed")

    async def _call(
        self, call: Call, rule: Rule, holds: _HoldsNow, now: dt.datetime, dry_run: bool
    ) -> PurgeItem:
        item = PurgeItem(
            kind=DestroyedKind.CALL_NUMBERS,
            id=call.id,
            call_id=call.id,
            rule=rule.name,
            expired_at=call.arrived_at + rule.keep,
            status="due",
        )
        held = (await holds.now()).covering(call)
        if held:
            return _with(item, "held", "held by " + ", ".join(h.id for h in held))
        if dry_run:
            return item
        why = Destruction(
            reason=DestructionReason.RETENTION,
            actor=ACTOR,
            now=now,
            keep_years=self.keep_years,
            rule=rule.name,
        )
        async with self.db.write() as session:
            current = await session.get(Call, call.id, with_for_update=True)
            numbers = call_numbers(current) if current is not None else []
            if current is None or not numbers:  # another node (or run) got there first
                return _with(item, "destroyed", "already masked")
            await mask_call(session, current, numbers)
            session.add(why.record(DestroyedKind.CALL_NUMBERS, call.id))
        return _with(item, "destroyed")

    async def _recordings(self, before: dt.datetime) -> list[tuple[Recording, Call, set[str]]]:
        query = (
            select(Recording, Call)
            .join(Call, Call.id == Recording.call_id)
            .where(Recording.state == RecordingState.STORED, Recording.created_at <= before)
            .order_by(Recording.created_at, Recording.id)
        )
        async with self.db.read() as session:
            rows = [(r, c) for r, c in (await session.execute(query)).tuples()]
            tags = await _tags(session, [r.id for r, _c in rows])
        return [(r, c, tags.get(r.id, set())) for r, c in rows]

    async def _calls(self, before: dt.datetime) -> list[tuple[Call, set[str]]]:
        unmasked = or_(
            *(
                (column.is_not(None) & ~column.contains("*"))
                for column in (Call.caller_number, Call.dialled_number, Call.called_number)
            )
        )
        kept = select(Recording.call_id).where(Recording.state.in_(_KEPT_STATES))
        query = (
            select(Call)
            .where(Call.arrived_at <= before, unmasked, Call.id.not_in(kept))
            .order_by(Call.arrived_at, Call.id)
        )
        async with self.db.read() as session:
            calls = list(await session.scalars(query))
            recordings = select(Recording.id, Recording.call_id).where(
                Recording.call_id.in_([c.id for c in calls])
            )
            owner = dict((await session.execute(recordings)).tuples().all())
            tags = await _tags(session, list(owner))
        by_call: dict[str, set[str]] = {}
        for rid, found in tags.items():
            by_call.setdefault(owner[rid], set()).update(found)
        return [(c, by_call.get(c.id, set())) for c in calls if call_numbers(c)]


def purger_for(settings: Settings, db: Database, store: ObjectStore) -> Purger:
    """Return the purge as the settings configure it (the daemon's and the command's)."""
    return Purger(
        db,
        store,
        settings.retention.destruction_record_years,
        agent_states_keep=dt.timedelta(days=settings.retention.agent_states_days),
    )


async def _audit(db: Database, report: PurgeReport) -> None:
    counts = {kind.value: report.count("destroyed", kind) for kind in DestroyedKind}
    detail = {**counts, "agent_states": report.agent_states, "failed": len(report.failed)}
    event = audit.Event("retention.purge", detail=detail)
    await audit.record(db, audit.Actor(None, ACTOR, None), event, report.at)


class _HoldsNow:
    """The active holds, read again before each item: a hold placed during a run counts."""

    def __init__(self, db: Database) -> None:
        self._store = HoldStore(db)

    async def now(self) -> Holds:
        return await self._store.active()


def _with(item: PurgeItem, status: Status, note: str = "") -> PurgeItem:
    return PurgeItem(
        kind=item.kind,
        id=item.id,
        call_id=item.call_id,
        rule=item.rule,
        expired_at=item.expired_at,
        status=status,
        note=note,
    )


def _periods(rules: RetentionRules) -> list[dt.timedelta]:
    return [rules.document.default, *(spec.keep for spec in rules.document.rules)]


def _facts(call: Call, department: str | None, tags: set[str]) -> Facts:
    return Facts(
        department=department or call.department,
        direction=call.direction.value if call.direction else None,
        outcome=call.outcome.value if call.outcome else None,
        tags=frozenset(tags),
    )


async def _tags(session: AsyncSession, recording_ids: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for start in range(0, len(recording_ids), _BATCH):
        chunk = recording_ids[start : start + _BATCH]
        query = select(RecordingTag.recording_id, RecordingTag.tag).where(
            RecordingTag.recording_id.in_(chunk)
        )
        for rid, tag in (await session.execute(query)).tuples():
            found.setdefault(rid, set()).add(tag)
    return found
