"""Build the recording pipeline from the settings: storage, key recipients, workers.

The daemon (and `zentrale recordings work`) call `pipeline_running(settings, db, source)`,
which runs the steps `pipeline_steps(settings)` registers;
readers (the QA service, subject export) open the same store with `object_store` and the
keys that decrypt with `unwrappers_from`;
nothing here does I/O at import. A `local` key recipient whose keyring file does not exist
gets a fresh keyring (the development default), and the log says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import structlog
from sqlalchemy import select

from zentrale.base.errors import ZentraleError
from zentrale.config.settings import RecipientSettings, Settings
from zentrale.db.session import Database
from zentrale.recording.audio import FORMATS
from zentrale.recording.aws import ClientSettings, make_client
from zentrale.recording.bell import JobBell
from zentrale.recording.jobs import JobQueue
from zentrale.recording.keys.base import KeyUnwrapper, KeyWrapper
from zentrale.recording.keys.kms import KmsKeyProvider
from zentrale.recording.keys.local import Keyring, LocalKeyProvider
from zentrale.recording.keys.public import PrivateKeyIdentity, PublicKeyRecipient
from zentrale.recording.models import JobState, RecordingJob
from zentrale.recording.pipeline import Pipeline, PipelineConfig
from zentrale.recording.sources import RecordingSource
from zentrale.recording.steps import STANDARD
from zentrale.recording.steps.base import Step
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.storage.local import LocalStore
from zentrale.recording.storage.s3 import S3Settings, S3Store
from zentrale.recording.store import RecordingStore
from zentrale.recording.worker import WorkerOptions, WorkerPool, running
from zentrale.recording.workspace import Workspace

log = structlog.get_logger(__name__)

MIB = 1024 * 1024


class SetupError(ZentraleError):
    """The recording settings name something that cannot be used."""

    code = "setup"


@contextmanager
def object_store(settings: Settings) -> Iterator[ObjectStore]:
    """Open the configured store (local directory or S3 bucket); close it afterwards."""
    storage = settings.storage
    if storage.kind == "local":
        yield LocalStore(storage.path)
        return
    s3 = storage.s3
    if not s3.bucket:
        raise SetupError("storage.s3.bucket is empty")
    client = ClientSettings(
        region=s3.region or "us-east-1", endpoint_url=s3.endpoint_url, checksums=s3.checksums
    )
    store = S3Store.connect(
        S3Settings(
            bucket=s3.bucket,
            prefix=s3.prefix,
            client=client,
            multipart_threshold=s3.multipart_threshold_mib * MIB,
            sse_kms_key_id=s3.sse_kms_key_id,
        )
    )
    try:
        yield store
    finally:
        store.close()


@contextmanager
def key_recipients(settings: Settings) -> Iterator[list[KeyWrapper]]:
    """Return a wrapper for every configured recipient (KMS clients closed afterwards)."""
    closers: list[Callable[[], None]] = []
    wrappers: list[KeyWrapper] = []
    try:
        for recipient in settings.keys.recipients:
            wrapper, closer = _recipient(recipient, settings)
            wrappers.append(wrapper)
            if closer is not None:
                closers.append(closer)
        yield wrappers
    finally:
        for close in closers:
            close()


def _recipient(
    recipient: RecipientSettings, settings: Settings
) -> tuple[KeyWrapper, Callable[[], None] | None]:
    if recipient.provider == "public":
        if recipient.public_key_file is None:
            raise SetupError("keys.recipients: a public recipient needs public_key_file")
        return PublicKeyRecipient.from_pem(recipient.public_key_file.read_bytes()), None
    if recipient.provider == "kms":
        if not recipient.kms_key_id:
            raise SetupError("keys.recipients: a kms recipient needs kms_key_id")
        client = make_client(
            "kms", ClientSettings(region=settings.storage.s3.region or "us-east-1")
        )
        return KmsKeyProvider(client, recipient.kms_key_id), client.close
    return LocalKeyProvider(local_keyring(recipient)), None


def local_keyring(recipient: RecipientSettings) -> Keyring:
    """Load the recipient's keyring, creating one with a fresh key when the file is missing."""
    if recipient.keyring_file is None:
        raise SetupError("keys.recipients: a local recipient needs keyring_file")
    path = recipient.keyring_file
    if path.exists():
        return Keyring.load(path)
    keyring = Keyring.generate(recipient.key_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    keyring.save(path)
    log.warning(
        "recording.keyring_created",
        path=str(path),
        key_id=keyring.primary,
        note="development default: use public or kms recipients in production",
    )
    return keyring


def unwrappers_from(settings: Settings, identities: Sequence[Path] = ()) -> list[KeyUnwrapper]:
    """Return the keys that open recordings: IDENTITIES, local keyrings, and `x.key.pem`
    files beside configured `x.pub.pem` public keys."""
    found: list[KeyUnwrapper] = [PrivateKeyIdentity.load(path) for path in identities]
    for recipient in settings.keys.recipients:
        found.extend(_unwrapper(recipient))
    return found


def _unwrapper(recipient: RecipientSettings) -> list[KeyUnwrapper]:
    local = recipient.keyring_file
    if recipient.provider == "local" and local is not None and local.is_file():
        return [LocalKeyProvider(Keyring.load(local))]
    if recipient.provider == "public" and recipient.public_key_file is not None:
        private = recipient.public_key_file.with_name(
            recipient.public_key_file.name.replace(".pub.pem", ".key.pem")
        )
        if private != recipient.public_key_file and private.is_file():
            return [PrivateKeyIdentity.load(private)]
    if recipient.provider == "kms" and recipient.kms_key_id:
        return _kms(recipient.kms_key_id)
    return []


def _kms(key_id: str) -> list[KeyUnwrapper]:
    return [KmsKeyProvider(make_client("kms", ClientSettings()), key_id)]


def pipeline_config(settings: Settings) -> PipelineConfig:
    """Return what the pipeline steps take from the settings."""
    return PipelineConfig(
        format=FORMATS[settings.recording.format],
        storage_backend=settings.storage.kind,
        delete_source=settings.recording.delete_from_asterisk,
    )


def pipeline_steps(settings: Settings) -> tuple[Step, ...]:
    """Return the steps the daemon's pipeline runs, in order: where a step is registered.

    The standard steps always run; a step the settings switch on is added here with
    `steps.inserted(found, STEP, after=...)`.
    """
    del settings  # no optional step yet
    return STANDARD


async def parked_jobs(db: Database, limit: int = 100) -> list[RecordingJob]:
    """Return the jobs parked after too many failures, oldest first (for status and alerts)."""
    query = (
        select(RecordingJob)
        .where(RecordingJob.state == JobState.FAILED)
        .order_by(RecordingJob.updated_at)
        .limit(limit)
    )
    async with db.read() as session:
        return list(await session.scalars(query))


@asynccontextmanager
async def pipeline_running(
    settings: Settings,
    db: Database,
    source: RecordingSource,
    options: WorkerOptions | None = None,
    workers: int | None = None,
    steps: Sequence[Step] | None = None,
    bell: JobBell | None = None,
) -> AsyncIterator[WorkerPool]:
    """Run `settings.recording.workers` pipeline workers for the duration of the block.

    STEPS replaces `pipeline_steps(settings)` (the tests add probes and faults this way);
    BELL is the one the process's journal rings when it queues a job.
    """
    with object_store(settings) as store, key_recipients(settings) as recipients:
        pipeline = Pipeline(
            recordings=RecordingStore(db),
            source=source,
            store=store,
            recipients=recipients,
            workspace=Workspace(settings.recording.temp_dir),
            config=pipeline_config(settings),
            steps=pipeline_steps(settings) if steps is None else steps,
        )
        queue = JobQueue(db, max_attempts=settings.recording.max_attempts, bell=bell)
        count = workers or settings.recording.workers
        async with running(
            queue, pipeline, count, settings.node, options or worker_options(settings)
        ) as pool:
            yield pool


def worker_options(settings: Settings) -> WorkerOptions:
    """Return the workers' timing: the defaults, with the settings' outage wait and poll."""
    return WorkerOptions(
        outage_backoff_max=settings.recording.outage_backoff_max,
        poll=settings.recording.poll_interval,
    )
