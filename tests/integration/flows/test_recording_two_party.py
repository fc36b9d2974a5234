"""Two-party recording on the real sandbox Asterisk: customer left, agent right.

The call centre does not pass `two_party` to its conversations yet, so this test drives a
`Conversation(two_party=True)` itself: its own ARI client takes the simulated customer's call,
rings a simulated agent, bridges both and records each side through a snoop channel. The
customer talks while the agent stays silent; the pipeline fetches both files over ARI, merges
them, encrypts and stores; the decrypted stereo has the energy on the left only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from zentrale.calls.models import Direction
from zentrale.calls.store import CallStore, NewCall
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording import audio
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.models import RecordingState
from zentrale.recording.pipeline import Pipeline, PipelineConfig
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions, running
from zentrale.recording.workspace import Workspace
from zentrale.sandbox import SandboxInstance
from zentrale.sandbox.simulate import CustomerScript, PartyScript, place_call, script_party
from zentrale.telephony.ari import AriClient, Call
from zentrale.telephony.ari.primitives import wait_for_hangup
from zentrale.telephony.conversation import Conversation
from zentrale.telephony.journal import Journal
from zentrale.telephony.spool import AriSource
from zentrale.testing.recordings import decrypt, plaintext_audio

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]


async def _agent_leg(ari: AriClient, calls: asyncio.Queue[Call]) -> Call:
    await ari.channels.originate("Local/TP1@sim-agent/n", app=ari.app, app_args="agent")
    return await asyncio.wait_for(calls.get(), 15)


async def test_two_party_recording_customer_left_agent_right(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    await upgrade_engine(db.engine)
    journal = Journal(CallStore(db), RecordingStore(db))
    journal.start()
    calls: asyncio.Queue[Call] = asyncio.Queue()

    async def flow(call: Call) -> None:
        if call.args[:1] == ["snoop"]:
            return
        await calls.put(call)
        await wait_for_hangup(call.ari, call.id)

    try:
        async with AriClient(asterisk.ari) as ari:
            ari.on_new_channel(flow)
            await ari.wait_resynced(max_wait=10)
            await script_party(asterisk.ari, "agent", "TP1", PartyScript(answer_after=0.2))
            await place_call(
                asterisk.ari, did="100", script=CustomerScript(digit_delay=0.5, talk=4)
            )
            customer = await asyncio.wait_for(calls.get(), 15)
            await CallStore(db).create(
                NewCall(customer.id, Direction.INBOUND, dt.datetime.now(dt.UTC))
            )
            await customer.answer()
            agent = await _agent_leg(ari, calls)
            conversation = Conversation(ari, journal, customer.id, 1, two_party=True)
            await conversation.open(customer.id, agent.id, record=True)
            assert conversation.recording == f"{customer.id}-1-caller+{customer.id}-1-agent"
            await wait_for_hangup(ari, customer.id, 30)  # the customer talks, then hangs up
            await conversation.close()
            await ari.channels.hangup(agent.id)
            await journal.flush()
            (row,) = await RecordingStore(db).for_call(customer.id)
            keyring = Keyring.generate()
            pipeline = Pipeline(
                RecordingStore(db),
                AriSource(ari),
                LocalStore(tmp_path / "objects"),
                [LocalKeyProvider(keyring)],
                Workspace(tmp_path / "tmp"),
                PipelineConfig(audio.FORMATS["wav"], "local"),
            )
            options = WorkerOptions(poll=0.05, backoff_initial=0.2)
            async with running(JobQueue(db), pipeline, 1, "test", options) as pool:
                await pool.wait_idle()
        stored = await RecordingStore(db).get(row.id)
        assert stored.state == RecordingState.STORED
        plain = decrypt(LocalStore(tmp_path / "objects"), stored, [LocalKeyProvider(keyring)])
        check = tmp_path / "check.wav"
        check.write_bytes(plain)
        segment = audio.decode(check)
        check.unlink()
        left, right = audio.channel_rms(segment)
        assert segment.channels == 2
        assert segment.duration_seconds > 3
        assert left > 300
        assert left > 10 * max(right, 1.0)
        spool = asterisk.recording_dir
        assert not [p for p in spool.iterdir() if p.name.startswith(customer.id)]
        assert plaintext_audio([tmp_path]) == []
    finally:
        await journal.close()
        await db.close()
