"""Where an agent phone's own blind transfer (SIP REFER) sends the caller."""

from __future__ import annotations

from pathlib import Path

from zentrale.routing.load import load_rules
from zentrale.telephony.refer import transfer_target

EXAMPLE = Path(__file__).parents[3] / "config" / "routing.yaml"


def test_a_phone_transfer_names_a_department_or_a_menu() -> None:
    rules = load_rules(EXAMPLE).document
    assert transfer_target(rules, "sales") == ("department", "sales")
    assert transfer_target(rules, "main") == ("menu", "main")
    # Anything else (an extension, a number, an attended transfer's empty name) is declined.
    assert transfer_target(rules, "8002") is None
    assert transfer_target(rules, "") is None
