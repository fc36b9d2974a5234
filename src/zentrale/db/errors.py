"""Errors of the persistence layer, each with a stable `code` the HTTP edge can translate."""

from __future__ import annotations


class DatabaseError(Exception):
    """Base of the errors the stores raise on purpose."""

    code = "database-error"


class CallNotFound(DatabaseError):
    """No call has this id."""

    code = "call-not-found"

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call with id {call_id!r}")
        self.call_id = call_id


class RecordingNotFound(DatabaseError):
    """No recording has this id."""

    code = "recording-not-found"

    def __init__(self, recording_id: str) -> None:
        super().__init__(f"no recording with id {recording_id!r}")
        self.recording_id = recording_id


class LeaseLost(DatabaseError):
    """The worker no longer holds the job: its lease expired and the job was released."""

    code = "job-lease-lost"

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id!r} no longer holds job {job_id!r}")
        self.job_id = job_id
        self.worker_id = worker_id
