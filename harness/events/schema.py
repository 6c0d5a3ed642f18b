"""The event schema: one row per thing that happened. Durations are wall seconds; a report
divides by the run's time_scale to show AWS time."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = (
    "api_attempt",  # one HTTP attempt; outcome ok | throttled | error | exception
    "retry",  # a retry decided by the harness policy; duration = the backoff slept
    "limiter_wait",  # time an attempt waited in the shared rate limiter
    "quota_wait",  # time waited for a concurrency slot (e.g. a feature group Creating slot)
    "quota_hold",  # time a resource held a concurrency quota slot (create -> no longer in progress)
    "partial_state_detected",
    "partial_state_resolved",
    "partial_state_failed",
    "query",  # an Athena query from start to finish; outcome = its final state
    "contention",  # a write another writer beat (ConcurrentModificationException), read again and retried
    "arrival",  # the open model: a pipeline started; duration = how late against when it was due
    "lifecycle",  # a resource reached its state: detail.resource, duration = AWS's own timestamps apart
    "threshold_abort",  # an abort threshold failed (its expression in detail.check): the run stops
    "limiter_fallback",  # the shared limiter (Redis) was unreachable: this process went on with its own
    "worker_process",  # a worker process or Ray worker began its share of a level: detail.host, pid, node
    "stage_start",
    "stage_end",
    "pipeline_start",
    "pipeline_end",
    "worker_error",
    "cleanup",
    "cache_hit",
    "cache_miss",
    "level_start",
    "level_end",
    "run_end",
)

COLUMNS = (
    "run_id",
    "wall_time",
    "mono_time",
    "level",
    "worker",
    "pipeline",
    "stage",
    "kind",
    "service",
    "operation",
    "attempt",
    "outcome",
    "error_code",
    "duration",
    "detail",
)

SQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    wall_time REAL NOT NULL,
    mono_time REAL NOT NULL,
    level INTEGER,
    worker INTEGER,
    pipeline TEXT,
    stage TEXT,
    kind TEXT NOT NULL,
    service TEXT,
    operation TEXT,
    attempt INTEGER,
    outcome TEXT,
    error_code TEXT,
    duration REAL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, level);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class Event:
    kind: str
    run_id: str = ""
    wall_time: float = 0.0
    mono_time: float = 0.0
    level: int | None = None
    worker: int | None = None
    pipeline: str | None = None
    stage: str | None = None
    service: str | None = None
    operation: str | None = None
    attempt: int | None = None
    outcome: str | None = None
    error_code: str | None = None
    duration: float | None = None
    detail: dict = field(default_factory=dict)
