"""Scorecards, evaluations (score, auto-fail, acknowledgement), comments and tags."""

from __future__ import annotations

import httpx
import pytest

from zentrale.qa.scorecards import ScorecardError, parse_scorecards

from .conftest import World

GOOD = {
    "greeting": True,
    "consent": True,
    "needs": 5,
    "price_clear": True,
    "no_pressure": True,
    "summary": 3,
}


def _url(world: World, name: str, tail: str) -> str:
    return f"/api/recordings/{world.recordings[name]}/{tail}"


@pytest.mark.asyncio
async def test_the_department_scorecard_is_served(client: httpx.AsyncClient, world: World) -> None:
    card = (await client.get(_url(world, "sales1", "scorecard"), headers=world.auth("qa"))).json()
    assert card["name"] == "sales"
    assert [s["id"] for s in card["sections"]] == ["opening", "offer", "closing"]


@pytest.mark.asyncio
async def test_an_evaluation_is_scored_and_stored_with_its_evaluator(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        _url(world, "sales1", "evaluations"),
        json={"answers": GOOD, "note": "fine"},
        headers=world.auth("qa"),
    )
    assert response.status_code == 201
    body = response.json()
    # weights: greeting 1, consent 1, needs 2 (5 -> 1.0), price 2, pressure 1, summary 1 (3 -> .5)
    assert body["score"] == 93.8
    assert body["passed"] is True
    assert body["evaluator_name"] == "Qa"
    listed = await client.get(_url(world, "sales1", "evaluations"), headers=world.auth("agent"))
    assert [e["id"] for e in listed.json()] == [body["id"]]


@pytest.mark.asyncio
async def test_an_auto_fail_answer_fails_the_evaluation(
    client: httpx.AsyncClient, world: World
) -> None:
    answers = GOOD | {"no_pressure": False}
    body = (
        await client.post(
            _url(world, "sales1", "evaluations"),
            json={"answers": answers},
            headers=world.auth("qa"),
        )
    ).json()
    assert (body["score"], body["auto_failed"], body["passed"]) == (0.0, True, False)


@pytest.mark.parametrize(
    "answers",
    [
        {},
        GOOD | {"extra": True},
        GOOD | {"needs": 6},
        GOOD | {"greeting": 1},
        GOOD | {"needs": True},
    ],
)
@pytest.mark.asyncio
async def test_answers_that_do_not_fit_are_refused(
    client: httpx.AsyncClient, world: World, answers: dict[str, object]
) -> None:
    response = await client.post(
        _url(world, "sales1", "evaluations"), json={"answers": answers}, headers=world.auth("qa")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] in ("invalid-answers", "invalid-request")


@pytest.mark.asyncio
async def test_the_agent_acknowledges_an_evaluation_of_their_call_once(
    client: httpx.AsyncClient, world: World
) -> None:
    created = (
        await client.post(
            _url(world, "sales1", "evaluations"), json={"answers": GOOD}, headers=world.auth("qa")
        )
    ).json()
    url = f"/api/evaluations/{created['id']}/acknowledge"
    assert (await client.post(url, headers=world.auth("qa"))).status_code == 403
    first = (await client.post(url, headers=world.auth("agent"))).json()
    again = (await client.post(url, headers=world.auth("agent"))).json()
    assert first["acknowledged_at"] is not None
    assert again["acknowledged_at"] == first["acknowledged_at"]


@pytest.mark.asyncio
async def test_comments_are_pinned_and_listed_in_time_order(
    client: httpx.AsyncClient, world: World
) -> None:
    for offset, text in ((4.5, "interrupts"), (1.0, "good greeting")):
        response = await client.post(
            _url(world, "sales1", "comments"),
            json={"offset_s": offset, "text": text},
            headers=world.auth("qa"),
        )
        assert response.status_code == 201
    listed = (
        await client.get(_url(world, "sales1", "comments"), headers=world.auth("agent"))
    ).json()
    assert [(c["offset_s"], c["text"]) for c in listed] == [
        (1.0, "good greeting"),
        (4.5, "interrupts"),
    ]


@pytest.mark.asyncio
async def test_tags_are_idempotent_and_validated(client: httpx.AsyncClient, world: World) -> None:
    auth = world.auth("qa")
    await client.put(_url(world, "sales1", "tags/escalate"), headers=auth)
    twice = await client.put(_url(world, "sales1", "tags/escalate"), headers=auth)
    assert twice.json()["tags"] == ["escalate"]
    assert (
        await client.put(_url(world, "sales1", "tags/Bad Tag"), headers=auth)
    ).status_code == 422
    removed = await client.delete(_url(world, "sales1", "tags/escalate"), headers=auth)
    assert removed.json()["tags"] == []


def test_scorecard_errors_name_file_line_and_key() -> None:
    text = (
        "version: 1\nscorecards:\n  sales:\n    title: S\n    sections:\n      - id: a\n"
        "        title: A\n        questions:\n          - id: q\n            text: Q\n"
        "            kind: maybe\n"
    )
    with pytest.raises(ScorecardError) as caught:
        parse_scorecards(text, "scorecards.yaml")
    assert caught.value.problems[0].startswith("scorecards.yaml:11:13: scorecards.sales.sections.0")
    assert "kind" in caught.value.problems[0]


def test_duplicate_question_ids_and_syntax_errors_are_reported() -> None:
    dup = (
        "scorecards:\n  x:\n    title: X\n    sections:\n      - id: a\n        title: A\n"
        "        questions:\n          - {id: q, text: Q}\n"
        "          - {id: q, text: R}\n"
    )
    with pytest.raises(ScorecardError, match="used twice"):
        parse_scorecards(dup)
    with pytest.raises(ScorecardError, match=r"<scorecards>:3:1: not valid YAML"):
        parse_scorecards("scorecards:\n  - [\n")
