"""The `zentrale keys` commands: status, rotate, retire.

Builds the configured recipients (`keys.recipients`) with the keys that can open existing
recordings, and hands them to `zentrale.recording.rotation`. A local keyring gets its new
primary here (`rotate --new-key`); a public or KMS recipient changes when the settings point
it at another key. Retiring removes a key that no recording depends on: from its keyring
(local), by deleting the identity file given (public), or by scheduling deletion (KMS).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from zentrale.cli.context import Commands
from zentrale.config.settings import RecipientSettings, Settings
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording.aws import AwsClient, ClientSettings, make_client
from zentrale.recording.keys.base import KeyProviderError, KeyUnwrapper
from zentrale.recording.keys.kms import KmsKeyProvider
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity, PublicKeyRecipient
from zentrale.recording.rotation import DEFAULT_BATCH, Recipient, Rotation, RotationReport, Usage
from zentrale.recording.rotation import key_usage as count_key_usage


@dataclass(slots=True)
class KeyRow:
    """One line of `zentrale keys status`."""

    provider: str
    primary: bool = False
    created: str = "-"
    where: str = ""


@dataclass(slots=True)
class Keys:
    """The configured recipients, the keys that unwrap, and where each key lives."""

    recipients: list[Recipient] = field(default_factory=list)
    unwrappers: list[KeyUnwrapper] = field(default_factory=list)
    rows: dict[str, KeyRow] = field(default_factory=dict)
    keyrings: dict[str, Path] = field(default_factory=dict)
    """Local key id to the keyring file holding it."""
    identities: dict[str, Path] = field(default_factory=dict)
    """Public key id to the private key file given or found beside the public key."""
    kms: KmsKeyProvider | None = None


@contextlib.contextmanager
def configured_keys(
    settings: Settings, identities: tuple[Path, ...] = (), *, new_local_key: bool = False
) -> Iterator[Keys]:
    """Yield the keys the settings name (a KMS client is closed afterwards)."""
    keys = Keys()
    clients: list[AwsClient] = []
    try:
        for path in identities:
            _add_identity(keys, path)
        for index, recipient in enumerate(settings.keys.recipients):
            where = f"keys.recipients[{index}]"
            if recipient.provider == "local":
                _add_local(keys, recipient, where, new_local_key)
            elif recipient.provider == "public":
                _add_public(keys, recipient, where)
            else:
                _add_kms(
                    keys=keys, recipient=recipient, where=where, settings=settings, clients=clients
                )
        yield keys
    finally:
        for client in clients:
            client.close()


def _add_identity(keys: Keys, path: Path) -> None:
    identity = PrivateKeyIdentity.load(path)
    keys.unwrappers.append(identity)
    keys.identities[identity.key_id] = path
    keys.rows.setdefault(identity.key_id, KeyRow("public", where=str(path)))


def _add_local(keys: Keys, recipient: RecipientSettings, where: str, new_key: bool) -> None:
    path = recipient.keyring_file
    if path is None:
        raise click.ClickException(f"{where}: a local recipient needs keyring_file")
    if not path.is_file():
        raise click.ClickException(f"{where}: keyring file {path} does not exist")
    ring = Keyring.load(path)
    if new_key:
        ring = ring.with_new_primary()
        ring.replace(path)
        click.echo(f"new primary key {ring.primary} in {path}")
    provider = LocalKeyProvider(ring)
    keys.recipients.append(Recipient(provider, ring.primary))
    keys.unwrappers.append(provider)
    for key_id in ring.keys:
        created = ring.created.get(key_id, "-")
        keys.rows[key_id] = KeyRow(
            provider="local", primary=key_id == ring.primary, created=created, where=str(path)
        )
        keys.keyrings[key_id] = path


def _add_public(keys: Keys, recipient: RecipientSettings, where: str) -> None:
    path = recipient.public_key_file
    if path is None:
        raise click.ClickException(f"{where}: a public recipient needs public_key_file")
    wrapper = PublicKeyRecipient.from_pem(path.read_bytes())
    keys.recipients.append(Recipient(wrapper, wrapper.key_id))
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    created = modified.isoformat(timespec="seconds")
    keys.rows[wrapper.key_id] = KeyRow(
        provider="public", primary=True, created=created, where=str(path)
    )
    private = path.with_name(path.name.replace(".pub.pem", ".key.pem"))
    if private != path and private.is_file() and wrapper.key_id not in keys.identities:
        _add_identity(keys, private)


def _add_kms(
    keys: Keys,
    recipient: RecipientSettings,
    where: str,
    settings: Settings,
    clients: list[AwsClient],
) -> None:
    if not recipient.kms_key_id:
        raise click.ClickException(f"{where}: a kms recipient needs kms_key_id")
    provider = KmsKeyProvider(_kms_client(settings, clients), recipient.kms_key_id)
    info = provider.describe()
    keys.recipients.append(Recipient(provider, info.arn))
    keys.unwrappers.append(provider)  # opens any KMS-wrapped key this client may decrypt
    keys.rows[info.arn] = KeyRow(
        provider="kms", primary=True, created=info.created, where=f"{where} ({info.state})"
    )
    keys.kms = keys.kms or provider


def _kms_client(settings: Settings, clients: list[AwsClient]) -> AwsClient:
    # The endpoint comes from boto3's usual configuration (AWS_ENDPOINT_URL_KMS and friends).
    client = make_client("kms", ClientSettings(region=settings.storage.s3.region or "us-east-1"))
    clients.append(client)
    return client


def _settings() -> Settings:
    settings: Settings = click.get_current_context().find_root().obj.settings()
    return settings


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _usage(settings: Settings) -> Usage:
    async with Database.open(settings.database.url.get_secret_value()) as db:
        await upgrade_engine(db.engine)
        return await count_key_usage(db)


IDENTITY = click.option(
    "--identity",
    "identities",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An X25519 private key (PEM) that opens recordings wrapped for it; repeatable.",
)


@click.group(cls=Commands)
def keys() -> None:
    """Encryption keys: what each protects, rotation and retirement."""


@keys.command()
@IDENTITY
def status(identities: tuple[Path, ...]) -> None:
    """Show each key: id, provider, primary or not, recordings it protects, created."""
    settings = _settings()
    with _key_errors(), configured_keys(settings, identities) as found:
        usage = _run(_usage(settings))
    for line in status_lines(found, usage):
        click.echo(line)


def status_lines(found: Keys, usage: Usage) -> list[str]:
    """Return the status table and its summary line."""
    rows = dict(found.rows)
    for key_id, found_use in usage.keys.items():
        rows.setdefault(key_id, KeyRow(found_use.provider, where="only in recordings"))
    lines = [f"{'KEY':<44} {'PROVIDER':<8} {'PRIMARY':<7} {'RECORDINGS':>10} {'ONLY':>6}  CREATED"]
    for key_id, row in sorted(rows.items(), key=lambda item: (not item[1].primary, item[0])):
        use = usage.of(key_id)
        count, only = (use.recordings, use.only) if use else (0, 0)
        primary = "yes" if row.primary else "no"
        lines.append(
            f"{key_id:<44} {row.provider:<8} {primary:<7} {count:>10} {only:>6}  {row.created}"
        )
    lines.append(
        f"recordings with keys: {usage.with_keys}; shredded (no key opens them): "
        f"{usage.shredded}; waiting in the pipeline: {usage.in_pipeline}"
    )
    return lines


@keys.command()
@click.option(
    "--new-key",
    is_flag=True,
    help="First add a fresh key to every local keyring and make it primary.",
)
@click.option(
    "--keep-old",
    is_flag=True,
    help="Keep wraps by keys that are no longer recipients (default: drop).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Recordings read and written per transaction.",
)
@IDENTITY
def rotate(new_key: bool, keep_old: bool, batch: int, identities: tuple[Path, ...]) -> None:
    """Re-wrap every recording's data key for the current recipients (audio untouched).

    Safe to interrupt and run again: recordings already wrapped for exactly the current keys
    are skipped without any key service call.
    """
    settings = _settings()
    with _key_errors(), configured_keys(settings, identities, new_local_key=new_key) as found:
        targets = ", ".join(r.key_id for r in found.recipients)
        click.echo(f"re-wrapping for {targets}")
        report = _run(_rotate(settings, found, keep_old, batch))
    click.echo(
        f"examined {report.examined}, re-wrapped {report.rewrapped}, already current "
        f"{report.current}, shredded {report.shredded}, changed meanwhile {report.raced}, "
        f"failed {len(report.failed)}"
    )
    for rid, reason in sorted(report.failed.items()):
        click.echo(f"failed {rid}: {reason}", err=True)
    if not report.complete:
        raise click.ClickException("rotation incomplete: fix the failures and run it again")


async def _rotate(settings: Settings, found: Keys, keep_old: bool, batch: int) -> RotationReport:
    async with Database.open(settings.database.url.get_secret_value()) as db:
        await upgrade_engine(db.engine)
        rotation = Rotation(db, found.recipients, found.unwrappers, keep_old=keep_old, batch=batch)
        return await rotation.run(
            lambda r: click.echo(f"... {r.examined} examined, {r.rewrapped} re-wrapped")
        )


@keys.command()
@click.argument("key_id")
@click.option(
    "--pending-days",
    type=click.IntRange(7, 30),
    default=30,
    show_default=True,
    help="KMS: days before KMS deletes the key (cancellable until then).",
)
@IDENTITY
def retire(key_id: str, pending_days: int, identities: tuple[Path, ...]) -> None:
    """Remove KEY_ID once no recording depends on it, and destroy what this host holds of it."""
    settings = _settings()
    with _key_errors(), configured_keys(settings, identities) as found:
        usage = _run(_usage(settings))
        _check_retirable(key_id, found, usage)
        click.echo(_destroy(key_id, found, pending_days))
    if usage.in_pipeline:
        click.echo(
            f"note: {usage.in_pipeline} recordings are still in the pipeline; a daemon "
            "started before the key stopped being primary may still wrap for it",
            err=True,
        )


def _check_retirable(key_id: str, found: Keys, usage: Usage) -> None:
    row = found.rows.get(key_id)
    if row is not None and row.primary:
        raise click.ClickException(
            f"key {key_id} is a primary key ({row.where}): make another key primary first "
            "(`zentrale keys rotate --new-key` for a keyring, or point the recipient elsewhere)"
        )
    use = usage.of(key_id)
    if use is not None and use.recordings:
        raise click.ClickException(
            f"key {key_id} still protects {use.recordings} recordings ({use.only} only by it, "
            f"{use.also} also by other keys): run `zentrale keys rotate` first"
        )


def _destroy(key_id: str, found: Keys, pending_days: int) -> str:
    if key_id in found.keyrings:
        path = found.keyrings[key_id]
        Keyring.load(path).without(key_id).replace(path)
        return f"retired {key_id}: removed from keyring {path} (destroy its backups too)"
    if key_id in found.identities:
        path = found.identities[key_id]
        _shred(path)
        return f"retired {key_id}: private key {path} deleted (destroy its backups too)"
    if key_id.startswith("arn:") and found.kms is not None:
        when = found.kms.schedule_deletion(key_id, pending_days)
        return f"retired {key_id}: KMS deletes it at {when}"
    if key_id.startswith("arn:"):
        raise click.ClickException(f"key {key_id}: no kms recipient configured to reach KMS")
    if key_id.startswith("x25519:"):
        return (
            f"retired {key_id}: no recording depends on it; its private key is not on this "
            "host (pass --identity FILE to delete it): destroy it where it is kept"
        )
    raise click.ClickException(f"key {key_id} is in no configured keyring or identity")


def _shred(path: Path) -> None:
    # Overwrite before unlinking: a plain unlink leaves the bytes on many file systems.
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.write(bytes(size))
        file.flush()
    path.unlink()


@contextlib.contextmanager
def _key_errors() -> Iterator[None]:
    try:
        yield
    except KeyProviderError as exc:
        raise click.ClickException(str(exc)) from None
