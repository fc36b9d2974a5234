"""The first call flow: answer, consent notice, record in a bridge, take one digit, goodbye.

This is the skeleton the routing-driven flows grow from; it already does what every recorded
call does (a mixing bridge with DTMF events, a bridge recording, cleanup whatever happens) and
reports each call as a `CallReport` so the demo can show what happened.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from zentrale.config.logging import bind_call
from zentrale.telephony.ari import AriError, Call, ChannelGone, DigitRules

log = structlog.get_logger(__name__)

CONSENT_NOTICE = "sound:conf-now-recording"
GOODBYE = "sound:goodbye"


@dataclass
class CallReport:
    """What happened on one call, in the order it happened."""

    call_id: str
    channel_id: str
    caller: str
    dialled: str
    arrived: float
    answered_after: float | None = None
    consent_played: bool = False
    digits: str = ""
    recording: str | None = None
    ended_by: str = ""
    steps: list[str] = field(default_factory=list)


ReportSink = Callable[[CallReport], Awaitable[None]]


def welcome_flow(sink: ReportSink) -> Callable[[Call], Awaitable[None]]:
    """Return a call flow that runs the welcome sequence and hands each report to SINK."""

    async def flow(call: Call) -> None:
        report = _new_report(call)
        with bind_call(report.call_id, call.id):
            try:
                await _run(call, report)
            except ChannelGone as gone:
                report.ended_by = "caller hung up"
                report.steps.append(f"gone while waiting ({gone.reason})")
            finally:
                await _cleanup(call, report)
                await sink(report)

    return flow


def _new_report(call: Call) -> CallReport:
    plan = call.channel.dialplan
    dialled = call.args[1] if len(call.args) > 1 else (plan.exten if plan else "")
    return CallReport(
        call_id=uuid.uuid4().hex,
        channel_id=call.id,
        caller=call.channel.caller.number,
        dialled=dialled,
        arrived=time.monotonic(),
    )


async def _run(call: Call, report: CallReport) -> None:
    log.info("call.arrived", caller=report.caller, dialled=report.dialled)
    await call.answer()
    report.answered_after = time.monotonic() - report.arrived
    report.steps.append("answered")
    await call.play(CONSENT_NOTICE, max_wait=10)
    report.consent_played = True
    report.steps.append("consent notice played")
    bridge = f"call-{report.call_id}"
    await call.ari.bridges.create(bridge, kind="mixing")
    await call.ari.bridges.add_channel(bridge, call.id)
    report.recording = f"{report.call_id}"
    await call.ari.bridges.record(bridge, report.recording, fmt="wav")
    report.steps.append("recording started")
    digits = await call.collect_digits(DigitRules(max_digits=1, first_digit_timeout=8.0))
    report.digits = digits.digits
    report.steps.append(f"digit {digits.digits!r}" if digits.digits else "no digit")
    await call.wait_for_hangup(max_wait=60)
    report.ended_by = "caller hung up"


async def _cleanup(call: Call, report: CallReport) -> None:
    # Whatever ended the call, leave nothing in Asterisk: the bridge (which stops its
    # recording) and the channel.
    with contextlib.suppress(AriError):
        await call.ari.bridges.destroy(f"call-{report.call_id}")
    await call.hangup()
    log.info("call.ended", ended_by=report.ended_by, digits_pressed=len(report.digits))
