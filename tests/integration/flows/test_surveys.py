"""After-call surveys on the real sandbox: answers, a caller hanging up mid-survey, silence.

The rules are swapped for a set with two surveyed departments: `polled` (recorded; a 1-5
question, a yes/no question and a 0-10 question) and `brief` (one question, short timeout).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from zentrale.calls.models import Outcome
from zentrale.recording.models import Recording
from zentrale.sandbox.simulate import CustomerScript, PartyScript
from zentrale.surveys.answers import AnswerStore
from zentrale.surveys.models import AnswerStatus, SurveyAnswer

pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio]

SURVEY_RULES = """
version: 1
timezone: Europe/Berlin
languages: {available: [de, en], default: de, fallback: en}
prompts:
  menu: sound:hello-world
  bye: sound:vm-goodbye
  consent: sound:conf-now-recording
  q_friendly: {de: sound:hello-world, en: sound:beep}
  q_solved: sound:hello-world
  q_recommend: sound:hello-world
  again: sound:beep
  thanks: sound:auth-thankyou
announcements:
  consent: {inbound: consent}
departments:
  polled:
    agents: [{endpoint: "Local/S1@sim-agent/n", name: Svenja}]
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    recording: true
    survey: zufriedenheit
  brief:
    agents: [{endpoint: "Local/S2@sim-agent/n", name: Tarik}]
    ring_timeout: 5s
    max_wait: 40s
    on_max_wait: {play_and_hangup: bye}
    survey: kurz
menus:
  main:
    prompt: menu
    options: {"3": {department: polled}, "4": {department: brief}}
    timeout: 5s
    on_invalid: {play_and_hangup: bye}
surveys:
  zufriedenheit:
    questions:
      - {id: freundlich, prompt: q_friendly, scale: 1-5, timeout: 6s, retries: 1}
      - {id: geloest, prompt: q_solved, scale: yes/no, timeout: 6s}
      - {id: empfehlung, prompt: q_recommend, scale: 0-10, timeout: 6s}
    retry_prompt: again
    thanks: thanks
  kurz:
    questions: [{id: note, prompt: q_friendly, scale: 1-5, timeout: 2s, retries: 1}]
entry_rules:
  - {name: everyone, action: {menu: main}}
"""

# Half-second pauses: long enough for the consent notice, the agent's second of talk and
# the agent's hangup, so the keys come while the survey asks.
PAUSE = "w" * 20


async def _survey_rules(flows) -> None:  # type: ignore[no-untyped-def]
    flows.daemon.settings.routing.file.write_text(SURVEY_RULES)
    outcome = await flows.daemon.rules.reload()
    assert outcome.error is None, outcome.error


async def _answers(flows, call_id: str) -> list[SurveyAnswer]:  # type: ignore[no-untyped-def]
    await flows.daemon.journal.flush()
    return await AnswerStore(flows.daemon.db).for_call(call_id)


def _rows(answers: list[SurveyAnswer]) -> list[tuple[int, str, int | None, str, str]]:
    return [(a.position, a.question, a.answer, str(a.status), a.scale) for a in answers]


async def test_caller_answers_every_question_after_the_agent_hangs_up(flows) -> None:  # type: ignore[no-untyped-def]
    await _survey_rules(flows)
    await flows.agent("S1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # 4 on the 1-5 scale, 1 = yes, then "1" "0" for ten.
    await flows.call(
        CustomerScript(
            digits="3",
            digit_delay=0.5,
            later_digits=f"{PAUSE}4ww1ww1w0",
            then="wait",
            hangup_after=45,
        )
    )
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert (call.outcome, call.department) == (Outcome.ANSWERED, "polled")
    answers = await _answers(flows, call.id)
    assert _rows(answers) == [
        (1, "freundlich", 4, "answered", "1-5"),
        (2, "geloest", 1, "answered", "yes/no"),
        (3, "empfehlung", 10, "answered", "0-10"),
    ]
    async with flows.daemon.db.read() as session:
        recording = await session.scalar(select(Recording.id).where(Recording.call_id == call.id))
    assert recording is not None
    assert {(a.department, a.agent_endpoint, a.recording_id) for a in answers} == {
        ("polled", "Local/S1@sim-agent/n", recording)
    }
    events = [e.detail for e in await flows.events(call.id) if e.kind == "survey_answer"]
    assert [e["answer"] for e in events] == [4, 1, 10]
    assert await flows.asterisk_empty()


async def test_caller_hanging_up_mid_survey_abandons_the_rest(flows) -> None:  # type: ignore[no-untyped-def]
    await _survey_rules(flows)
    await flows.agent("S1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # Answers the first question with 2, then hangs up at once.
    await flows.call(
        CustomerScript(digits="3", digit_delay=0.5, later_digits=f"{PAUSE}2", then="hangup")
    )
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert _rows(await _answers(flows, call.id)) == [
        (1, "freundlich", 2, "answered", "1-5"),
        (2, "geloest", None, "abandoned", "yes/no"),
        (3, "empfehlung", None, "abandoned", "0-10"),
    ]
    assert await flows.asterisk_empty()


async def test_silence_after_the_retries_is_unanswered(flows) -> None:  # type: ignore[no-untyped-def]
    await _survey_rules(flows)
    await flows.agent("S2", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    await flows.call(CustomerScript(digits="4", digit_delay=0.5, then="wait", hangup_after=60))
    (call,) = await flows.finished_calls(1, max_wait=70)
    answers = await _answers(flows, call.id)
    assert _rows(answers) == [(1, "note", None, "unanswered", "1-5")]
    assert answers[0].status is AnswerStatus.UNANSWERED
    assert (answers[0].agent_endpoint, answers[0].recording_id) == ("Local/S2@sim-agent/n", None)
    assert await flows.asterisk_empty()


async def test_keys_pressed_while_talking_answer_no_question(flows) -> None:  # type: ignore[no-untyped-def]
    await _survey_rules(flows)
    await flows.agent("S1", PartyScript(answer_after=0.5, talk=5, then="hangup"))
    # 5 while the agent talks (consent, ringing and about three seconds in), 2 once the
    # survey asks; then the caller hangs up.
    await flows.call(
        CustomerScript(digits="3", digit_delay=0.5, later_digits="w" * 12 + "5" + "w" * 12 + "2")
    )
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert _rows(await _answers(flows, call.id)) == [
        (1, "freundlich", 2, "answered", "1-5"),
        (2, "geloest", None, "abandoned", "yes/no"),
        (3, "empfehlung", None, "abandoned", "0-10"),
    ]


async def test_a_key_off_the_scale_asks_again(flows) -> None:  # type: ignore[no-untyped-def]
    await _survey_rules(flows)
    await flows.agent("S1", PartyScript(answer_after=0.5, talk=1, then="hangup"))
    # 9 is not on the 1-5 scale: the question is asked again and 3 answers it; 2 = no; 0.
    await flows.call(
        CustomerScript(
            digits="3",
            digit_delay=0.5,
            later_digits=f"{PAUSE}9wwww3ww2ww0",
            then="wait",
            hangup_after=45,
        )
    )
    (call,) = await flows.finished_calls(1, max_wait=60)
    assert [(a.answer, str(a.status)) for a in await _answers(flows, call.id)] == [
        (3, "answered"),
        (2, "answered"),
        (0, "answered"),
    ]
