"""Request and response bodies of the QA API (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zentrale.api.text import NO_NUL
from zentrale.core.models import ApiToken, AuditEntry, Role
from zentrale.qa.models import Comment, Evaluation
from zentrale.qa.search import TAG_PATTERN, Hit
from zentrale.recording.models import Recording
from zentrale.recording.store import agent_talk_pct, overtalk_pct

TagName = Field(pattern=TAG_PATTERN)


class Body(BaseModel):
    """A request body: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class LoginBody(Body):
    """Credentials for a browser-less sign-in."""

    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1024, pattern=NO_NUL)
    code: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Za-z -]*$")
    """The TOTP code, or a recovery code, when the account has a second factor."""


class MeOut(BaseModel):
    """The signed-in user."""

    id: str
    username: str
    display_name: str
    role: Role
    departments: list[str]
    agent_endpoint: str | None
    csrf_token: str | None = None


class TokenCreate(Body):
    """A new personal API token."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w .-]+$")
    days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    """A token's metadata (the secret is shown only once, on creation)."""

    id: str
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    token: str | None = None

    @classmethod
    def of(cls, row: ApiToken, secret: str | None = None) -> TokenOut:
        """Build from a row."""
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            token=secret,
        )


class TalkOut(BaseModel):
    """Conversation figures from the two channels (docs/qa.md); None where not analysed."""

    customer_talk_s: float | None
    agent_talk_s: float | None
    dead_air_s: float | None
    longest_dead_air_s: float | None
    overtalk_s: float | None
    overtalk_count: int | None
    overtalk_pct: float | None
    longest_monologue_s: float | None
    agent_talk_pct: float | None

    @classmethod
    def of(cls, r: Recording) -> TalkOut | None:
        """Build from a recording row (None when it was never analysed)."""
        if r.talk_segments is None:
            return None
        share, agent = overtalk_pct(r), agent_talk_pct(r)
        return cls(
            customer_talk_s=r.talk_customer_s,
            agent_talk_s=r.talk_agent_s,
            dead_air_s=r.dead_air_s,
            longest_dead_air_s=r.longest_dead_air_s,
            overtalk_s=r.overtalk_s,
            overtalk_count=r.overtalk_count,
            overtalk_pct=round(share, 1) if share is not None else None,
            longest_monologue_s=r.longest_monologue_s,
            agent_talk_pct=round(agent, 1) if agent is not None else None,
        )


class RecordingOut(BaseModel):
    """A recording as search lists it."""

    id: str
    call_id: str
    created_at: dt.datetime
    duration_s: float | None
    format: str
    state: str
    department: str | None
    agent_endpoint: str | None
    agent_name: str | None
    direction: str
    caller_number: str | None
    tags: list[str]
    score: float | None
    talk: TalkOut | None = None

    @classmethod
    def of(cls, hit: Hit) -> RecordingOut:
        """Build from a search hit."""
        r = hit.recording
        return cls(
            id=r.id,
            call_id=r.call_id,
            created_at=r.created_at,
            duration_s=r.duration_s,
            format=r.format,
            state=r.state.value,
            department=r.department,
            agent_endpoint=r.agent_endpoint,
            agent_name=r.agent_name,
            direction=hit.direction.value,
            caller_number=hit.caller_number,
            tags=list(hit.tags),
            score=hit.score,
            talk=TalkOut.of(r),
        )


class PageOut(BaseModel):
    """One page of search results."""

    items: list[RecordingOut]
    next_cursor: str | None


class EventOut(BaseModel):
    """One entry of the call's timeline; `offset_s` is from the recording's start."""

    seq: int
    at: dt.datetime
    offset_s: float
    kind: str
    detail: dict[str, Any]


class RecordingDetailOut(RecordingOut):
    """A recording with its call's timeline and the pauses in the audio."""

    pause_markers: list[list[float]]
    speech: dict[str, list[list[Any]]] | None
    """Who spoke when: `segments` [[party, start, end]]; `silences`, `overtalks` [[start, end]]."""
    timeline: list[EventOut]
    audio_url: str
    waveform_url: str


class WaveformOut(BaseModel):
    """Peaks (0-1) at a fixed interval, ready for the player."""

    interval_s: float
    duration_s: float | None
    peaks: list[float]


class EvaluationCreate(Body):
    """Answers to the department's scorecard: question id to true/false or 1-5."""

    answers: dict[str, bool | int]
    note: str | None = Field(default=None, max_length=4000, pattern=NO_NUL)


class EvaluationOut(BaseModel):
    """A stored evaluation."""

    id: str
    recording_id: str
    scorecard: str
    scorecard_version: str
    answers: dict[str, Any]
    score: float
    auto_failed: bool
    passed: bool
    note: str | None
    evaluator_name: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None

    @classmethod
    def of(cls, row: Evaluation) -> EvaluationOut:
        """Build from a row."""
        return cls.model_validate(row, from_attributes=True)


class CommentCreate(Body):
    """A comment pinned to a moment of the call."""

    offset_s: float = Field(ge=0, le=86400)
    text: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class CommentOut(BaseModel):
    """A stored comment."""

    id: str
    offset_s: float
    text: str
    author_name: str
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Comment) -> CommentOut:
        """Build from a row."""
        return cls.model_validate(row, from_attributes=True)


class TagsOut(BaseModel):
    """The recording's tags."""

    tags: list[str]


class AuditOut(BaseModel):
    """One audit log entry."""

    seq: int
    at: dt.datetime
    actor_name: str
    action: str
    target: str | None
    address: str | None
    reason: str | None
    detail: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, row: AuditEntry) -> AuditOut:
        """Build from a row."""
        return cls.model_validate(row, from_attributes=True)


class AuditPageOut(BaseModel):
    """Audit entries, newest first."""

    items: list[AuditOut]
    next_before: int | None


class UserOut(BaseModel):
    """A user as administrators see them."""

    id: str
    username: str
    display_name: str
    role: Role
    departments: list[str]
    agent_endpoint: str | None
    disabled: bool
