"""Simulated customers, agents and called numbers, scripted through the sandbox dialplan.

A simulated inbound call is `Local/<DID>@zentrale-inbound/n` originated into the dialplan
context `sim-customer`: the `;2` half runs `zentrale-inbound` and enters the ARI app unanswered,
exactly like a call from a trunk; when the app answers, the `;1` half runs the customer's script
(digits, speech, hang-up) from the channel variables set here. Agents and called numbers are
`Local/<id>@sim-agent` and `Local/<number>@sim-number`, scripted by global variables, because
the daemon, not the test, originates those calls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import httpx

from zentrale.telephony.ari.config import AriCredentials

PartyMode = Literal["answer", "noanswer", "busy", "unavailable"]


@dataclass(frozen=True)
class CustomerScript:
    """What a simulated caller does once answered."""

    digits: str = ""
    digit_delay: float = 1.0
    talk: int = 0
    then: Literal["hangup", "wait"] = "hangup"
    hangup_after: int | None = None
    later_digits: str = ""
    """DTMF to send after the speech (an after-call survey answer, say)."""
    later_every: float | None = None
    """Send LATER_DIGITS again every so many seconds until the far end hangs up: for an answer
    to a prompt whose start depends on how long the agent took (a survey after the call)."""

    def variables(self) -> dict[str, str]:
        """Return the channel variables that drive the sim-customer context."""
        found = {
            "SIM_DIGITS": self.digits,
            "SIM_DIGIT_DELAY": f"{self.digit_delay:g}",
            "SIM_TALK": str(self.talk),
            "SIM_THEN": self.then,
            "SIM_LATER_DIGITS": self.later_digits,
        }
        if self.later_every is not None:
            found["SIM_LATER_EVERY"] = f"{self.later_every:g}"
        if self.hangup_after is not None:
            found["SIM_HANGUP_AFTER"] = str(self.hangup_after)
        return found


@dataclass(frozen=True)
class PartyScript:
    """What a simulated agent or called number does when rung."""

    mode: PartyMode = "answer"
    answer_after: float = 1.0
    talk: int = 0
    then: Literal["wait", "hangup"] = "wait"
    digits: str = ""

    def globals(self, prefix: str) -> dict[str, str]:
        """Return the global variables that drive the sim-party subroutine for PREFIX."""
        values = {
            "MODE": self.mode,
            "ANSWER_AFTER": f"{self.answer_after:g}",
            "TALK": str(self.talk),
            "THEN": self.then,
            "DIGITS": self.digits,
        }
        return {f"SIM_{prefix}_{key}": value for key, value in values.items()}


@dataclass(frozen=True)
class PlacedCall:
    """A simulated inbound call: the customer's own channel id (the ;1 half)."""

    customer_channel_id: str
    did: str
    caller: str


def _client(creds: AriCredentials) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=creds.base_url,
        timeout=10.0,
        auth=(creds.username, creds.password.get_secret_value()),
    )


async def place_call(
    creds: AriCredentials,
    *,
    did: str = "100",
    caller: str = "+905551112233",
    script: CustomerScript | None = None,
) -> PlacedCall:
    """Place a simulated inbound call from CALLER to DID and return the customer's channel."""
    channel_id = f"sim-customer-{uuid.uuid4().hex[:12]}"
    body = {"variables": (script or CustomerScript()).variables()}
    params = {
        "endpoint": f"Local/{did}@zentrale-inbound/n",
        "context": "sim-customer",
        "extension": "s",
        "priority": "1",
        "callerId": f'"Customer" <{caller}>',
        "channelId": channel_id,
        "timeout": "60",
    }
    async with _client(creds) as client:
        reply = await client.post("/channels", params=params, json=body)
        reply.raise_for_status()
    return PlacedCall(channel_id, did, caller)


async def hang_up_customer(creds: AriCredentials, call: PlacedCall) -> None:
    """Make the simulated customer hang up now (404 if already gone is fine)."""
    async with _client(creds) as client:
        reply = await client.delete(f"/channels/{call.customer_channel_id}")
        if reply.status_code != 404:
            reply.raise_for_status()


async def script_party(
    creds: AriCredentials, kind: Literal["agent", "number"], ident: str, script: PartyScript
) -> None:
    """Set how agent IDENT (or called number IDENT) behaves on its next calls."""
    digits = "".join(ch for ch in ident if ch.isdigit()) if kind == "number" else ident
    prefix = f"{kind.upper()}_{digits}"
    async with _client(creds) as client:
        for name, value in script.globals(prefix).items():
            reply = await client.post(
                "/asterisk/variable", params={"variable": name, "value": value}
            )
            reply.raise_for_status()
