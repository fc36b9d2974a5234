"""Persistence of calls, recordings and the recording pipeline's queue (SQLAlchemy + Alembic).

The bootstrap opens one `Database` (SQLite by default, PostgreSQL at scale), awaits
`migrate.upgrade_engine(db.engine)`, and hands the stores to the call flows and the pipeline.
"""

from zentrale.db.calls import CallStore, CallUpdate, Hangup, NewCall
from zentrale.db.engine import DEFAULT_URL, create_engine, resolve_url, safe_url
from zentrale.db.errors import CallNotFound, DatabaseError, LeaseLost, RecordingNotFound
from zentrale.db.jobs import Backlog, Job, JobQueue
from zentrale.db.models import (
    Direction,
    EventKind,
    JobState,
    JobStep,
    Outcome,
    RecordingState,
)
from zentrale.db.recordings import (
    FinishedRecording,
    Queued,
    RecordingQuery,
    RecordingStore,
    StoredRecording,
    WrappedKey,
)
from zentrale.db.session import Database

__all__ = [
    "DEFAULT_URL",
    "Backlog",
    "CallNotFound",
    "CallStore",
    "CallUpdate",
    "Database",
    "DatabaseError",
    "Direction",
    "EventKind",
    "FinishedRecording",
    "Hangup",
    "Job",
    "JobQueue",
    "JobState",
    "JobStep",
    "LeaseLost",
    "NewCall",
    "Outcome",
    "Queued",
    "RecordingNotFound",
    "RecordingQuery",
    "RecordingState",
    "RecordingStore",
    "StoredRecording",
    "WrappedKey",
    "create_engine",
    "resolve_url",
    "safe_url",
]
