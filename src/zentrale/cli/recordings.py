"""`zentrale recordings`: turn a stored object back into audio, make keys, run the pipeline,
and work out the conversation figures of recordings stored before the pipeline did.

The edge of the recording crypto for people: reads an object file, its wrapped keys (the JSON
the database row holds) and key material, and writes the audio. Exit codes: 0 ok, 1 the
object or keys did not open, 2 usage. A failed decryption removes the partial output.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from zentrale.base.clock import utcnow
from zentrale.cli.context import Commands, run_with_database
from zentrale.config.settings import Settings
from zentrale.core import audit
from zentrale.db.session import Database
from zentrale.migrations import upgrade_engine
from zentrale.recording import envelope
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.backfill import Backfill, BackfillReport, Outcome, pending
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.base import (
    KeyProviderError,
    KeyUnwrapper,
    WrappedKey,
    unwrap_any,
    wrapped_keys_from_json,
)
from zentrale.recording.keys.kms import KmsKeyProvider
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity
from zentrale.recording.models import JobState, RecordingJob
from zentrale.recording.setup import object_store, parked_jobs, pipeline_running, unwrappers_from
from zentrale.recording.sources import DirectorySource, RecordingSource
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions
from zentrale.telephony.ari import AriClient
from zentrale.telephony.spool import asterisk_source

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_READ_SIZE = 1024 * 1024


@click.group(cls=Commands, name="recordings")
def recordings() -> None:
    """Decrypt recording objects and generate recording keys."""


@recordings.command()
@click.argument("object_file", metavar="OBJECT", type=FILE)
@click.option(
    "--keys",
    "keys_file",
    required=True,
    type=FILE,
    help="JSON with recording_id and wrapped_keys (the database row), or a list.",
)
@click.option("--recording-id", help="The recording id, if the keys JSON does not hold it.")
@click.option("--identity", multiple=True, type=FILE, help="X25519 private key PEM.")
@click.option("--keyring", multiple=True, type=FILE, help="Local keyring JSON.")
@click.option("--kms", "use_kms", is_flag=True, help="Ask AWS KMS to unwrap kms keys.")
@click.option("--kms-endpoint", help="KMS endpoint URL (KMS-compatible services).")
@click.option("--kms-region", default="us-east-1", show_default=True)
@click.option(
    "--range",
    "byte_range",
    metavar="START-END",
    help="Only plaintext bytes START to END-1 (END may be empty: to the end).",
)
@click.option("-o", "--output", required=True, help="Audio file to write, or - for stdout.")
@click.pass_context
def decrypt(
    ctx: click.Context,
    object_file: Path,
    keys_file: Path,
    recording_id: str | None,
    identity: tuple[Path, ...],
    keyring: tuple[Path, ...],
    use_kms: bool,
    kms_endpoint: str | None,
    kms_region: str,
    byte_range: str | None,
    output: str,
) -> None:
    """Decrypt OBJECT into an audio file with the recording's wrapped keys."""
    rid, wrapped = _read_keys(ctx, keys_file, recording_id)
    unwrappers: list[KeyUnwrapper] = [PrivateKeyIdentity.load(p) for p in identity]
    unwrappers += [LocalKeyProvider(Keyring.load(p)) for p in keyring]
    with _kms_unwrappers(use_kms, wrapped, kms_endpoint, kms_region) as kms:
        data_key = _unwrap(ctx, wrapped, unwrappers + kms, rid)
    _write_plaintext(output, _plaintext(object_file, data_key, rid, byte_range))


@contextlib.contextmanager
def _kms_unwrappers(
    enabled: bool, wrapped: list[WrappedKey], endpoint: str | None, region: str
) -> Iterator[list[KeyUnwrapper]]:
    kms_ids = [item.key_id for item in wrapped if item.provider == "kms"]
    if not (enabled and kms_ids):
        yield []
        return
    client = make_client("kms", ClientSettings(region=region, endpoint_url=endpoint))
    try:
        yield [KmsKeyProvider(client, kms_ids[0])]
    finally:
        client.close()


def _unwrap(
    ctx: click.Context, wrapped: list[WrappedKey], unwrappers: list[KeyUnwrapper], rid: str
) -> bytes:
    if not unwrappers:
        raise click.UsageError("give at least one of --identity, --keyring or --kms", ctx)
    return unwrap_any(wrapped, unwrappers, rid)


def _read_keys(
    ctx: click.Context, path: Path, recording_id: str | None
) -> tuple[str, list[WrappedKey]]:
    try:
        data: Any = json.loads(path.read_text())
        items = data if isinstance(data, list) else data["wrapped_keys"]
        rid = recording_id or (None if isinstance(data, list) else data.get("recording_id"))
        wrapped = wrapped_keys_from_json(items)
    except (ValueError, KeyError, TypeError, KeyProviderError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--keys") from None
    if not rid:
        raise click.UsageError("--recording-id is needed: the keys JSON does not name it", ctx)
    return str(rid), wrapped


def _parse_range(text: str) -> tuple[int, int | None]:
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError(text)
        return int(start), (int(end) if end else None)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not START-END", param_hint="--range") from None


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_READ_SIZE):
        yield chunk


def _plaintext(path: Path, key: bytes, rid: str, byte_range: str | None) -> Iterator[bytes]:
    with path.open("rb") as file:
        if byte_range is None:
            yield from envelope.decrypt(_file_chunks(file), key, rid)
            return
        start, end = _parse_range(byte_range)

        def read(lo: int, hi: int) -> Iterator[bytes]:
            file.seek(lo)
            yield file.read(hi - lo)

        size = path.stat().st_size
        yield from envelope.decrypt_range(read, size, key, rid, start, end)


def _write_plaintext(output: str, plaintext: Iterator[bytes]) -> None:
    if output == "-":
        stream = sys.stdout.buffer
        _copy_or_fail(plaintext, stream)
        return
    target = Path(output)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        try:
            _copy_or_fail(plaintext, file)
        except click.ClickException:
            target.unlink(missing_ok=True)  # never leave half an authenticated recording
            raise


def _copy_or_fail(plaintext: Iterator[bytes], stream: BinaryIO) -> None:
    try:
        for chunk in plaintext:
            stream.write(chunk)
    except envelope.EnvelopeError as exc:
        raise click.ClickException(f"the object did not decrypt: {exc}") from None


@recordings.group()
def keys() -> None:
    """Generate recording keys."""


@keys.command()
@click.option(
    "--type",
    "kind",
    type=click.Choice(["x25519", "local"]),
    required=True,
    help="x25519: a key pair for the public provider; local: a keyring file.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="x25519: writes OUT.key.pem and OUT.pub.pem; local: the keyring file.",
)
@click.option("--key-id", help="Name of the key in a new local keyring.")
def generate(kind: str, out: Path, key_id: str | None) -> None:
    """Generate an X25519 key pair or a local keyring; prints the key id."""
    try:
        printed = _generate_x25519(out) if kind == "x25519" else _generate_keyring(out, key_id)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc.filename} exists; not overwriting a key") from None
    click.echo(printed)


def _generate_x25519(out: Path) -> str:
    identity = PrivateKeyIdentity.generate()
    private, public = Path(f"{out}.key.pem"), Path(f"{out}.pub.pem")
    if public.exists():
        raise FileExistsError(None, "exists", str(public))
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(identity.private_pem())
    public.write_bytes(identity.public_pem())
    return f"{identity.key_id} private={private} public={public}"


def _generate_keyring(out: Path, key_id: str | None) -> str:
    keyring = Keyring.generate(key_id)
    keyring.save(out)
    return f"{keyring.primary} keyring={out}"


def _settings() -> Any:
    """Return the settings loaded by the root command (file + environment)."""
    return click.get_current_context().find_root().obj.settings()


@recordings.command()
@click.option(
    "--source-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Fetch recordings from files NAME.FORMAT here instead of from Asterisk over ARI.",
)
@click.option("--workers", type=click.IntRange(1, 64), help="Override recording.workers.")
@click.option(
    "--lease",
    type=click.FloatRange(0.5, 3600),
    default=60.0,
    show_default=True,
    help="Seconds a job stays leased to a silent worker.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(0.01, 3600),
    default=2.0,
    show_default=True,
    help="First retry delay in seconds (doubles up to 300 s).",
)
@click.option("--until-idle", is_flag=True, help="Exit once no job is pending or running.")
def work(
    source_dir: Path | None, workers: int | None, lease: float, backoff: float, until_idle: bool
) -> None:
    """Run pipeline workers (without the call flows) until interrupted."""
    settings = _settings()
    options = WorkerOptions(
        lease=lease,
        backoff_initial=backoff,
        poll=min(settings.recording.poll_interval, lease / 4),
        outage_backoff_max=settings.recording.outage_backoff_max,
    )
    asyncio.run(_work(settings, source_dir, workers, options, until_idle))


async def _work(
    settings: Settings,
    source_dir: Path | None,
    workers: int | None,
    options: WorkerOptions,
    until_idle: bool,
) -> None:
    async with (
        Database.open(settings.database.url.get_secret_value()) as db,
        _source(settings, source_dir) as source,
    ):
        await upgrade_engine(db.engine)
        async with pipeline_running(settings, db, source, options, workers) as pool:
            await (pool.wait_idle() if until_idle else pool.wait_stopped())
            click.echo(
                f"stored {pool.stats.stored}, retried {pool.stats.retried}, "
                f"parked {pool.stats.parked}"
            )


@contextlib.asynccontextmanager
async def _source(settings: Settings, source_dir: Path | None) -> AsyncIterator[RecordingSource]:
    if source_dir is not None:
        yield DirectorySource(source_dir)
        return
    from zentrale.daemon import ari_credentials

    ari = AriClient(ari_credentials(settings))
    try:
        yield asterisk_source(ari, settings.recording.asterisk_spool)
    finally:
        await ari.rest.aclose()


@recordings.command()
@click.option("--parked", "show_parked", is_flag=True, help="List the parked jobs.")
def status(show_parked: bool) -> None:
    """Show the pipeline's backlog: jobs per state, due now, oldest due, parked jobs."""
    settings = _settings()
    report = asyncio.run(_status(settings, show_parked))
    for line in report:
        click.echo(line)


async def _status(settings: Settings, show_parked: bool) -> list[str]:
    async with Database.open(settings.database.url.get_secret_value()) as db:
        await upgrade_engine(db.engine)
        backlog = await JobQueue(db).backlog()
        lines = [
            f"{state.value}: {backlog.by_state.get(state, 0)}"
            for state in JobState
            if state is not JobState.DONE
        ]
        oldest = backlog.oldest_due_at.isoformat() if backlog.oldest_due_at else "-"
        lines += [f"due: {backlog.due}", f"oldest due: {oldest}"]
        if show_parked:
            lines += [_parked_line(job) for job in await parked_jobs(db)]
    return lines


@recordings.command()
@click.argument("job_ids", nargs=-1, metavar="[JOB_ID]...")
@click.option("--all-parked", is_flag=True, help="Requeue every parked job.")
@click.option("--reason", default=None, help="Why (kept in the audit log).")
def requeue(job_ids: tuple[str, ...], all_parked: bool, reason: str | None) -> None:
    """Put parked jobs back in the queue with fresh attempts (audited)."""
    if bool(job_ids) == all_parked:
        raise click.UsageError("give job ids or --all-parked, not both")

    async def work(db: Database) -> list[RecordingJob]:
        jobs = await JobQueue(db).requeue_parked(None if all_parked else list(job_ids))
        actor = audit.Actor(None, f"cli:{getpass.getuser()}"[:128], None)
        for job in jobs:
            detail = {"recording_id": job.recording_id, "step": job.step}
            event = audit.Event("recording_job.requeue", job.id, reason, detail)
            await audit.record(db, actor, event, utcnow())
        return jobs

    jobs = run_with_database(_settings(), work)
    for job in jobs:
        click.echo(f"requeued {job.id} recording={job.recording_id} step={job.step}")
    missing = sorted(set(job_ids) - {job.id for job in jobs})
    for job_id in missing:
        click.echo(f"not parked: {job_id}", err=True)
    click.echo(f"requeued {len(jobs)}")
    if missing:
        raise SystemExit(1)


def _parked_line(job: RecordingJob) -> str:
    return f"parked {job.id} recording={job.recording_id} step={job.step} " + (
        f"attempts={job.attempts} error={job.last_error}"
    )


@recordings.command()
@click.argument("recording_ids", metavar="[ID]...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every stored recording without figures.")
@click.option(
    "--identity",
    multiple=True,
    type=FILE,
    help="X25519 private key PEM, besides the keys the settings name (may repeat).",
)
@click.pass_context
def analyse(
    ctx: click.Context, recording_ids: tuple[str, ...], every: bool, identity: tuple[Path, ...]
) -> None:
    """Work out the conversation figures of recordings stored without them (decrypted in
    memory); exit 1 if any failed."""
    if every == bool(recording_ids):
        raise click.UsageError("give --all or recording ids (not both)", ctx)
    report = asyncio.run(_analyse(_settings(), recording_ids, identity))
    for outcome in report.outcomes:
        click.echo(_outcome_line(outcome))
    click.echo(
        f"analysed {report.count('analysed')}, skipped {report.count('skipped')}, "
        f"failed {report.count('failed')}"
    )
    if report.failed:
        raise SystemExit(1)


async def _analyse(
    settings: Settings, recording_ids: tuple[str, ...], identity: tuple[Path, ...]
) -> BackfillReport:
    unwrappers = unwrappers_from(settings, identity)
    with object_store(settings) as store:
        async with Database.open(settings.database.url.get_secret_value()) as db:
            await upgrade_engine(db.engine)
            ids = list(recording_ids) or await pending(db)
            backfill = Backfill(RecordingStore(db), store, unwrappers)
            report = await backfill.run(ids)
            counts = {status: report.count(status) for status in ("analysed", "skipped", "failed")}
            detail: dict[str, object] = {"all": not recording_ids, **counts}
            if recording_ids:
                detail["ids"] = list(recording_ids)[:100]
            actor = audit.Actor(None, f"cli:{getpass.getuser()}"[:128], None)
            await audit.record(
                db, actor, audit.Event("recordings.analyse", detail=detail), utcnow()
            )
    return report


def _outcome_line(outcome: Outcome) -> str:
    figures = outcome.figures
    if figures is None:
        return f"{outcome.status} {outcome.recording_id}: {outcome.reason}"
    share = "-" if figures.agent_talk_ratio is None else f"{figures.agent_talk_ratio:.0%}"
    return (
        f"analysed {outcome.recording_id}: customer {figures.customer_talk_s:.1f} s, "
        f"agent {figures.agent_talk_s:.1f} s (share {share}), dead air {figures.silence_s:.1f} s, "
        f"overtalk {figures.overtalk_s:.1f} s in {figures.overtalk_count}"
    )
