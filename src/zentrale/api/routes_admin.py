"""API routes for supervisors and administrators: the audit log and the user list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from zentrale.api.auth import Caller, deps_of
from zentrale.api.schemas import AuditOut, AuditPageOut, UserOut
from zentrale.api.text import NO_NUL
from zentrale.core.models import AuditEntry
from zentrale.core.users import UserStore

router = APIRouter(prefix="/api", tags=["administration"])


@router.get("/audit", name="audit.list", response_model=AuditPageOut)
async def audit_log(
    caller: Caller,
    request: Request,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # seq is a 32-bit INTEGER
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    target: Annotated[str | None, Query(max_length=255, pattern=NO_NUL)] = None,
) -> AuditPageOut:
    """List audit entries, newest first; page with `before` = the last `seq` seen."""
    deps = deps_of(request)
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditEntry.seq < before)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    async with deps.db.read() as session:
        rows = list(await session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPageOut(
        items=[AuditOut.of(row) for row in rows], next_before=rows[-1].seq if more else None
    )


@router.get("/users", name="users.list", response_model=list[UserOut])
async def users(caller: Caller, request: Request) -> list[UserOut]:
    """List every user (administrators only)."""
    deps = deps_of(request)
    return [UserOut.model_validate(u, from_attributes=True) for u in await UserStore(deps.db).all()]
