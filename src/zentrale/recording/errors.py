"""Errors of recordings as stored and served: missing, not playable, a job's lease lost."""

from __future__ import annotations

from zentrale.base.errors import ConflictError, NotFoundError, ZentraleError


class RecordingNotFoundError(NotFoundError):
    """No recording with this id (or none the user may see: the same answer on purpose)."""

    code = "recording-not-found"

    def __init__(self, recording_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no recording with id {recording_id!r}")
        self.recording_id = recording_id


class RecordingUnavailableError(ConflictError):
    """The recording exists but its audio is not stored (yet), or cannot be decrypted."""

    code = "recording-unavailable"


class LeaseLostError(ZentraleError):
    """The worker no longer holds the job: its lease expired and the job was released."""

    code = "job-lease-lost"

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id!r} no longer holds job {job_id!r}")
        self.job_id = job_id
        self.worker_id = worker_id
