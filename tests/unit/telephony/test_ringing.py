"""Ringing a party when the originate request itself goes wrong (fake ARI server)."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony import ringing
from zentrale.telephony.ari import AriClient, AriOptions
from zentrale.telephony.ari.events import parse_event
from zentrale.telephony.ringing import RingResult, ring
from zentrale.testing.fake_ari import FakeAri

pytestmark = pytest.mark.asyncio
FAST = AriOptions(retry_attempts=1, retry_backoff=0.01, backoff_initial=0.05)
ORIGINATE = r"^/channels/agent-"


async def test_a_409_on_originate_means_our_channel_exists_and_is_followed() -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.fail("POST", ORIGINATE, 409)  # what a retry after a timed-out originate gets
        call = ring(ari, "PJSIP/1001", app_args="a", caller_id=None, ring_seconds=5, prefix="agent")
        ringing = asyncio.create_task(call)
        await asyncio.sleep(0.2)
        (originate,) = [r for r in fake.requests if r.method == "POST"]
        channel_id = originate.path.removeprefix("/channels/")
        fake.start_call(channel_id, args=["agent", "c1"])  # the first attempt's leg answers
        leg = await asyncio.wait_for(ringing, 5)
    assert (leg.result, leg.channel_id) == (RingResult.ANSWERED, channel_id)
    assert not [r for r in fake.requests if r.method == "DELETE"]  # the answered leg stays


async def test_a_failed_originate_hangs_up_whatever_it_may_have_made() -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.fail("POST", ORIGINATE, 500, times=None)
        leg = await ring(
            ari, "PJSIP/1001", app_args="a", caller_id=None, ring_seconds=5, prefix="agent"
        )
        deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert leg.result is RingResult.UNAVAILABLE
    assert [r.path for r in deletes] == [f"/channels/{leg.channel_id}"]


def _channel() -> dict[str, object]:
    return {"id": "c1", "name": "PJSIP/carrier-1", "state": "Down"}


@pytest.mark.parametrize(
    ("cause", "expected"),
    [(1, RingResult.UNAVAILABLE), (17, RingResult.BUSY), (16, RingResult.NO_ANSWER)],
)
async def test_a_hangup_cause_is_not_overwritten_by_a_later_noanswer(
    cause: int, expected: RingResult
) -> None:
    # The order Asterisk sends them in varies: a 404 from the carrier (cause 1) was sometimes
    # followed by Dial NOANSWER, and the number was then retried as if it had only rung out.
    hangup = parse_event({"type": "ChannelHangupRequest", "channel": _channel(), "cause": cause})
    dial = parse_event({"type": "Dial", "peer": _channel(), "dialstatus": "NOANSWER"})
    after_hangup = ringing._status(hangup, RingResult.NO_ANSWER)
    assert ringing._status(dial, after_hangup) is expected
    # and the other order comes to the same result
    assert ringing._status(hangup, ringing._status(dial, RingResult.NO_ANSWER)) is (
        expected or RingResult.NO_ANSWER
    )


async def test_the_leg_is_rung_for_its_caller_and_without_one_who_hung_up() -> None:
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller-1")
        for originator in ("caller-1", "caller-gone"):
            call = ring(
                ari,
                "PJSIP/1001",
                app_args="a",
                caller_id=None,
                ring_seconds=5,
                prefix="agent",
                originator=originator,
            )
            ringing = asyncio.create_task(call)
            await asyncio.sleep(0.2)
            channel_id = [r for r in fake.requests if r.method == "POST"][-1].path.split("/")[-1]
            fake.start_call(channel_id, args=["agent", "c1"])
            leg = await asyncio.wait_for(ringing, 5)
            assert leg.result is RingResult.ANSWERED
        posts = [r for r in fake.requests if r.method == "POST"]
    # Rung for the caller; then for one gone (400): once more without, the same leg.
    assert [r.params.get("originator") for r in posts] == ["caller-1", "caller-gone", None]
    assert posts[1].path == posts[2].path


async def test_a_bad_endpoint_is_not_rung_again_without_its_caller() -> None:
    """Only the 400 that names the originator is retried without it: any other makes the leg
    unavailable after one request."""
    async with FakeAri() as fake, AriClient(fake.credentials, FAST) as ari:
        await ari.wait_resynced(5)
        fake.add_channel("caller-1")
        call = ring(
            ari,
            "no-technology",
            app_args="a",
            caller_id=None,
            ring_seconds=5,
            prefix="agent",
            originator="caller-1",
        )
        leg = await asyncio.wait_for(call, 5)
        posts = [r for r in fake.requests if r.method == "POST"]
    assert leg.result is RingResult.UNAVAILABLE
    assert [r.params.get("originator") for r in posts] == ["caller-1"]
