"""Two-party recording through the daemon's own call flow (recording.two_party: true)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from zentrale.recording import audio
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import Recording, RecordingState
from zentrale.recording.storage.local import LocalStore
from zentrale.sandbox.simulate import CustomerScript, PartyScript
from zentrale.testing.recordings import decrypt

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


@pytest.fixture
def flows_two_party() -> bool:
    return True


async def test_inbound_call_is_stored_as_stereo_customer_left_agent_right(  # type: ignore[no-untyped-def]
    flows, tmp_path: Path
) -> None:
    await flows.agent("A1", PartyScript(answer_after=0.5))  # answers and stays silent
    await flows.call(CustomerScript(digits="1", digit_delay=0.5, talk=8))
    (call,) = await flows.finished_calls(1)
    db = flows.daemon.db
    async with asyncio.timeout(60):
        while True:
            async with db.read() as session:
                row = await session.scalar(select(Recording).where(Recording.call_id == call.id))
            if row is not None and row.state != RecordingState.FINISHED:
                break
            await asyncio.sleep(0.3)
    assert row.state == RecordingState.STORED
    assert row.asterisk_name == f"{call.id}-1-caller+{call.id}-1-agent"
    keyring = Keyring.load(tmp_path / "keyring.json")
    plain = decrypt(LocalStore(tmp_path / "recordings"), row, [LocalKeyProvider(keyring)])
    check = tmp_path / f"check.{row.format}"  # the extension tells ffmpeg the container
    check.write_bytes(plain)
    segment = audio.decode(check)
    check.unlink()
    left, right = audio.channel_rms(segment)
    assert segment.channels == 2
    assert left > 300  # the customer's speech
    assert left > 10 * max(right, 1.0)  # the silent agent
    assert await flows.asterisk_empty()  # snoop channels gone too
