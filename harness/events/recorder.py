"""The durable recorder: one SQLite file (WAL) per run, one writer thread per process, batched.

`record()` only appends to an in-memory queue (the hot path); the writer commits whatever is
queued every `flush_interval` seconds, so a process killed with SIGKILL loses at most that much.
Several processes may each run a Recorder on the same file: SQLite serialises their commits.

A write that fails (the file locked past `busy_timeout`, a full disk) loses nothing: the batch
stays pending, ahead of newer rows, and is written on the next flush. If it still cannot be
written when the recorder closes, the rows go to a JSON-lines file beside the database
(`events.unwritten-<pid>.jsonl`), which `load_events` reads too.
"""

from __future__ import annotations

import atexit
import json
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from pathlib import Path
from collections.abc import Callable
from typing import Any, Protocol

from harness.events.context import current
from harness.events.schema import COLUMNS, SQL_SCHEMA, Event

_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
UNWRITTEN_GLOB = "events.unwritten-*.jsonl"


def connect(path: str | Path, patience: float = 30.0) -> sqlite3.Connection:
    """Open (and if need be create) a run's database. Several processes may do this at once;
    switching to WAL needs a moment alone with the file, so a locked file is retried."""
    deadline = time.monotonic() + patience
    while True:
        db = sqlite3.connect(str(path), timeout=patience, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SQL_SCHEMA)
            return db
        except sqlite3.OperationalError as err:
            db.close()
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def finalize(path: str | Path, patience: float = 30.0) -> None:
    """Close a finished run's database for good: checkpoint the write-ahead log into the file
    and leave WAL mode, so the run folder holds one self-contained `events.db` (no -wal, -shm).
    Call it once every writer has closed.

    Leaving WAL needs the file alone: while a reader has it open (the live view's feed, a
    report read mid-run) SQLite refuses at once with "database is locked", without waiting
    out the busy timeout, so that is retried here until `patience` runs out."""
    deadline = time.monotonic() + patience
    db = sqlite3.connect(str(path), timeout=patience)
    try:
        while True:
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                (mode,) = db.execute("PRAGMA journal_mode=DELETE").fetchone()
                if mode == "delete":
                    return
                err = sqlite3.OperationalError(f"journal mode stayed {mode}: database is locked")
            except sqlite3.OperationalError as locked:
                err = locked
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise err
            time.sleep(0.02)
    finally:
        db.close()


def write_rows(db: sqlite3.Connection, rows: list) -> None:
    """Commit event rows (tuples in COLUMNS order) all together, or none of them."""
    try:
        db.executemany(_INSERT, rows)
        db.commit()
    except sqlite3.Error:
        try:
            db.rollback()
        except sqlite3.Error:
            pass
        raise


class EventSink(Protocol):
    """What takes a run's events: a Recorder, or anything else with its `record`."""

    def record(self, kind: str, **fields: Any) -> None: ...


class Recorder:
    WRITE_ERRORS: tuple = (sqlite3.Error,)  # a failed write: its rows stay pending for the next flush

    def __init__(
        self,
        path: str | Path,
        run_id: str,
        flush_interval: float = 0.25,
        busy_timeout: float = 30.0,
        close_patience: float = 30.0,
    ):
        """busy_timeout: how long one write waits for a locked file before it counts as failed
        (and is retried on the next flush); close_patience: how long `close` keeps retrying."""
        self.path = Path(path)
        self._db = connect(self.path)
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        self._start(run_id, flush_interval, close_patience)

    def _start(self, run_id: str, flush_interval: float, close_patience: float) -> None:
        self.run_id, self.flush_interval, self.close_patience = run_id, flush_interval, close_patience
        # added to this host's time.monotonic(): a recorder on another host keeps the run's clock
        self.clock_offset = 0.0
        # each event's mono_time (wall seconds); on virtual time, the run's clock in wall units
        self.time_source: Callable[[], float] = time.monotonic
        self._queue: deque = deque()
        self._pending: list = []  # taken off the queue, not yet committed
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self.written = 0
        self.failed_writes = 0  # flushes that could not commit (their rows stayed pending)
        self.spilled = 0  # rows kept in a file because no write took them
        self.spill_path: Path | None = None  # the file they are in
        self.listeners: list = []  # callables(kind, outcome), e.g. live progress counters
        # callables(Event): each event whole, as it is recorded (e.g. live metrics, harness/events/otel.py)
        self.subscribers: list[Callable[[Event], None]] = []
        self._writer = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def record(
        self,
        kind: str,
        *,
        service: str | None = None,
        operation: str | None = None,
        attempt: int | None = None,
        outcome: str | None = None,
        error_code: str | None = None,
        duration: float | None = None,
        stage: str | None = None,
        **detail,
    ) -> None:
        """Append one event; worker, pipeline, stage and level come from the current context."""
        ctx = current()
        for listener in self.listeners:
            listener(kind, outcome)
        wall_time, mono_time = time.time(), self.time_source() + self.clock_offset
        stage = stage if stage is not None else ctx.stage
        where = (ctx.level, ctx.worker, ctx.pipeline, stage)
        call = (service, operation, attempt, outcome, error_code, duration)
        self._queue.append(
            (
                self.run_id,
                wall_time,
                mono_time,
                *where,
                kind,
                *call,
                json.dumps(detail, default=str) if detail else None,
            )
        )
        if self.subscribers:
            # the same fields as the row, in Event's order (mypy cannot place two unpacked tuples)
            event = Event(kind, self.run_id, wall_time, mono_time, *where, *call, detail)  # type: ignore[arg-type]
            for subscriber in self.subscribers:
                subscriber(event)

    def set_meta(self, **values) -> None:
        with self._flush_lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, default=str)) for k, v in values.items()],
            )
            self._db.commit()

    def flush(self) -> None:
        """Commit everything queued; on failure the rows stay pending and the error is raised."""
        with self._flush_lock:
            while self._queue:
                self._pending.append(self._queue.popleft())
            if not self._pending:
                return
            try:
                self._write(self._pending)
            except self.WRITE_ERRORS:
                self.failed_writes += 1
                raise
            self.written += len(self._pending)
            self._pending = []

    def _write(self, rows: list) -> None:
        """Commit rows, or raise one of WRITE_ERRORS having committed none of them."""
        write_rows(self._db, rows)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except self.WRITE_ERRORS:  # locked or full: the rows stay pending for the next flush
                pass

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if threading.current_thread() is not self._writer:
            self._writer.join(5)
        deadline = time.monotonic() + self.close_patience
        while True:
            try:
                self.flush()
                break
            except self.WRITE_ERRORS as err:
                if time.monotonic() >= deadline:
                    self._spill(err)
                    break
                time.sleep(min(0.5, self.flush_interval))
        self._close_sink()
        atexit.unregister(self.close)

    def _close_sink(self) -> None:
        self._db.close()

    def _spill(self, err: Exception) -> None:
        """The database would not take the last rows: keep them beside it, never drop them."""
        with self._flush_lock:
            rows, self._pending = self._pending + list(self._queue), []
            self._queue.clear()
        spill = self._spill_dir() / f"events.unwritten-{os.getpid()}.jsonl"
        self.spilled, self.spill_path = self.spilled + len(rows), spill
        with spill.open("a") as out:
            for row in rows:
                out.write(json.dumps(dict(zip(COLUMNS, row, strict=False))) + "\n")
        print(
            f"events: {len(rows)} events could not be written to {self._destination()} ({err}); kept in {spill}",
            file=sys.stderr,
        )

    def _spill_dir(self) -> Path:
        return self.path.parent  # beside the database: load_events reads it there

    def _destination(self) -> str:
        return str(self.path)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
