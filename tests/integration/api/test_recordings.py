"""Search (filters, scope, keyset pages), details, ranged playback, download and waveform."""

from __future__ import annotations

import httpx
import pytest

from .conftest import World

pytestmark = pytest.mark.asyncio


async def _ids(client: httpx.AsyncClient, world: World, user: str, **params: object) -> list[str]:
    response = await client.get("/api/recordings", params=params, headers=world.auth(user))
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in world.recordings.items()}
    return [by_id[item["id"]] for item in response.json()["items"]]


async def test_scope_admin_all_reviewers_their_departments_agents_their_calls(
    client: httpx.AsyncClient, world: World
) -> None:
    assert await _ids(client, world, "admin") == ["support1", "sales2", "sales1"]
    assert await _ids(client, world, "qa") == ["sales2", "sales1"]
    assert await _ids(client, world, "super") == ["sales2", "sales1"]
    assert await _ids(client, world, "qa_support") == ["support1"]
    assert await _ids(client, world, "agent") == ["sales1"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"department": "sales"}, ["sales2", "sales1"]),
        ({"agent": "PJSIP/1002"}, ["sales2"]),
        ({"direction": "outbound"}, ["sales2"]),
        ({"caller": "+90555111"}, ["sales1"]),
        ({"caller": "+49"}, ["support1"]),
        ({"min_duration": 3.5}, ["support1", "sales1"]),
        ({"max_duration": 3.5}, ["sales2"]),
        ({"since": "2026-03-02T09:05:00Z"}, ["support1", "sales2"]),
        ({"until": "2026-03-02T09:05:00Z"}, ["sales1"]),
        ({"survey_max": 2}, ["sales1"]),
        ({"survey_min": 4}, ["support1", "sales2"]),
        ({"sort": "created_at"}, ["sales1", "sales2", "support1"]),
        ({"sort": "-duration"}, ["sales1", "support1", "sales2"]),
        ({"sort": "duration"}, ["sales2", "support1", "sales1"]),
    ],
)
async def test_filters_and_sorting(
    client: httpx.AsyncClient, world: World, params: dict[str, object], expected: list[str]
) -> None:
    assert await _ids(client, world, "admin", **params) == expected


async def test_a_department_filter_cannot_widen_the_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    assert await _ids(client, world, "qa", department="support") == []


async def test_keyset_pages_cover_everything_once(client: httpx.AsyncClient, world: World) -> None:
    for sort in ("-created_at", "created_at", "-duration", "duration"):
        seen, cursor = [], None
        while True:
            params = {"limit": 1, "sort": sort} | ({"cursor": cursor} if cursor else {})
            body = (
                await client.get("/api/recordings", params=params, headers=world.auth("admin"))
            ).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(world.recordings.values()), sort
        assert len(seen) == 3


async def test_a_cursor_of_another_sort_or_garbage_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (
        await client.get("/api/recordings", params={"limit": 1}, headers=world.auth("admin"))
    ).json()
    for params in ({"cursor": first["next_cursor"], "sort": "duration"}, {"cursor": "!!!"}):
        response = await client.get("/api/recordings", params=params, headers=world.auth("admin"))
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid-request"


async def test_tag_and_score_filters(client: httpx.AsyncClient, world: World) -> None:
    rid = world.recordings["sales2"]
    await client.put(f"/api/recordings/{rid}/tags/complaint", headers=world.auth("qa"))
    answers = {
        "greeting": True,
        "consent": True,
        "needs": 5,
        "price_clear": True,
        "no_pressure": True,
        "summary": 5,
    }
    await client.post(
        f"/api/recordings/{rid}/evaluations", json={"answers": answers}, headers=world.auth("qa")
    )
    assert await _ids(client, world, "qa", tag="complaint") == ["sales2"]
    assert await _ids(client, world, "qa", min_score=90) == ["sales2"]
    assert await _ids(client, world, "qa", max_score=50) == []
    items = (await client.get("/api/recordings", headers=world.auth("qa"))).json()["items"]
    assert items[0]["tags"] == ["complaint"]
    assert items[0]["score"] == 100.0


async def test_detail_has_the_timeline_with_offsets_from_the_recording_start(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"/api/recordings/{world.recordings['sales1']}", headers=world.auth("qa")
    )
    body = response.json()
    kinds = [(event["kind"], event["offset_s"]) for event in body["timeline"]]
    assert kinds[:2] == [("recording_started", 0.0), ("survey_answer", 4.0)]
    assert body["caller_number"] == "+905551112233"
    assert body["direction"] == "inbound"


async def test_whole_audio_is_the_decrypted_plaintext(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(
        f"/api/recordings/{world.recordings['sales1']}/audio", headers=world.auth("qa")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == world.audio["sales1"]


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", (0, 100)),
        ("bytes=5000-20000", (5000, 20001)),
        ("bytes=-300", (-300, None)),
        ("bytes=90000-", (90000, None)),
        ("bytes=4095-4096", (4095, 4097)),
    ],
)
async def test_ranges_return_exactly_those_plaintext_bytes(
    client: httpx.AsyncClient, world: World, header: str, span: tuple[int, int | None]
) -> None:
    audio = world.audio["sales1"]
    response = await client.get(
        f"/api/recordings/{world.recordings['sales1']}/audio",
        headers={"Range": header, **world.auth("qa")},
    )
    assert response.status_code == 206
    expected = audio[span[0] : span[1]]
    assert response.content == expected
    start = span[0] if span[0] >= 0 else len(audio) + span[0]
    assert (
        response.headers["content-range"]
        == f"bytes {start}-{start + len(expected) - 1}/{len(audio)}"
    )
    assert int(response.headers["content-length"]) == len(expected)


async def test_a_range_reads_only_its_segments_from_storage(
    client: httpx.AsyncClient, world: World, store: object
) -> None:
    before = store.bytes_read  # type: ignore[attr-defined]
    await client.get(
        f"/api/recordings/{world.recordings['sales1']}/audio",
        headers={"Range": "bytes=50000-50099", **world.auth("qa")},
    )
    assert store.bytes_read - before < 3 * 4112  # type: ignore[attr-defined]


async def test_a_range_past_the_end_is_416(client: httpx.AsyncClient, world: World) -> None:
    size = len(world.audio["sales1"])
    headers = {"Range": f"bytes={size}-", **world.auth("qa")}
    url = f"/api/recordings/{world.recordings['sales1']}/audio"
    response = await client.get(url, headers=headers)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.json()["error"]["code"] == "range-not-satisfiable"


async def test_download_needs_a_reason_which_is_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"/api/recordings/{world.recordings['sales1']}/download"
    assert (await client.get(url, headers=world.auth("qa"))).status_code == 422
    response = await client.get(
        url, params={"reason": "customer complaint 4711"}, headers=world.auth("qa")
    )
    assert response.status_code == 200
    assert response.content == world.audio["sales1"]
    assert "attachment" in response.headers["content-disposition"]
    log = (
        await client.get(
            "/api/audit", params={"action": "recording.download"}, headers=world.auth("admin")
        )
    ).json()["items"]
    assert log[0]["reason"] == "customer complaint 4711"
    assert log[0]["actor_name"] == "qa"


async def test_waveform_is_the_stored_peaks_scaled(client: httpx.AsyncClient, world: World) -> None:
    body = (
        await client.get(
            f"/api/recordings/{world.recordings['sales1']}/waveform", headers=world.auth("agent")
        )
    ).json()
    assert body["interval_s"] == 0.1
    assert body["duration_s"] == 6.0
    assert body["peaks"][:3] == [0.0, 0.02, 0.039]
    assert len(body["peaks"]) == 50


async def test_an_erased_recording_is_unavailable(
    client: httpx.AsyncClient, world: World, deps: object
) -> None:
    from sqlalchemy import update

    from zentrale.recording.models import Recording

    async with deps.db.write() as session:  # type: ignore[attr-defined]
        await session.execute(update(Recording).values(wrapped_keys=[]))
    response = await client.get(
        f"/api/recordings/{world.recordings['sales1']}/audio", headers=world.auth("qa")
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "recording-unavailable"


async def test_a_missing_object_is_recording_not_found(
    client: httpx.AsyncClient, world: World, store: object
) -> None:
    store.objects.clear()  # type: ignore[attr-defined]
    response = await client.get(
        f"/api/recordings/{world.recordings['sales1']}/audio", headers=world.auth("qa")
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "recording-not-found"
