"""The durable recorder: one SQLite file (WAL) per run, one writer thread per process, batched.

`record()` only appends to an in-memory queue (the hot path); the writer commits whatever is
queued every `flush_interval` seconds, so a process killed with SIGKILL loses at most that much.
Several processes may each run a Recorder on the same file: SQLite serialises their commits.
"""
from __future__ import annotations

import atexit
import json
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path

from harness.events.context import current
from harness.events.schema import COLUMNS, SQL_SCHEMA

_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


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


class Recorder:
    def __init__(self, path: str | Path, run_id: str, flush_interval: float = 0.25):
        self.path, self.run_id, self.flush_interval = Path(path), run_id, flush_interval
        self._db = connect(self.path)
        self._queue: deque = deque()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self.written = 0
        self.listeners: list = []  # callables(kind, outcome), e.g. live progress counters
        self._writer = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def record(self, kind: str, *, service: str | None = None, operation: str | None = None,
               attempt: int | None = None, outcome: str | None = None, error_code: str | None = None,
               duration: float | None = None, stage: str | None = None, **detail) -> None:
        """Append one event; worker, pipeline, stage and level come from the current context."""
        ctx = current()
        for listener in self.listeners:
            listener(kind, outcome)
        self._queue.append((self.run_id, time.time(), time.monotonic(), ctx.level, ctx.worker,
                            ctx.pipeline, stage if stage is not None else ctx.stage, kind, service,
                            operation, attempt, outcome, error_code, duration,
                            json.dumps(detail, default=str) if detail else None))

    def set_meta(self, **values) -> None:
        with self._flush_lock:
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 [(k, json.dumps(v, default=str)) for k, v in values.items()])
            self._db.commit()

    def flush(self) -> None:
        with self._flush_lock:
            rows = []
            while self._queue:
                rows.append(self._queue.popleft())
            if rows:
                self._db.executemany(_INSERT, rows)
                self._db.commit()
                self.written += len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except sqlite3.Error:  # a locked or full disk: keep the rows queued and try again
                time.sleep(self.flush_interval)

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if threading.current_thread() is not self._writer:
            self._writer.join(5)
        self.flush()
        self._db.close()
        atexit.unregister(self.close)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
