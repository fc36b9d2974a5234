"""Supervisors' `expect:` cases and the `zentrale routing` commands (check, simulate)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from zentrale.cli.routing import routing
from zentrale.routing.load import load_rules
from zentrale.routing.simulate import run_expectations

from .support import BASE, load

EXAMPLE = Path(__file__).parents[3] / "config" / "routing.yaml"

CASES = """\
expect:
  - name: key 1 reaches sales on Monday morning
    at: "2026-03-02 10:00"
    digits: ["1"]
    goes_to: {department: sales}
  - name: key 1 on Wednesday hears the closed message
    at: "2026-03-04 10:00"
    digits: ["1"]
    goes_to: {play_and_hangup: closed}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_cases() -> None:
    results = run_expectations(load(BASE + CASES))
    assert [result.passed for result in results] == [True, True]


def test_wrong_destination_fails_the_case() -> None:
    results = run_expectations(
        load(BASE + CASES.replace("{department: sales}\n", "{voicemail: sales}\n"))
    )
    assert [result.passed for result in results] == [False, True]
    assert results[0].simulation.final.destination == ("department", "sales")


def test_unused_inputs_fail_the_case() -> None:
    results = run_expectations(load(BASE + CASES.replace('digits: ["1"]', 'digits: ["1", "2"]', 1)))
    assert not results[0].passed
    assert results[0].simulation.unused == ("2",)


def test_the_shipped_example_passes_check_with_all_its_cases() -> None:
    rules = load_rules(EXAMPLE)
    results = run_expectations(rules)
    assert len(results) >= 10
    assert all(result.passed for result in results), [r.case.name for r in results if not r.passed]
    assert rules.warnings == ()


def test_check_command_succeeds_on_the_example() -> None:
    result = CliRunner().invoke(routing, ["check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok    expect[0]" in result.output
    assert "expect cases passed, 0 warning(s)" in result.output


def test_check_command_reports_a_failed_case_with_its_trail(tmp_path: Path) -> None:
    file = write(tmp_path, BASE + CASES.replace("{department: sales}\n", "{voicemail: sales}\n"))
    result = CliRunner().invoke(routing, ["check", str(file)])
    assert result.exit_code == 1
    fail = "FAIL  expect[0] key 1 reaches sales on Monday morning: expected voicemail: sales, got"
    assert fail in result.output
    assert "        caller pressed 1 in menu main" in result.output
    assert "1/2 expect cases passed" in result.output


def test_check_command_names_unused_inputs_on_the_fail_line(tmp_path: Path) -> None:
    # The call ends where the case expects, but a key was never asked for: the FAIL line says so.
    cases = CASES.replace('digits: ["1"]', 'digits: ["1", "2"]', 1)
    result = CliRunner().invoke(routing, ["check", str(write(tmp_path, BASE + cases))])
    assert result.exit_code == 1
    assert (
        "FAIL  expect[0] key 1 reaches sales on Monday morning: inputs not used (the call ended "
        "first): 2; it ended at department: sales as expected\n"
    ) in result.output


def test_check_command_names_both_reasons_on_the_fail_line(tmp_path: Path) -> None:
    cases = CASES.replace('digits: ["1"]', 'digits: ["1", "2"]', 1)
    cases = cases.replace("{department: sales}\n", "{voicemail: sales}\n")
    result = CliRunner().invoke(routing, ["check", str(write(tmp_path, BASE + cases))])
    fail = next(line for line in result.output.splitlines() if line.startswith("FAIL"))
    assert fail.startswith("FAIL  expect[0] key 1 reaches sales on Monday morning: expected ")
    assert fail.endswith("; inputs not used: 2")


def test_check_command_prints_located_errors(tmp_path: Path) -> None:
    file = write(tmp_path, BASE.replace("{department: sales}", "{department: salse}"))
    result = CliRunner().invoke(routing, ["check", str(file)])
    assert result.exit_code == 1
    assert f'{file}:31:7: error: menus.main.options."1": unknown department' in result.output
    assert "invalid, 1 problem(s)" in result.output


def test_check_command_usage_errors_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(routing, ["check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2


def test_simulate_the_issue_example() -> None:
    args = [
        "simulate",
        str(EXAMPLE),
        "--caller",
        "+905551112233",
        "--at",
        "2026-12-24 19:05",
        "--digits",
        "2",
        "1",
    ]
    result = CliRunner().invoke(routing, args)
    assert result.exit_code == 0, result.output
    assert "caller chose language tr" in result.output
    assert "department sales is closed at 19:05 (half day 2026-12-24 hours: 08:00-13:00)" in (
        result.output
    )
    assert result.output.endswith("ends: voicemail: sales\n")


def test_simulate_with_did_language_and_customer() -> None:
    args = [
        "simulate",
        str(EXAMPLE),
        "--at",
        "2026-03-02 10:00",
        "--language",
        "de",
        "--customer",
        "vip=true",
    ]
    result = CliRunner().invoke(routing, args)
    assert result.exit_code == 0, result.output
    assert "customer vip is true" in result.output
    assert "ends: department: vip (random, max wait 120s, consent sound:de/aufzeichnung" in (
        result.output
    )


def test_simulate_reports_inputs_the_call_did_not_use() -> None:
    args = [
        "simulate",
        str(EXAMPLE),
        "--at",
        "2026-03-02 10:00",
        "--did",
        "+902423100200",
        "--digits",
        "1",
    ]
    result = CliRunner().invoke(routing, args)
    assert "not used (the call ended first): 1" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "24.12.2026"],
        ["--customer", "tier"],
        ["--at", "2026-03-02 10:00", "1"],
    ],
)
def test_simulate_usage_errors_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(routing, ["simulate", str(EXAMPLE), *args])
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("command", ["check", "simulate", "history", "rollback"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(routing, [command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: routing {command}")
