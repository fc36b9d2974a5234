"""The agent's desk on the board (pause reasons, ending after-call work) and the screen-pop hub."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony.agents import AgentState
from zentrale.telephony.board import AgentBoard
from zentrale.telephony.screenpop import QUEUE_SIZE, MenuStep, Pop, ScreenPops


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _board(clock: Clock) -> AgentBoard:
    board = AgentBoard(clock)
    board.know([("PJSIP/8101", "Ayla"), ("PJSIP/8102", "Jonas")])
    return board


def _pop(endpoint: str = "PJSIP/8101", call_id: str = "c1") -> Pop:
    return Pop(call_id, endpoint, "+905551112233", "100", "sales")


@pytest.mark.asyncio
async def test_a_paused_agent_keeps_the_reason_and_is_not_free() -> None:
    board = _board(Clock())
    board.pause("PJSIP/8101", True, "training")
    assert board.view("PJSIP/8101").state is AgentState.PAUSED
    assert board.reason("PJSIP/8101") == "training"
    assert [view.endpoint for view in board.free(["PJSIP/8101", "PJSIP/8102"])] == ["PJSIP/8102"]
    board.pause("PJSIP/8101", False)
    assert board.reason("PJSIP/8101") is None
    assert len(board.free(["PJSIP/8101"])) == 1


@pytest.mark.asyncio
async def test_ready_ends_after_call_work_before_the_wrap_up_time() -> None:
    clock = Clock()
    board = _board(clock)
    board.connected("PJSIP/8101", "sales")
    board.finished("PJSIP/8101", wrap_up=30.0)
    assert board.in_wrap_up("PJSIP/8101")
    assert board.free(["PJSIP/8101"]) == []
    board.ready("PJSIP/8101")
    assert not board.in_wrap_up("PJSIP/8101")
    assert [view.endpoint for view in board.free(["PJSIP/8101"])] == ["PJSIP/8101"]


@pytest.mark.asyncio
async def test_after_call_work_ends_by_itself_at_the_wrap_up_time() -> None:
    clock = Clock()
    board = _board(clock)
    board.connected("PJSIP/8101", "sales")
    board.finished("PJSIP/8101", wrap_up=30.0)
    clock.now += 30.0
    assert not board.in_wrap_up("PJSIP/8101")
    board.ready("PJSIP/8101")  # nothing to end: stays free
    assert len(board.free(["PJSIP/8101"])) == 1


def test_ready_needs_a_known_agent() -> None:
    with pytest.raises(KeyError):
        _board(Clock()).ready("PJSIP/9999")


@pytest.mark.asyncio
async def test_a_pop_reaches_every_workspace_of_its_agent_only() -> None:
    pops = ScreenPops()
    with (
        pops.follow("PJSIP/8101") as first,
        pops.follow("PJSIP/8101") as second,
        pops.follow("PJSIP/8102") as other,
    ):
        assert pops.offer(_pop()) == 2
        assert first.get_nowait().call_id == second.get_nowait().call_id == "c1"
        assert other.empty()
    assert pops.following("PJSIP/8101") == 0
    assert pops.offer(_pop()) == 0  # nobody at the desk: the pop is gone


@pytest.mark.asyncio
async def test_a_stalled_workspace_loses_its_oldest_pops() -> None:
    pops = ScreenPops()
    with pops.follow("PJSIP/8101") as queue:
        for number in range(QUEUE_SIZE + 3):
            pops.offer(_pop(call_id=f"c{number}"))
        assert queue.qsize() == QUEUE_SIZE
        assert queue.get_nowait().call_id == "c3"


def test_digits_of_sensitive_menus_are_masked_in_the_pop() -> None:
    path = (MenuStep("main", "3"), MenuStep("card", "4111111111111111", sensitive=True))
    pop = Pop("c1", "PJSIP/8101", "+905551112233", "100", "billing", path=path, waited_s=12.34)
    body = pop.as_json()
    assert body["path"] == [{"menu": "main", "digits": "3"}, {"menu": "card", "digits": "***"}]
    assert "4111" not in str(body)
    assert (body["type"], body["waited_s"]) == ("ringing", 12.3)


@pytest.mark.asyncio
async def test_a_workspace_that_connects_while_the_phone_rings_gets_the_pop() -> None:
    pops = ScreenPops()
    pops.offer(_pop(call_id="c1"))
    with pops.follow("PJSIP/8101") as late:
        assert late.get_nowait().call_id == "c1"
    pops.withdraw("PJSIP/8101", "c2")  # another call's end does not withdraw it
    with pops.follow("PJSIP/8101") as later:
        assert later.qsize() == 1
    pops.withdraw("PJSIP/8101", "c1")
    with pops.follow("PJSIP/8101") as after:
        assert after.empty()


@pytest.mark.asyncio
async def test_a_workspace_wakes_for_its_own_agent_only() -> None:
    board = AgentBoard()
    board.know([("PJSIP/8101", "Ayla"), ("PJSIP/8102", "Emre")])
    ayla = asyncio.ensure_future(board.wait_change_of("PJSIP/8101", 30.0))
    emre = asyncio.ensure_future(board.wait_change_of("PJSIP/8102", 30.0))
    whole = asyncio.ensure_future(board.wait_change(30.0))
    await asyncio.sleep(0)
    assert board.reserve("PJSIP/8101")  # Ayla's phone rings
    await asyncio.wait_for(ayla, 10)
    await asyncio.wait_for(whole, 10)  # the whole board's followers (supervisors) wake too
    await asyncio.sleep(0.05)
    assert not emre.done()  # Emre's workspace sleeps on
    board.pause("PJSIP/8102", True, "break")
    await asyncio.wait_for(emre, 10)
    # A second follower of one agent shares the wake-up; nothing changed, nothing wakes it.
    first, second = (
        asyncio.ensure_future(board.wait_change_of("PJSIP/8101", 30.0)) for _ in range(2)
    )
    await asyncio.sleep(0)
    board.notify()  # a queue moved: no agent changed
    await asyncio.sleep(0.05)
    assert not first.done()
    assert not second.done()
    board.connected("PJSIP/8101", "sales")
    await asyncio.wait_for(asyncio.gather(first, second), 10)


@pytest.mark.asyncio
async def test_a_workspace_wakes_when_its_agents_wrap_up_ends() -> None:
    clock = Clock()
    board = _board(clock)
    board.connected("PJSIP/8101", "sales")
    board.finished("PJSIP/8101", wrap_up=0.05)
    # The wait ends at the wrap-up's end (by the board's clock), without any change.
    await asyncio.wait_for(board.wait_change_of("PJSIP/8101", 30.0), 10)
