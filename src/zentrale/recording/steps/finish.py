"""The steps after the object is verified: `commit` the row, `delete_source`, `cleanup`.

Asterisk's copy is deleted only once the stored object is verified and committed.
"""

from __future__ import annotations

import structlog

from zentrale.recording import vault
from zentrale.recording.models import JobStep, Recording
from zentrale.recording.steps.base import Step, Tools, source_names
from zentrale.recording.steps.products import (
    ANALYSIS,
    COMMITTED,
    VERIFIED,
    AudioFacts,
    SealedFacts,
    audio_facts,
    sealed_facts,
)
from zentrale.recording.store import StoredRecording, WrappedKey

log = structlog.get_logger(__name__)


async def commit(tools: Tools, recording: Recording) -> None:
    """Write the stored object's metadata and wrapped keys into the recording row."""
    facts = audio_facts(tools, recording)
    stored = _stored(tools, sealed_facts(tools, recording), facts)
    await tools.recordings.mark_stored(recording.id, stored)
    if facts.corrupt:
        await tools.recordings.mark_corrupt(recording.id)
    for observe in tools.on_stored:
        observe(recording)
    log.info(
        "pipeline.stored",
        recording_id=recording.id,
        silent=facts.silent,
        corrupt=facts.corrupt,
        duration_s=facts.duration_s,
    )


async def delete_source(tools: Tools, recording: Recording) -> None:
    """Delete Asterisk's copy (only reached once the object is verified and committed)."""
    if not tools.config.delete_source:
        return
    for name in source_names(recording):
        await tools.source.delete(name)


async def cleanup(tools: Tools, recording: Recording) -> None:
    """Remove the recording's temporary files."""
    tools.workspace.remove(recording.id)


COMMIT = Step(JobStep.COMMIT, commit, needs=(VERIFIED, ANALYSIS), makes=(COMMITTED,), saved=False)
DELETE_SOURCE = Step(JobStep.DELETE_SOURCE, delete_source, saved=False)
CLEANUP = Step(JobStep.CLEANUP, cleanup, saved=False)


def _stored(tools: Tools, sealed: SealedFacts, facts: AudioFacts) -> StoredRecording:
    row = vault.SealedRecording.from_json(sealed.sealed)
    keys = [
        WrappedKey(k["key_id"], k["provider"], k["wrapped"]) for k in sealed.sealed["wrapped_keys"]
    ]
    header = {"format_version": row.format_version, "segment_size": row.segment_size}
    return StoredRecording(
        plaintext_size=row.plaintext_size,
        object_size=row.object_size,
        sha256_plain=sealed.sha256_plain,
        sha256_cipher=sealed.sha256_cipher,
        storage_backend=tools.config.storage_backend,
        object_key=row.object_key,
        wrapped_keys=keys,
        encryption_header=header,
        stored_at=tools.clock(),
        duration_s=facts.duration_s,
        waveform=facts.waveform() or None,
        silent=facts.silent,
        format=facts.format,
    )
