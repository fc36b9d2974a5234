"""A real two-party call on the sandbox Asterisk whose conversation figures match its script.

As in test_recording_two_party.py, the test drives a `Conversation(two_party=True)` itself.
The parties speak in turns of whole `hello-world` prompts (sim-talk plays the 1.42 s prompt
until its seconds are up, so a talk of 4 s is 3 prompts, of 7 s 5 prompts): the agent pauses
2 s after answering (`DIGITS="wwww"`: SendDTMF's half-second pauses, no tones), speaks 3
prompts and stays silent; the customer waits 11 s after being answered, speaks 5 prompts,
stays silent and hangs up 21 s after being answered. Back-to-back prompts are one stretch of
speech (their 0.16 s gaps are bridged), so the script's talk per party is (n - 1) x 1.42 s +
the prompt's own voiced part, measured on the prompt file with the same detector. Between the
turns, 3 to 6 s of dead air (how long exactly depends on how fast the call is set up), and no
overtalk.

Tolerance: talk per party within 3 % of the script (measured: see docs/recording.md); the
pipeline's figures come from Asterisk's per-party WAV files; the stored stereo Opus, analysed
again as `zentrale recordings analyse` would, gives the same figures within 3 %.
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
from zentrale.recording import audio, backfill, talk
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
from zentrale.testing.recordings import decrypt

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

PROMPT = "usr/share/asterisk/sounds/en_US_f_Allison/hello-world.gsm"
AGENT_PROMPTS, CUSTOMER_PROMPTS = 3, 5
AGENT = PartyScript(answer_after=0.2, digits="wwww", talk=4)
# Hanging up right after speaking cuts the end of the last prompt (up to 0.5 s measured: the
# frames still on their way through the Local channel are dropped), so the customer stays
# silent on the line for 3 s first; trailing silence is not dead air.
CUSTOMER = CustomerScript(digit_delay=11, talk=7, then="wait", hangup_after=21)
TOLERANCE = 0.03


def scripted_talk(root: Path, prompts: int) -> float:
    """Seconds of speech in PROMPTS back-to-back prompts, from the prompt file itself."""
    segment = audio.AudioSegment.from_file(str(root / PROMPT), format="gsm")
    pcm = bytes(segment.set_channels(1).set_frame_rate(8000).set_sample_width(2).raw_data)
    (voiced,) = talk.speech_segments(pcm, 8000, "agent")
    return (prompts - 1) * segment.duration_seconds + voiced.seconds


def within(found: float, expected: float) -> bool:
    return abs(found - expected) <= TOLERANCE * expected


async def _agent_leg(ari: AriClient, calls: asyncio.Queue[Call]) -> Call:
    await ari.channels.originate("Local/TP2@sim-agent/n", app=ari.app, app_args="agent")
    return await asyncio.wait_for(calls.get(), 15)


async def test_two_party_call_figures_match_its_script(
    asterisk: SandboxInstance, tmp_path: Path
) -> None:
    db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'z.db'}")
    await upgrade_engine(db.engine)
    journal = Journal(CallStore(db), RecordingStore(db))
    journal.start()
    calls: asyncio.Queue[Call] = asyncio.Queue()
    keyring = Keyring.generate()
    store = LocalStore(tmp_path / "objects")

    async def flow(call: Call) -> None:
        if call.args[:1] == ["snoop"]:
            return
        await calls.put(call)
        await wait_for_hangup(call.ari, call.id)

    try:
        async with AriClient(asterisk.ari) as ari:
            ari.on_new_channel(flow)
            await ari.wait_resynced(max_wait=10)
            await script_party(asterisk.ari, "agent", "TP2", AGENT)
            await place_call(asterisk.ari, did="100", script=CUSTOMER)
            customer = await asyncio.wait_for(calls.get(), 15)
            await CallStore(db).create(
                NewCall(customer.id, Direction.INBOUND, dt.datetime.now(dt.UTC))
            )
            await customer.answer()
            agent = await _agent_leg(ari, calls)
            conversation = Conversation(ari, journal, customer.id, 1, two_party=True)
            await conversation.open(customer.id, agent.id, record=True)
            await wait_for_hangup(ari, customer.id, 40)  # both turns, then the customer hangs up
            await conversation.close()
            await ari.channels.hangup(agent.id)
            await journal.flush()
            (row,) = await RecordingStore(db).for_call(customer.id)
            pipeline = Pipeline(
                RecordingStore(db),
                AriSource(ari),
                store,
                [LocalKeyProvider(keyring)],
                Workspace(tmp_path / "tmp"),
                PipelineConfig(audio.FORMATS["opus"], "local"),
            )
            options = WorkerOptions(poll=0.05, backoff_initial=0.2)
            async with running(JobQueue(db), pipeline, 1, "test", options) as pool:
                await pool.wait_idle()
        stored = await RecordingStore(db).get(row.id)
    finally:
        await journal.close()
        await db.close()

    assert stored.state == RecordingState.STORED
    agent_talk = scripted_talk(asterisk.root, AGENT_PROMPTS)
    customer_talk = scripted_talk(asterisk.root, CUSTOMER_PROMPTS)
    segments = stored.talk_segments["segments"]  # type: ignore[index]
    print(f"script: agent {agent_talk:.2f} s, customer {customer_talk:.2f} s; found {segments}")
    assert [party for party, _, _ in segments] == ["agent", "customer"]
    assert within(stored.talk_agent_s or 0.0, agent_talk), (stored.talk_agent_s, agent_talk)
    assert within(stored.talk_customer_s or 0.0, customer_talk), (
        stored.talk_customer_s,
        customer_talk,
    )
    (_, _, agent_end), (_, customer_start, _) = segments
    assert 3.0 <= customer_start - agent_end <= 6.0
    assert stored.dead_air_s == pytest.approx(customer_start - agent_end, abs=0.02)
    assert stored.longest_dead_air_s == stored.dead_air_s
    assert (stored.overtalk_s, stored.overtalk_count) == (0.0, 0)
    assert stored.longest_monologue_s == pytest.approx(customer_talk, rel=TOLERANCE)
    share = agent_talk / (agent_talk + customer_talk)
    assert stored.agent_talk_ratio == pytest.approx(share, abs=0.02)

    # The stored stereo Opus, analysed again as the backfill does: the same figures.
    plain = decrypt(store, stored, [LocalKeyProvider(keyring)])
    again = backfill.figures_of_audio(plain, "opus")
    print(f"from the stored opus: agent {again.agent_talk_s} s, customer {again.customer_talk_s} s")
    assert within(again.agent_talk_s, stored.talk_agent_s or 0.0)
    assert within(again.customer_talk_s, stored.talk_customer_s or 0.0)
    assert again.overtalk_count == 0
