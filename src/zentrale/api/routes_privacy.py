"""Admin API for data protection: legal holds and data-subject requests (`/api/holds`,
`/api/subjects/...`).

Administrators only (role matrix); every call is audited. Subject requests take the number in
the JSON body, never in the URL (URLs end up in access logs), and need a reason.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.auth import Caller, deps_of
from zentrale.api.text import NO_NUL
from zentrale.base.errors import InvalidRequestError, NotFoundError
from zentrale.core import audit
from zentrale.privacy.holds import HoldNotFoundError, HoldStore, shown_value
from zentrale.privacy.models import HoldScope, LegalHold
from zentrale.privacy.subjects import Requester, SubjectError, SubjectQuery, erase, export

router = APIRouter(prefix="/api", tags=["data protection"])

Reason = Annotated[str, Field(min_length=5, max_length=500, pattern=NO_NUL)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HoldIn(_Body):
    """A legal hold to place."""

    scope: HoldScope
    value: Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)]
    reason: Reason


class ReleaseIn(_Body):
    """A hold to release, and why."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    reason: Reason


class HoldOut(BaseModel):
    """A legal hold as the API shows it (a held number masked)."""

    id: str
    scope: str
    value: str
    reason: str
    created_by: str
    created_at: str
    released_at: str | None
    released_by: str | None

    @classmethod
    def of(cls, row: LegalHold) -> HoldOut:
        """Return the API view of ROW."""
        return cls(
            id=row.id,
            scope=row.scope.value,
            value=shown_value(row),
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at.isoformat(),
            released_at=row.released_at.isoformat() if row.released_at else None,
            released_by=row.released_by,
        )


class SubjectIn(_Body):
    """A data-subject request: a phone number and/or a customer number, and the reason."""

    number: Annotated[str | None, Field(max_length=32, pattern=r"^\+?[0-9]{6,20}$")] = None
    customer: Annotated[str | None, Field(min_length=1, max_length=64, pattern=NO_NUL)] = None
    reason: Reason

    def query(self) -> SubjectQuery:
        """Return the subject, or raise InvalidRequestError."""
        try:
            return SubjectQuery(number=self.number, customer=self.customer)
        except SubjectError as exc:
            raise InvalidRequestError(str(exc)) from None


@router.get("/holds", name="holds.list", response_model=list[HoldOut])
async def list_holds(
    caller: Caller, request: Request, every: Annotated[bool, Query(alias="all")] = False
) -> list[HoldOut]:
    """List legal holds (active ones unless `all`)."""
    deps = deps_of(request)
    rows = await HoldStore(deps.db, deps.clock).list(include_released=every)
    event = audit.Event("hold.list", detail={"all": every, "count": len(rows)})
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return [HoldOut.of(row) for row in rows]


@router.post("/holds", name="holds.add", response_model=HoldOut, status_code=201)
async def add_hold(caller: Caller, request: Request, body: HoldIn) -> HoldOut:
    """Place a legal hold on a call, recording, number or department."""
    deps = deps_of(request)
    row = await HoldStore(deps.db, deps.clock).add(
        body.scope, body.value, body.reason, caller.actor
    )
    return HoldOut.of(row)


@router.post("/holds/release", name="holds.release", response_model=HoldOut)
async def release_hold(caller: Caller, request: Request, body: ReleaseIn) -> HoldOut:
    """Release an active legal hold."""
    deps = deps_of(request)
    try:
        row = await HoldStore(deps.db, deps.clock).release(body.id, body.reason, caller.actor)
    except HoldNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    return HoldOut.of(row)


@router.post("/subjects/export", name="subjects.export", response_class=Response)
async def export_subject(caller: Caller, request: Request, body: SubjectIn) -> Response:
    """Return a zip of everything stored about the subject (recordings decrypted).

    The zip is built in memory: decrypted audio never touches this server's disk.
    """
    deps = deps_of(request)
    buffer = io.BytesIO()
    try:
        await export(
            db=deps.db,
            store=deps.store,
            unwrappers=deps.unwrappers,
            query=body.query(),
            who=Requester(caller.actor, body.reason),
            out=buffer,
            now=deps.clock(),
        )
    except SubjectError as exc:  # e.g. no customer has this customer number
        raise NotFoundError(str(exc)) from None
    headers = {
        "Content-Disposition": 'attachment; filename="subject-export.zip"',
        "Cache-Control": "no-store",
    }
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)


@router.post("/subjects/erase", name="subjects.erase")
async def erase_subject(caller: Caller, request: Request, body: SubjectIn) -> dict[str, Any]:
    """Erase everything about the subject that no legal hold keeps; return the receipt."""
    deps = deps_of(request)
    keep = deps.settings.retention.destruction_record_years
    try:
        receipt = await erase(
            db=deps.db,
            store=deps.store,
            query=body.query(),
            who=Requester(caller.actor, body.reason),
            now=deps.clock(),
            keep_years=keep,
        )
    except SubjectError as exc:
        raise NotFoundError(str(exc)) from None
    return receipt.to_json()
