"""API routes to review recordings: scorecard, evaluations, acknowledgement, comments, tags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from zentrale.api.auth import Caller, deps_of
from zentrale.api.routes_recordings import RecordingId
from zentrale.api.schemas import (
    CommentCreate,
    CommentOut,
    EvaluationCreate,
    EvaluationOut,
    TagsOut,
)
from zentrale.core import audit
from zentrale.qa import reviews
from zentrale.qa.errors import ScorecardNotFoundError
from zentrale.qa.search import TAG_PATTERN

router = APIRouter(prefix="/api", tags=["reviews"])

TagName = Annotated[str, Path(pattern=TAG_PATTERN)]
EvaluationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]


def _target(recording_id: str) -> str:
    return f"recording:{recording_id}"


@router.get("/recordings/{recording_id}/scorecard", name="scorecards.show")
async def scorecard(caller: Caller, recording_id: RecordingId, request: Request) -> dict[str, Any]:
    """Return the scorecard that applies to the recording's department."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await reviews.visible(session, caller, recording_id)
    found = deps.scorecards.for_department(recording.department)
    if found is None:
        raise ScorecardNotFoundError(f"no scorecard for department {recording.department!r}")
    name, card = found
    return {"name": name, "version": card.version(), **card.model_dump(mode="json")}


@router.get(
    "/recordings/{recording_id}/evaluations",
    name="evaluations.list",
    response_model=list[EvaluationOut],
)
async def list_evaluations(
    caller: Caller, recording_id: RecordingId, request: Request
) -> list[EvaluationOut]:
    """List the recording's evaluations, oldest first."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await reviews.visible(session, caller, recording_id)
        rows = await reviews.evaluations(session, recording.id)
    return [EvaluationOut.of(row) for row in rows]


@router.post(
    "/recordings/{recording_id}/evaluations",
    name="evaluations.create",
    response_model=EvaluationOut,
    status_code=201,
)
async def create_evaluation(
    caller: Caller, recording_id: RecordingId, body: EvaluationCreate, request: Request
) -> EvaluationOut:
    """Score the recording with its department's scorecard."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        recording = await reviews.visible(session, caller, recording_id)
        row = await reviews.evaluate(
            session=session,
            principal=caller,
            recording=recording,
            scorecards=deps.scorecards,
            answers=body.answers,
            note=body.note,
            now=now,
        )
        detail = {"evaluation": row.id, "score": row.score, "passed": row.passed}
        event = audit.Event("evaluation.create", target=_target(recording.id), detail=detail)
        await audit.append(session, caller.actor, event, now)
    return EvaluationOut.of(row)


@router.post(
    "/evaluations/{evaluation_id}/acknowledge",
    name="evaluations.acknowledge",
    response_model=EvaluationOut,
)
async def acknowledge(
    caller: Caller, evaluation_id: EvaluationId, request: Request
) -> EvaluationOut:
    """The agent of the call confirms having read the evaluation."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        row = await reviews.acknowledge(session, caller, evaluation_id, now)
        event = audit.Event(
            "evaluation.acknowledge",
            target=_target(row.recording_id),
            detail={"evaluation": row.id},
        )
        await audit.append(session, caller.actor, event, now)
    return EvaluationOut.of(row)


@router.get(
    "/recordings/{recording_id}/comments", name="comments.list", response_model=list[CommentOut]
)
async def list_comments(
    caller: Caller, recording_id: RecordingId, request: Request
) -> list[CommentOut]:
    """List the recording's comments in time order."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await reviews.visible(session, caller, recording_id)
        rows = await reviews.comments(session, recording.id)
    return [CommentOut.of(row) for row in rows]


@router.post(
    "/recordings/{recording_id}/comments",
    name="comments.create",
    response_model=CommentOut,
    status_code=201,
)
async def create_comment(
    caller: Caller, recording_id: RecordingId, body: CommentCreate, request: Request
) -> CommentOut:
    """Pin a comment to a moment of the recording."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        recording = await reviews.visible(session, caller, recording_id)
        row = await reviews.add_comment(
            session=session,
            principal=caller,
            recording=recording,
            offset_s=body.offset_s,
            text=body.text,
            now=now,
        )
        event = audit.Event(
            "comment.create",
            target=_target(recording.id),
            detail={"comment": row.id, "offset_s": row.offset_s},
        )
        await audit.append(session, caller.actor, event, now)
    return CommentOut.of(row)


@router.put("/recordings/{recording_id}/tags/{tag}", name="tags.add", response_model=TagsOut)
async def add_tag(
    caller: Caller, recording_id: RecordingId, tag: TagName, request: Request
) -> TagsOut:
    """Tag the recording (idempotent)."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        recording = await reviews.visible(session, caller, recording_id)
        if await reviews.add_tag(
            session=session, principal=caller, recording=recording, tag=tag, now=now
        ):
            event = audit.Event("tag.add", target=_target(recording.id), detail={"tag": tag})
            await audit.append(session, caller.actor, event, now)
        return TagsOut(tags=await reviews.tags(session, recording.id))


@router.delete("/recordings/{recording_id}/tags/{tag}", name="tags.remove", response_model=TagsOut)
async def remove_tag(
    caller: Caller, recording_id: RecordingId, tag: TagName, request: Request
) -> TagsOut:
    """Remove a tag from the recording (idempotent)."""
    deps = deps_of(request)
    now = deps.clock()
    async with deps.db.write() as session:
        recording = await reviews.visible(session, caller, recording_id)
        if await reviews.remove_tag(session, recording, tag):
            event = audit.Event("tag.remove", target=_target(recording.id), detail={"tag": tag})
            await audit.append(session, caller.actor, event, now)
        return TagsOut(tags=await reviews.tags(session, recording.id))
