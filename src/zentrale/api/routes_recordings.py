"""API routes to find and hear recordings: search, details with timeline, audio, waveform."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from zentrale.api.auth import Caller, deps_of
from zentrale.api.schemas import (
    EventOut,
    PageOut,
    RecordingDetailOut,
    RecordingOut,
    WaveformOut,
)
from zentrale.api.text import NO_NUL
from zentrale.calls.models import Call, CallEvent, EventKind
from zentrale.core import audit
from zentrale.core.principal import Principal
from zentrale.qa.reviews import tags as tags_of
from zentrale.qa.reviews import visible
from zentrale.qa.search import Hit, SearchQuery, search
from zentrale.recording import playback
from zentrale.recording.models import Recording

router = APIRouter(prefix="/api", tags=["recordings"])

RecordingId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
PEAK_INTERVAL_S = 0.1


@router.get("/recordings", name="recordings.search", response_model=PageOut)
async def search_recordings(
    caller: Caller, request: Request, query: Annotated[SearchQuery, Query()]
) -> PageOut:
    """Search recordings in the user's scope; follow `next_cursor` for the next page."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        page = await search(session, caller, query)
    filters = query.model_dump(mode="json", exclude_none=True, exclude={"cursor"})
    event = audit.Event("recording.search", detail={"filters": filters, "hits": len(page.hits)})
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return PageOut(items=[RecordingOut.of(hit) for hit in page.hits], next_cursor=page.next_cursor)


@router.get("/recordings/{recording_id}", name="recordings.show", response_model=RecordingDetailOut)
async def show(caller: Caller, recording_id: RecordingId, request: Request) -> RecordingDetailOut:
    """Return one recording with its call's timeline."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await visible(session, caller, recording_id)
        call = await session.get(Call, recording.call_id)
        events = list(
            await session.scalars(
                select(CallEvent)
                .where(CallEvent.call_id == recording.call_id)
                .order_by(CallEvent.seq)
            )
        )
        tags = await tags_of(session, recording.id)
    assert call is not None
    event = audit.Event("recording.view", target=f"recording:{recording.id}")
    await audit.record(deps.db, caller.actor, event, deps.clock())
    return _detail(
        Hit(
            recording=recording,
            direction=call.direction,
            caller_number=call.caller_number,
            tags=tuple(tags),
            score=None,
        ),
        events,
    )


def _detail(hit: Hit, events: list[CallEvent]) -> RecordingDetailOut:
    started = next(
        (e.at for e in events if e.kind is EventKind.RECORDING_STARTED),
        events[0].at if events else None,
    )
    timeline = [
        EventOut(
            seq=e.seq,
            at=e.at,
            kind=e.kind.value,
            detail=e.detail,
            offset_s=round((e.at - started).total_seconds(), 3) if started else 0.0,
        )
        for e in events
    ]
    base = RecordingOut.of(hit).model_dump()
    rid = hit.recording.id
    return RecordingDetailOut(
        **base,
        pause_markers=hit.recording.pause_markers,
        speech=hit.recording.talk_segments,
        timeline=timeline,
        audio_url=f"/api/recordings/{rid}/audio",
        waveform_url=f"/api/recordings/{rid}/waveform",
    )


async def _audio(
    caller: Principal,
    request: Request,
    recording_id: str,
    range_header: str | None,
    action: str,
    reason: str | None = None,
) -> Response:
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await visible(session, caller, recording_id)
    sealed = playback.sealed_of(recording)
    wanted = playback.parse_range(range_header, sealed.plaintext_size)
    chunks = await playback.open_plaintext(deps.store, deps.unwrappers, sealed, wanted)
    span = [wanted.start, wanted.end] if wanted else [0, sealed.plaintext_size]
    event = audit.Event(
        action, target=f"recording:{recording.id}", reason=reason, detail={"bytes": span}
    )
    await audit.record(deps.db, caller.actor, event, deps.clock())
    response = _stream(recording, chunks, wanted, sealed.plaintext_size)
    if action == "recording.download":
        name = f"{recording.id}.{playback.EXTENSIONS.get(recording.format, 'bin')}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _stream(
    recording: Recording, chunks: object, wanted: playback.ByteRange | None, size: int
) -> StreamingResponse:
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(chunks, 200, headers, playback.content_type(recording))  # type: ignore[arg-type]
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = wanted.content_range()
    return StreamingResponse(chunks, 206, headers, playback.content_type(recording))  # type: ignore[arg-type]


@router.get(
    "/recordings/{recording_id}/audio",
    name="recordings.audio",
    response_class=StreamingResponse,
    responses={206: {"description": "Partial content"}},
)
async def audio(
    caller: Caller,
    recording_id: RecordingId,
    request: Request,
    range_header: Annotated[str | None, Header(alias="range", max_length=100)] = None,
) -> Response:
    """Stream the decrypted audio; supports `Range: bytes=...` for seeking."""
    return await _audio(
        caller=caller,
        request=request,
        recording_id=recording_id,
        range_header=range_header,
        action="recording.listen",
    )


@router.get(
    "/recordings/{recording_id}/download",
    name="recordings.download",
    response_class=StreamingResponse,
)
async def download(
    caller: Caller,
    recording_id: RecordingId,
    request: Request,
    reason: Annotated[str, Query(min_length=5, max_length=500, pattern=NO_NUL)],
) -> Response:
    """Download the decrypted audio as a file; the reason is kept in the audit log."""
    return await _audio(
        caller=caller,
        request=request,
        recording_id=recording_id,
        range_header=None,
        action="recording.download",
        reason=reason,
    )


@router.get(
    "/recordings/{recording_id}/waveform", name="recordings.waveform", response_model=WaveformOut
)
async def waveform(caller: Caller, recording_id: RecordingId, request: Request) -> WaveformOut:
    """Return the stored peaks (one per 100 ms, scaled 0-1) for drawing the waveform."""
    deps = deps_of(request)
    async with deps.db.read() as session:
        recording = await visible(session, caller, recording_id)
    peaks = [round(value / 255, 3) for value in (recording.waveform or b"")]
    return WaveformOut(interval_s=PEAK_INTERVAL_S, duration_s=recording.duration_s, peaks=peaks)
