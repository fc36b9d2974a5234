"""`zentrale prompts`: synthesize demo prompt files and check the rules' prompts.

The edge of the prompts package: reads files (and ARI when asked), prints for supervisors,
and turns problems into exit codes (0 fine, 1 missing prompts or a bad file, 2 usage).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click
import httpx
from pydantic import SecretStr

from zentrale.cli.context import Commands
from zentrale.prompts.catalog import PromptCatalog
from zentrale.prompts.check import assumed_builtins, missing_prompts, sound_uses
from zentrale.prompts.manifest import ManifestError, load_manifest
from zentrale.prompts.sounds import fetch_asterisk_sounds
from zentrale.prompts.synthesize import Outcome, SynthesisError, synthesize
from zentrale.routing.errors import InvalidRulesError
from zentrale.routing.load import load_rules
from zentrale.routing.rules import Rules

DEFAULT_DIR = Path("var/prompts")
PROMPTS_DIR = click.option(
    "--dir",
    "--out",
    "directory",
    default=DEFAULT_DIR,
    show_default=True,
    envvar="ZENTRALE_PROMPTS_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The prompts directory (env ZENTRALE_PROMPTS_DIR).",
)


@click.group(cls=Commands, name="prompts")
def prompts() -> None:
    """Make and check the audio prompts the IVR plays."""


@prompts.command(name="synthesize")
@click.option(
    "--manifest",
    default=Path("config/prompts.yaml"),
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Texts to speak per sound name and language.",
)
@PROMPTS_DIR
def synthesize_command(manifest: Path, directory: Path) -> None:
    """Speak the manifest's texts with espeak-ng into 8 kHz WAV files (skips unchanged ones)."""
    try:
        loaded = load_manifest(manifest)
        report = synthesize(loaded, directory, _echo_progress)
    except (ManifestError, SynthesisError) as error:
        raise click.ClickException(str(error)) from None
    counts = f"{len(report.made)} made, {len(report.skipped)} up to date"
    click.echo(f"{directory}: {counts}, {len(report.kept)} kept (your own recordings)")


def _echo_progress(name: str, outcome: Outcome) -> None:
    if outcome != "skipped":
        click.echo(f"{outcome:<5} {name}")


@prompts.command(name="check")
@click.option(
    "--rules",
    "rules_file",
    default=Path("config/routing.yaml"),
    show_default=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The routing rules.",
)
@PROMPTS_DIR
@click.option("--ari-url", help="Ask this ARI (http://host:8088/ari) for Asterisk's sounds.")
@click.option("--ari-user", default="zentrale", show_default=True, envvar="ZENTRALE_ARI__USERNAME")
@click.option(
    "--ari-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the ARI password (else env ZENTRALE_ARI__PASSWORD).",
)
@click.pass_context
def check_command(
    ctx: click.Context,
    rules_file: Path,
    directory: Path,
    ari_url: str | None,
    ari_user: str,
    ari_password_file: Path | None,
) -> None:
    """Report each prompt whose sound is neither a playable file nor Asterisk's own sound."""
    rules = _load_rules(rules_file)
    catalog = PromptCatalog(directory)
    if ari_url is None:
        builtins = assumed_builtins(rules, catalog)
        listed = ", ".join(f"sound:{name}" for name in sorted(builtins)) or "none"
        click.echo(f"offline: assuming these are Asterisk's own sounds: {listed}")
    else:
        builtins = _asterisk_sounds(ari_url, ari_user, _password(ari_password_file))
    missing = missing_prompts(rules, catalog, builtins)
    for problem in missing:
        click.echo(f"missing  {problem}")
    uses = len(sound_uses(rules))
    click.echo(f"{rules_file}: {uses} sound reference(s) checked, {len(missing)} missing")
    ctx.exit(1 if missing else 0)


def _load_rules(path: Path) -> Rules:
    try:
        return load_rules(path)
    except InvalidRulesError as error:
        raise click.ClickException(str(error)) from None


def _password(path: Path | None) -> SecretStr:
    if path is not None:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    secret = os.environ.get("ZENTRALE_ARI__PASSWORD")
    if not secret:
        raise click.UsageError("give --ari-password-file or set ZENTRALE_ARI__PASSWORD")
    return SecretStr(secret)


def _asterisk_sounds(url: str, user: str, password: SecretStr) -> set[str]:
    try:
        return asyncio.run(fetch_asterisk_sounds(url, user, password))
    except (httpx.HTTPError, ValueError) as error:
        raise click.ClickException(f"cannot list Asterisk's sounds at {url}: {error}") from None
