"""The steps that store the audio encrypted: `encrypt`, `upload`, `verify`.

Encrypt seals the plaintext into a local object (`vault.seal` to the key recipients) and
deletes the plaintext; upload puts that object under its fixed key `YYYY/MM/<recording id>`,
replacing an earlier attempt's; verify reads it back and compares size and SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog

from zentrale.base.errors import ZentraleError
from zentrale.recording import vault
from zentrale.recording.keys.base import KeyWrapper
from zentrale.recording.models import JobStep, Recording
from zentrale.recording.steps.base import Step, Tools, object_key, write_json
from zentrale.recording.steps.products import (
    PLAINTEXT,
    SEALED,
    UPLOADED,
    VERIFIED,
    SealedFacts,
    audio_facts,
    plaintext_path,
    sealed_facts,
)
from zentrale.recording.storage.base import ObjectStore
from zentrale.recording.storage.local import LocalStore

log = structlog.get_logger(__name__)

_READ_SIZE = 1024 * 1024


class VerificationFailedError(ZentraleError):
    """The stored object is not the one sealed (size or SHA-256 differ)."""

    code = "verification-failed"


async def encrypt(tools: Tools, recording: Recording) -> None:
    """Seal the audio into a local encrypted object, then drop the plaintext."""
    path = plaintext_path(tools, recording)
    local = _sealed_copy(tools, recording)
    key = object_key(recording)
    sealed = await asyncio.to_thread(_seal, local, tools.recipients, recording.id, path, key)
    write_json(tools.workspace.sealed_meta(recording.id), asdict(sealed))
    tools.workspace.drop_plaintext(recording.id)
    corrupt = audio_facts(tools, recording).corrupt
    log.debug("pipeline.encrypted", recording_id=recording.id, corrupt=corrupt)


async def upload(tools: Tools, recording: Recording) -> None:
    """Put the sealed object into the store (replacing an earlier attempt's)."""
    key = sealed_facts(tools, recording).sealed["object_key"]
    local = _sealed_copy(tools, recording)
    size = await asyncio.to_thread(tools.store.put, key, local.get(key))
    # debug: "recording sealed" (info) has said the same a moment before
    log.debug("pipeline.uploaded", recording_id=recording.id, object_key=key, size=size)


async def verify(tools: Tools, recording: Recording) -> None:
    """Check the stored object's size and SHA-256 against what was sealed."""
    sealed = sealed_facts(tools, recording)
    await asyncio.to_thread(_verify_stored, tools.store, sealed)


def _sealed_copy(tools: Tools, recording: Recording) -> LocalStore:
    """Return the scratch store of the recording's sealed object before upload (not fsynced:
    a restart sweeps the workspace, and the upload is what must last)."""
    return LocalStore(tools.workspace.sealed_dir(recording.id), durable=False)


ENCRYPT = Step(JobStep.ENCRYPT, encrypt, needs=(PLAINTEXT,), makes=(SEALED,), saved=False)
UPLOAD = Step(JobStep.UPLOAD, upload, needs=(SEALED,), makes=(UPLOADED,), saved=False)
VERIFY = Step(JobStep.VERIFY, verify, needs=(UPLOADED,), makes=(VERIFIED,), saved=False)


# -- blocking work (run in a thread) ---------------------------------------------------------
def _seal(
    local: LocalStore, recipients: Sequence[KeyWrapper], recording_id: str, path: Path, key: str
) -> SealedFacts:
    plain = hashlib.sha256()
    with path.open("rb") as file:
        sealed = vault.seal(
            local, recipients, recording_id, _hashed(_chunks(file), plain), object_key=key
        )
    cipher = hashlib.sha256()
    for chunk in local.get(key):
        cipher.update(chunk)
    return SealedFacts(sealed.to_json(), plain.hexdigest(), cipher.hexdigest())


def _verify_stored(store: ObjectStore, sealed: SealedFacts) -> None:
    key, expected_size = sealed.sealed["object_key"], sealed.sealed["object_size"]
    size = store.head(key).size
    digest = hashlib.sha256()
    for chunk in store.get(key):
        digest.update(chunk)
    if size != expected_size or digest.hexdigest() != sealed.sha256_cipher:
        raise VerificationFailedError(f"stored object {key} differs from the sealed one")


def _chunks(file: Any) -> Iterator[bytes]:
    while chunk := file.read(_READ_SIZE):
        yield chunk


def _hashed(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
