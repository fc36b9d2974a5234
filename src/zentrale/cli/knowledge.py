"""`zentrale knowledge`: check the call scripts and articles, list and roll back versions.

The edge of the knowledge package for supervisors: reads the directory and the routing file
(whose departments the files may name), prints every problem as `file:line:col: error: ...`
and exits 1 when the set would be refused by the running daemon (0 ok, 2 usage).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from zentrale.cli.context import Commands
from zentrale.knowledge.errors import InvalidKnowledgeError
from zentrale.knowledge.history import KnowledgeHistory, KnowledgeVersion
from zentrale.knowledge.load import Knowledge, load_knowledge, parse_knowledge
from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.history import write_atomically
from zentrale.routing.load import load_rules

DIRECTORY = click.Path(exists=True, file_okay=False, path_type=Path)
RULES = click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The routing file whose departments the scripts and articles may name.",
)
HISTORY = click.option(
    "--history-dir",
    "history_dir",
    required=True,
    envvar="ZENTRALE_KNOWLEDGE_HISTORY",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory where applied versions are kept (env ZENTRALE_KNOWLEDGE_HISTORY).",
)


@click.group(cls=Commands, name="knowledge")
def knowledge() -> None:
    """Check and manage the call scripts and product/service articles."""


@knowledge.command()
@click.argument("directory", type=DIRECTORY)
@RULES
@click.pass_context
def check(ctx: click.Context, directory: Path, rules_file: Path | None) -> None:
    """Validate DIRECTORY (scripts/*.md, articles/*.md); exit 1 on any error."""
    departments = _departments(ctx, rules_file)
    try:
        found = load_knowledge(directory, departments)
    except InvalidKnowledgeError as error:
        _echo_issues(error)
        click.echo(f"{directory}: invalid, {len(error.issues)} problem(s)")
        ctx.exit(1)
    _summary(directory, found, departments is None)


@knowledge.command()
@HISTORY
@click.option("--diff", "show_diff", metavar="VERSION", help="Print the diff of one version.")
def history(history_dir: Path, show_diff: str | None) -> None:
    """List the applied versions, newest last, or show the diff of one."""
    store = KnowledgeHistory(history_dir)
    if show_diff is not None:
        click.echo(store.diff(_find(store, show_diff)), nl=False)
        return
    entries = store.entries()
    if not entries:
        click.echo(f"no versions recorded in {history_dir}")
    for entry in entries:
        when = f"{entry.applied_at:%Y-%m-%d %H:%M:%S %Z}"
        click.echo(f"{entry.number:4}  {entry.version}  {when}  {entry.source}")


@knowledge.command()
@click.argument("version")
@HISTORY
@click.option(
    "--dir",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The live directory to overwrite; the watcher applies it.",
)
@RULES
@click.pass_context
def rollback(
    ctx: click.Context, version: str, history_dir: Path, target: Path, rules_file: Path | None
) -> None:
    """Write VERSION (number or hash prefix) back to the live directory after validating it."""
    store = KnowledgeHistory(history_dir)
    entry = _find(store, version)
    files = store.files(entry)
    try:
        parse_knowledge(files, str(entry.stem), _departments(ctx, rules_file))
    except InvalidKnowledgeError as error:
        _echo_issues(error)
        click.echo(f"version {entry.label} is not valid for this zentrale; nothing changed")
        ctx.exit(1)
    for old in sorted(target.rglob("*.md")) if target.is_dir() else []:
        if old.relative_to(target).as_posix() not in files:
            old.unlink()
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    for folder in ("scripts", "articles"):
        if (target / folder).is_dir() and not any((target / folder).iterdir()):
            shutil.rmtree(target / folder)
    click.echo(f"{target} now holds version {entry.label}; the running daemon applies it")


def _departments(ctx: click.Context, rules_file: Path | None) -> frozenset[str] | None:
    if rules_file is None:
        return None
    try:
        return frozenset(load_rules(rules_file).document.departments)
    except InvalidRulesError as error:
        for issue in error.issues:
            click.echo(str(issue))
        click.echo(f"{rules_file}: invalid routing rules; departments cannot be checked")
        ctx.exit(1)
        raise  # not reached: exit raises


def _summary(directory: Path, found: Knowledge, unchecked: bool) -> None:
    note = " (departments not checked: give --rules)" if unchecked else ""
    click.echo(
        f"{directory}: version {found.version}, {len(found.scripts)} script(s), "
        f"{len(found.articles)} article(s){note}"
    )


def _find(store: KnowledgeHistory, version: str) -> KnowledgeVersion:
    try:
        return store.find(version)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="VERSION") from None


def _echo_issues(error: InvalidKnowledgeError) -> None:
    for issue in error.issues:
        click.echo(str(issue))
