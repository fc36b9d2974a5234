"""Where an agent phone's own transfer (SIP REFER) sends the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from zentrale.routing.load import load_rules
from zentrale.telephony.refer import Consultations, Handoff, transfer_target

EXAMPLE = Path(__file__).parents[3] / "config" / "routing.yaml"


def test_a_phone_transfer_names_a_department_or_a_menu() -> None:
    rules = load_rules(EXAMPLE).document
    assert transfer_target(rules, "sales") == ("department", "sales")
    assert transfer_target(rules, "main") == ("menu", "main")
    # Anything else (an extension, a number, an empty name) is declined.
    assert transfer_target(rules, "8002") is None
    assert transfer_target(rules, "") is None


@pytest.mark.asyncio
async def test_a_consultation_hands_its_agent_over_once() -> None:
    consultations = Consultations()
    given: list[Handoff] = []

    def give() -> Handoff:
        given.append(Handoff("agent-2", "PJSIP/8002", "backoffice"))
        return given[-1]

    consultations.offer("consult-1", give)
    assert consultations.take("someone-else") is None  # not a call of ours with an agent
    handoff = consultations.take("consult-1")
    assert handoff is not None
    assert (handoff.channel_id, handoff.endpoint, handoff.department) == (
        "agent-2",
        "PJSIP/8002",
        "backoffice",
    )
    assert not handoff.ready.done()  # until the consultation's call let go of the agent
    assert consultations.take("consult-1") is None  # a second REFER finds nobody to take
    consultations.offer("consult-2", lambda: None)  # a call that has no agent to give now
    assert consultations.take("consult-2") is None
    consultations.offer("consult-3", give)
    consultations.withdraw("consult-3")  # its conversation ended
    assert consultations.take("consult-3") is None
    assert len(given) == 1
