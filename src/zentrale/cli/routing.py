"""`zentrale routing`: check, simulate, history and rollback for supervisors.

The edge of the routing package: reads files and the clock, prints for people, and turns
problems into exit codes (0 ok, 1 invalid rules or a failed `expect:` case, 2 usage).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from zentrale.cli.context import Commands
from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.facts import CallFacts
from zentrale.routing.history import History, HistoryEntry, write_atomically
from zentrale.routing.load import load_rules, parse_rules
from zentrale.routing.rules import Rules
from zentrale.routing.simulate import ExpectResult, local_time, run_expectations, simulate
from zentrale.routing.steps import CollectDigits, Queue, Step

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
HISTORY = click.option(
    "--history-dir",
    "history_dir",
    required=True,
    envvar="ZENTRALE_ROUTING_HISTORY",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory where applied versions are kept (env ZENTRALE_ROUTING_HISTORY).",
)


@click.group(cls=Commands, name="routing")
def routing() -> None:
    """Check, simulate and manage the routing rules (routing.yaml)."""


@routing.command()
@click.argument("file", type=FILE)
@click.pass_context
def check(ctx: click.Context, file: Path) -> None:
    """Validate FILE and run its expect: cases; exit 1 on any error or failed case."""
    rules = _load_or_exit(ctx, file)
    results = run_expectations(rules)
    for result in results:
        _echo_result(result)
    failed = sum(not result.passed for result in results)
    summary = f"{file}: version {rules.version}, {len(results) - failed}/{len(results)} "
    click.echo(summary + f"expect cases passed, {len(rules.warnings)} warning(s)")
    ctx.exit(1 if failed else 0)


@routing.command(name="simulate")
@click.argument("file", type=FILE)
@click.option("--caller", help="Caller ID, e.g. +905551112233 (omit for a withheld number).")
@click.option("--at", "at", help='Local time of the call, "2026-12-24 19:05" (default: now).')
@click.option("--digits", multiple=True, help="Keys entered per prompt: --digits 2 1 (or timeout).")
@click.argument("more_digits", nargs=-1, metavar="[DIGITS]...")
@click.option("--did", default="", help="The number dialled.")
@click.option("--language", help="A language already known for the caller, e.g. tr.")
@click.option("--customer", multiple=True, metavar="FIELD=VALUE", help="Customer record field.")
@click.option("--outbound", is_flag=True, help="Simulate an outbound call (consent notice).")
@click.pass_context
def simulate_call(
    ctx: click.Context,
    file: Path,
    caller: str | None,
    at: str | None,
    digits: tuple[str, ...],
    more_digits: tuple[str, ...],
    did: str,
    language: str | None,
    customer: tuple[str, ...],
    outbound: bool,
) -> None:
    """Show where a call to FILE's rules would go, and why."""
    if more_digits and not digits:
        raise click.UsageError(f"unexpected argument {more_digits[0]!r}; keys go after --digits")
    rules = _load_or_exit(ctx, file)
    facts = CallFacts(
        at=local_time(rules, _parse_at(at)),
        dialled=did,
        caller=caller,
        language=language,
        customer=_parse_customer(customer),
        direction="outbound" if outbound else "inbound",
    )
    result = simulate(rules, facts, (*digits, *more_digits))
    for number, reason in enumerate(result.final.reason, start=1):
        click.echo(f"{number:3}. {reason}")
    click.echo(f"ends: {_describe(result.final)}")
    if result.unused:
        click.echo(f"not used (the call ended first): {' '.join(result.unused)}")


@routing.command()
@HISTORY
@click.option("--diff", "show_diff", metavar="VERSION", help="Print the diff of one version.")
@click.pass_context
def history(ctx: click.Context, history_dir: Path, show_diff: str | None) -> None:
    """List the applied versions, newest last, or show the diff of one."""
    store = History(history_dir)
    if show_diff is not None:
        click.echo(store.diff(_find(store, show_diff)), nl=False)
        return
    entries = store.entries()
    if not entries:
        click.echo(f"no versions recorded in {history_dir}")
    for entry in entries:
        click.echo(
            f"{entry.number:4}  {entry.version}  {entry.applied_at:%Y-%m-%d %H:%M:%S %Z}"
            f"  {entry.source}"
        )


@routing.command()
@click.argument("version")
@HISTORY
@click.option(
    "--file",
    "target",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The live routing file to overwrite; the watcher applies it.",
)
@click.pass_context
def rollback(ctx: click.Context, version: str, history_dir: Path, target: Path) -> None:
    """Write VERSION (number or hash prefix) back to the live file after validating it."""
    store = History(history_dir)
    entry = _find(store, version)
    text = store.text(entry)
    try:
        parse_rules(text, str(entry.stem.with_suffix(".yaml")))
    except InvalidRulesError as error:
        _echo_issues(error)
        click.echo(f"version {entry.label} is not valid for this zentrale; nothing changed")
        ctx.exit(1)
    write_atomically(target, text)
    click.echo(f"{target} now holds version {entry.label}; the running daemon applies it")


def _find(store: History, version: str) -> HistoryEntry:
    try:
        return store.find(version)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="VERSION") from None


def _load_or_exit(ctx: click.Context, file: Path) -> Rules:
    try:
        rules = load_rules(file)
    except InvalidRulesError as error:
        _echo_issues(error)
        click.echo(f"{file}: invalid, {len(error.issues)} problem(s)")
        ctx.exit(1)
    for warning in rules.warnings:
        click.echo(str(warning))
    return rules


def _echo_issues(error: InvalidRulesError) -> None:
    for issue in error.issues:
        click.echo(str(issue))


def _echo_result(result: ExpectResult) -> None:
    name = f"expect[{result.index}] {result.case.name}"
    if result.passed:
        click.echo(f"ok    {name}")
        return
    click.echo(f"FAIL  {name}: {_failure(result)}")
    for reason in result.simulation.final.reason:
        click.echo(f"        {reason}")


def _failure(result: ExpectResult) -> str:
    """Say on one line why a case failed: the wrong end, inputs left over, or both."""
    goes_to = result.case.goes_to
    wanted = f"{goes_to.kind}: {goes_to.target}"
    unused = " ".join(result.simulation.unused)
    if result.simulation.final.destination != (goes_to.kind, goes_to.target):
        left = f"; inputs not used: {unused}" if unused else ""
        return f"expected {wanted}, got {_describe(result.simulation.final)}{left}"
    return f"inputs not used (the call ended first): {unused}; it ended at {wanted} as expected"


def _describe(step: Step) -> str:
    kind, target = step.destination
    text = f"{kind}: {target}" if target else kind
    if isinstance(step, CollectDigits):
        text += f" (waiting for up to {step.max_digits} key(s); prompts {', '.join(step.prompts)})"
    if isinstance(step, Queue):
        text += f" ({step.config.strategy}, max wait {step.config.max_wait:g}s"
        recorded = f", consent {step.consent}{_notice_label(step)})"
        text += recorded if step.consent else ", not recorded)"
    return text


def _notice_label(step: Queue) -> str:
    notice = step.notice
    if notice is None:
        return ""
    version = f"version {notice.version}, " if notice.version != notice.sound else ""
    return f" [{version}{notice.language}]"


def _parse_at(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        example = '"2026-12-24 19:05"'
        raise click.BadParameter(f"{text!r}: write it like {example}", param_hint="--at") from None


def _parse_customer(fields: tuple[str, ...]) -> dict[str, str]:
    record: dict[str, str] = {}
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep:
            raise click.BadParameter(f"{field!r}: write FIELD=VALUE", param_hint="--customer")
        record[name] = value
    return record
