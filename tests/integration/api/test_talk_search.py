"""Search and details by the conversation figures: overtalk, dead air, the agent's share."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio

from zentrale.db.session import Database
from zentrale.recording.store import RecordingStore
from zentrale.recording.talk import Segment, TalkFigures

from .conftest import World

pytestmark = pytest.mark.asyncio


def figures(duration: float, overtalk: float, dead_air: float, agent_share: float) -> TalkFigures:
    """Figures for a DURATION s recording with the given overtalk, longest silence and share."""
    talk = duration - dead_air
    return TalkFigures(
        duration_s=duration,
        parties=2,
        customer_talk_s=talk * (1 - agent_share),
        agent_talk_s=talk * agent_share,
        silence_s=dead_air,
        longest_silence_s=dead_air,
        overtalk_s=overtalk,
        overtalk_count=1 if overtalk else 0,
        longest_monologue_s=1.0,
        longest_monologue_party="agent",
        agent_talk_ratio=agent_share,
        segments=(Segment("customer", 0.0, 1.0), Segment("agent", 1.0, 2.0)),
        silences=((2.0, 2.0 + dead_air),) if dead_air else (),
        overtalks=((0.5, 0.5 + overtalk),) if overtalk else (),
    )


@pytest_asyncio.fixture
async def analysed(db: Database, world: World) -> World:
    """sales1 (6 s): much overtalk; sales2 (3 s): long dead air, talkative agent; support1 none."""
    store = RecordingStore(db)
    await store.set_talk(world.recordings["sales1"], figures(6.0, 1.2, 0.0, 0.5))
    await store.set_talk(world.recordings["sales2"], figures(3.0, 0.0, 2.5, 0.9))
    return world


async def ids(client: httpx.AsyncClient, world: World, **params: object) -> list[str]:
    response = await client.get("/api/recordings", params=params, headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in world.recordings.items()}
    return [by_id[item["id"]] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"min_overtalk_pct": 10}, ["sales1"]),  # 1.2 s of 6 s is 20%
        ({"min_overtalk_pct": 25}, []),
        ({"min_dead_air": 2}, ["sales2"]),
        ({"min_agent_talk_pct": 70}, ["sales2"]),
        ({"max_agent_talk_pct": 70}, ["sales1"]),  # support1 was never analysed: no match
        ({"min_overtalk_pct": 0}, ["sales2", "sales1"]),
    ],
)
async def test_search_by_conversation_figures_finds_exactly_the_seeded_calls(
    client: httpx.AsyncClient, analysed: World, params: dict[str, object], expected: list[str]
) -> None:
    assert await ids(client, analysed, **params) == expected


async def test_out_of_range_figures_are_refused_with_the_parameter_named(
    client: httpx.AsyncClient, analysed: World
) -> None:
    response = await client.get(
        "/api/recordings", params={"min_overtalk_pct": 150}, headers=analysed.auth("admin")
    )
    assert response.status_code == 422
    assert "min_overtalk_pct" in response.json()["error"]["message"]


async def test_details_carry_the_figures_and_who_spoke_when(
    client: httpx.AsyncClient, analysed: World
) -> None:
    rid = analysed.recordings["sales1"]
    response = await client.get(f"/api/recordings/{rid}", headers=analysed.auth("admin"))
    body = response.json()
    assert body["talk"]["overtalk_pct"] == 20.0
    assert body["talk"]["agent_talk_pct"] == 50.0
    assert body["speech"]["segments"] == [["customer", 0.0, 1.0], ["agent", 1.0, 2.0]]
    assert body["speech"]["overtalks"] == [[0.5, 1.7]]
    unanalysed = analysed.recordings["support1"]
    other = await client.get(f"/api/recordings/{unanalysed}", headers=analysed.auth("admin"))
    assert (other.json()["talk"], other.json()["speech"]) == (None, None)
