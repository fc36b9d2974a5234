"""Putting a survey to a caller on a channel: each question, its retries, and the thanks.

Each question is played (a key interrupts it), then the caller has the question's timeout to
press a key on its scale; silence or a key off the scale asks again (after the survey's retry
prompt) up to the question's retries, then the question counts as unanswered. A caller who
hangs up abandons the question being asked and every one not reached. Each outcome is reported
as soon as it is known, so a crash mid-survey keeps what was answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from zentrale.base.clock import utcnow
from zentrale.calls.models import EventKind
from zentrale.routing.survey import SurveyPlan, SurveyQuestion
from zentrale.surveys.answers import NewAnswer
from zentrale.surveys.models import AnswerStatus
from zentrale.telephony.ari import Call, ChannelGoneError
from zentrale.telephony.ari.events import ChannelDtmfReceived
from zentrale.telephony.ivr import prompt_and_collect
from zentrale.telephony.journal import Journal

SECOND_KEY_WAIT = 2.5
"""Seconds a caller has to add the `0` of a `10` after pressing `1`."""


@dataclass(frozen=True, slots=True)
class Putting:
    """Whom a survey is put to: the call (ids) and where each outcome goes."""

    call_id: str
    report: Callable[[NewAnswer], None]
    campaign_id: str | None = None


def journalled(journal: Journal, call_id: str) -> Callable[[NewAnswer], None]:
    """Return a reporter writing each outcome as a row and (unless abandoned) a timeline event."""

    def report(answer: NewAnswer) -> None:
        journal.survey_answer(answer)
        if answer.status is not AnswerStatus.ABANDONED:
            detail = {"survey": answer.survey, "question": answer.position, "answer": answer.answer}
            journal.event(call_id, EventKind.SURVEY_ANSWER, detail)

    return report


async def put_survey(
    call: Call, plan: SurveyPlan, media: Callable[[str], str], to: Putting
) -> list[NewAnswer]:
    """Ask every question of PLAN on CALL; return the outcomes (ChannelGoneError at hangup)."""
    outcomes: list[NewAnswer] = []
    for position, question in enumerate(plan.questions, 1):
        try:
            answer = await _ask(call, question, plan.retry, media)
        except ChannelGoneError:
            for later, left in enumerate(plan.questions[position - 1 :], position):
                outcomes.append(
                    _outcome(
                        to=to,
                        plan=plan,
                        question=left,
                        position=later,
                        answer=None,
                        status=AnswerStatus.ABANDONED,
                    )
                )
                to.report(outcomes[-1])
            raise
        status = AnswerStatus.UNANSWERED if answer is None else AnswerStatus.ANSWERED
        outcomes.append(
            _outcome(
                to=to, plan=plan, question=question, position=position, answer=answer, status=status
            )
        )
        to.report(outcomes[-1])
    if plan.thanks:
        await call.play(media(plan.thanks), max_wait=60)
    return outcomes


async def forget_keys(call: Call) -> int:
    """Drop the keys CALL pressed so far (not meant for what comes next); return how many."""
    dropped = 0
    while call.dtmf.pending():
        await call.dtmf.get(0)
        dropped += 1
    return dropped


async def _ask(
    call: Call, question: SurveyQuestion, retry: str | None, media: Callable[[str], str]
) -> int | None:
    for attempt in range(question.retries + 1):
        sounds = (question.sound,) if attempt == 0 or retry is None else (retry, question.sound)
        entry = await prompt_and_collect(
            call,
            tuple(media(sound) for sound in sounds),
            max_digits=1,
            terminator=None,
            first_wait=question.timeout,
        )
        digits = entry.digits
        if question.scale.needs_more(digits):
            digits += await _second_key(call)
        answer = question.scale.answer(digits)
        if answer is not None:
            return answer
    return None


async def _second_key(call: Call) -> str:
    """Return a key pressed soon after the first ('' for silence or `#`)."""
    try:
        event = await call.dtmf.get(SECOND_KEY_WAIT)
    except TimeoutError:
        return ""
    assert isinstance(event, ChannelDtmfReceived)
    return "" if event.digit == "#" else event.digit


def _outcome(
    to: Putting,
    plan: SurveyPlan,
    question: SurveyQuestion,
    position: int,
    answer: int | None,
    status: AnswerStatus,
) -> NewAnswer:
    return NewAnswer(
        call_id=to.call_id,
        survey=plan.name,
        question=question.name,
        position=position,
        answer=answer,
        status=status,
        scale=question.scale.text,
        answered_at=utcnow(),
        campaign_id=to.campaign_id,
    )
