"""Conversation figures from synthetic two-channel recordings with speech at known times.

Each party's channel carries tones or espeak-ng speech placed at known seconds, line noise,
and the other party's echo 30 dB down; every boundary must be found within 100 ms and every
figure within 2% of the truth worked out from the script.
"""

from __future__ import annotations

import array
import math
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from zentrale.recording import audio, talk

RATE = 8000
AMPLITUDE = 3000  # about -20 dBFS, a normal telephone speech level
TOLERANCE_S = 0.1


def tone(seconds: float, hz: float, amplitude: float = AMPLITUDE) -> list[float]:
    return [amplitude * math.sin(2 * math.pi * hz * i / RATE) for i in range(int(seconds * RATE))]


def channel(duration: float, parts: list[tuple[float, list[float]]]) -> list[float]:
    """Line noise for DURATION seconds with each (start, samples) part added in."""
    rng = random.Random(7)
    samples = [rng.uniform(-20, 20) for _ in range(int(duration * RATE))]
    for start, part in parts:
        offset = int(start * RATE)
        for i, value in enumerate(part):
            samples[offset + i] += value
    return samples


def pcm(samples: list[float], echo: list[float] | None = None) -> bytes:
    """16-bit PCM of SAMPLES, with ECHO mixed in 30 dB down (a clean line's crosstalk)."""
    if echo is not None:
        samples = [a + b * 10 ** (-30 / 20) for a, b in zip(samples, echo, strict=True)]
    return array.array("h", [max(-32768, min(32767, round(x))) for x in samples]).tobytes()


# (start, seconds) of each party's speech; the truth the figures are checked against.
CUSTOMER = [(1.0, 3.0), (9.0, 2.0), (14.0, 1.5)]
AGENT = [(3.5, 4.0), (12.0, 2.5)]
DURATION = 18.0


@pytest.fixture(scope="module")
def figures() -> talk.TalkFigures:
    customer = channel(DURATION, [(a, tone(s, 440)) for a, s in CUSTOMER])
    agent = channel(DURATION, [(a, tone(s, 620)) for a, s in AGENT])
    return talk.conversation(pcm(customer, agent), pcm(agent, customer), RATE)


def spans(figures: talk.TalkFigures, party: str) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in figures.segments if s.party == party]


def truth(script: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(a, a + s) for a, s in script]


def close(found: list[tuple[float, float]], expected: list[tuple[float, float]]) -> bool:
    return len(found) == len(expected) and all(
        abs(a - c) <= TOLERANCE_S and abs(b - d) <= TOLERANCE_S
        for (a, b), (c, d) in zip(found, expected, strict=True)
    )


def within(value: float, expected: float, share: float = 0.02) -> bool:
    return abs(value - expected) <= share * expected


def test_every_boundary_is_found_within_100_ms(figures: talk.TalkFigures) -> None:
    assert close(spans(figures, "customer"), truth(CUSTOMER)), spans(figures, "customer")
    assert close(spans(figures, "agent"), truth(AGENT)), spans(figures, "agent")


def test_talk_times_and_the_agent_ratio_match_the_script(figures: talk.TalkFigures) -> None:
    assert within(figures.customer_talk_s, 6.5)
    assert within(figures.agent_talk_s, 6.5)
    assert figures.agent_talk_ratio is not None
    assert within(figures.agent_talk_ratio, 0.5)


def test_overtalk_is_where_both_speak(figures: talk.TalkFigures) -> None:
    # 3.5-4.0 (the agent starts before the customer stops) and 14.0-14.5.
    assert figures.overtalk_count == 2
    assert within(figures.overtalk_s, 1.0)
    assert close(list(figures.overtalks), [(3.5, 4.0), (14.0, 14.5)])


def test_dead_air_is_silence_of_two_seconds_or_more(figures: talk.TalkFigures) -> None:
    # 7.5-9.0 is 1.5 s (not dead air); 11.0-12.0 is 1 s; nothing else lies between speech.
    assert figures.silences == ()
    assert figures.silence_s == 0.0


def test_long_silences_and_monologues() -> None:
    customer = channel(30.0, [(1.0, tone(2.0, 440)), (20.0, tone(1.0, 440))])
    agent = channel(30.0, [(4.0, tone(5.0, 620)), (9.5, tone(6.0, 620))])
    figures = talk.conversation(pcm(customer, agent), pcm(agent, customer), RATE)
    assert close(list(figures.silences), [(15.5, 20.0)])
    assert within(figures.silence_s, 4.5)
    assert within(figures.longest_silence_s, 4.5)
    # The agent's two turns 0.5 s apart, uninterrupted: one monologue from 4.0 to 15.5.
    assert figures.longest_monologue_party == "agent"
    assert within(figures.longest_monologue_s, 11.5)
    assert within(figures.agent_talk_s, 11.0)


def test_an_interruption_ends_a_monologue() -> None:
    customer = channel(20.0, [(6.0, tone(1.0, 440))])
    agent = channel(20.0, [(1.0, tone(4.5, 620)), (6.5, tone(4.0, 620))])
    figures = talk.conversation(pcm(customer, agent), pcm(agent, customer), RATE)
    assert figures.longest_monologue_party == "agent"
    assert within(figures.longest_monologue_s, 4.5)


def test_a_silent_line_has_no_speech_and_no_ratio() -> None:
    quiet = pcm(channel(10.0, []))
    figures = talk.conversation(quiet, quiet, RATE)
    assert figures.segments == ()
    assert figures.agent_talk_ratio is None
    assert (figures.customer_talk_s, figures.agent_talk_s, figures.overtalk_count) == (0, 0, 0)


def test_one_mixed_channel_gives_talk_and_silence_only() -> None:
    mixed = pcm(channel(12.0, [(1.0, tone(2.0, 440)), (6.0, tone(3.0, 620))]))
    figures = talk.conversation(mixed, None, RATE)
    assert close([(s.start, s.end) for s in figures.segments], [(1.0, 3.0), (6.0, 9.0)])
    assert {s.party for s in figures.segments} == {"mixed"}
    assert figures.agent_talk_ratio is None
    assert within(figures.silence_s, 3.0)


def test_stereo_pcm_splits_into_the_two_parties() -> None:
    left = channel(4.0, [(0.5, tone(1.0, 440))])
    right = channel(4.0, [(2.0, tone(1.5, 620))])
    stereo = array.array("h")
    samples_l = array.array("h", pcm(left))
    samples_r = array.array("h", pcm(right))
    for a, b in zip(samples_l, samples_r, strict=True):
        stereo.extend((a, b))
    customer, agent = talk.stereo_channels(stereo.tobytes())
    figures = talk.conversation(customer, agent, RATE)
    assert close(spans(figures, "customer"), [(0.5, 1.5)])
    assert close(spans(figures, "agent"), [(2.0, 3.5)])


def test_speech_from_espeak_is_found_where_it_was_placed(tmp_path: Path) -> None:
    spoken = tmp_path / "speech.wav"
    assert shutil.which("espeak-ng"), "espeak-ng is missing: run scripts/setup.sh"
    subprocess.run(
        ["espeak-ng", "-v", "de", "-w", str(spoken), "Guten Tag und willkommen bei zentrale"],
        check=True,
    )
    segment = audio.decode(spoken).set_frame_rate(RATE).set_channels(1)
    speech = [float(x) for x in array.array("h", segment.raw_data)]
    # The truth: from the first to the last sample louder than 1% of full scale.
    loud = [i for i, x in enumerate(speech) if abs(x) > 327]
    first, last = loud[0] / RATE, (loud[-1] + 1) / RATE
    customer = channel(12.0, [(2.0, speech)])
    agent = channel(12.0, [])
    figures = talk.conversation(pcm(customer, agent), pcm(agent, customer), RATE)
    found = spans(figures, "customer")
    assert found, "no speech found"
    assert abs(found[0][0] - (2.0 + first)) <= TOLERANCE_S
    assert abs(found[-1][1] - (2.0 + last)) <= TOLERANCE_S
    assert spans(figures, "agent") == []
