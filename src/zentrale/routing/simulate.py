"""Simulating a call through the engine, and running the supervisors' `expect:` cases.

A simulated call feeds a list of inputs (keys, or `timeout` for silence) to the engine one
CollectDigits step at a time; it is what `zentrale routing simulate` and `check` use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zentrale.routing.engine import on_digits, on_timeout, start
from zentrale.routing.facts import CallFacts
from zentrale.routing.rules import Rules
from zentrale.routing.schema import ExpectCase
from zentrale.routing.steps import CollectDigits, Step

TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class Simulation:
    """The steps of a simulated call and the inputs it did not use."""

    steps: tuple[Step, ...]
    unused: tuple[str, ...]

    @property
    def final(self) -> Step:
        """Return the step the call ended on."""
        return self.steps[-1]


@dataclass(frozen=True, slots=True)
class ExpectResult:
    """The outcome of one `expect:` case."""

    index: int
    case: ExpectCase
    simulation: Simulation

    @property
    def passed(self) -> bool:
        """Return whether the call ended where the case expects, using all its inputs."""
        wanted = (self.case.goes_to.kind, self.case.goes_to.target)
        return self.simulation.final.destination == wanted and not self.simulation.unused


def local_time(rules: Rules, at: dt.datetime) -> dt.datetime:
    """Return `at` as an aware time, reading naive times in the rules' time zone."""
    return at if at.tzinfo is not None else at.replace(tzinfo=rules.zone)


def simulate(rules: Rules, facts: CallFacts, inputs: Sequence[str]) -> Simulation:
    """Run a call with `inputs` given to successive CollectDigits steps."""
    steps: list[Step] = [start(rules, facts)]
    remaining = list(inputs)
    while remaining and isinstance(steps[-1], CollectDigits):
        entered = remaining.pop(0)
        state = steps[-1].state
        steps.append(on_timeout(state) if entered == TIMEOUT else on_digits(state, entered))
    return Simulation(tuple(steps), tuple(remaining))


def case_facts(rules: Rules, case: ExpectCase) -> CallFacts:
    """Return the call facts an `expect:` case describes."""
    customer: Mapping[str, str] = dict(case.customer)
    return CallFacts(
        at=local_time(rules, case.at),
        dialled=case.did,
        caller=case.caller,
        language=case.language,
        customer=customer,
    )


def run_expectations(rules: Rules) -> list[ExpectResult]:
    """Run every `expect:` case of `rules`."""
    return [
        ExpectResult(index, case, simulate(rules, case_facts(rules, case), case.digits))
        for index, case in enumerate(rules.document.expect)
    ]
