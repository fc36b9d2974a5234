"""Ringing a party when the originate request itself goes wrong (fake ARI server)."""

from __future__ import annotations

import asyncio

import pytest

from zentrale.telephony.ari import AriClient, AriOptions
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
