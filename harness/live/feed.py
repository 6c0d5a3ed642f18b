"""The live view's feed: the run's events read back from its events.db as they are committed.

Every recorder of a run (the runner's, worker processes', Ray workers' through their sink)
commits into the one events.db, so reading it sees them all, and the run does nothing for the
view. Each read takes only the rows after the last one read (ids grow with every commit: SQLite
lets one writer commit at a time), on a read-only connection closed at once: a connection left
open would keep the run from finalising its database at its end (harness/events/recorder.py,
`finalize`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
from pathlib import Path

from harness.live.state import KINDS, LiveEvent, LiveState

BATCH = 20_000  # rows per read, so a read holds the database only briefly however far behind it is
_SELECT = (
    "SELECT id, wall_time, mono_time, level, kind, service, operation, outcome, duration,"
    " CASE WHEN kind IN ('level_start', 'run_end') THEN detail END"
    f" FROM events WHERE id > ? AND kind IN ({', '.join('?' * len(KINDS))}) ORDER BY id LIMIT {BATCH}"
)


class EventFeed:
    def __init__(self, events_db: str | Path, state: LiveState, interval: float = 0.5) -> None:
        self.path, self.state, self.interval = Path(events_db), state, interval
        self.last_id = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-view-feed", daemon=True)
        self._warned = False

    def start(self) -> EventFeed:
        self._thread.start()
        return self

    def poll(self) -> int:
        """Read what was committed since the last read into the state; how many events."""
        if not self.path.exists():
            return 0  # the run has not made its folder yet
        read = 0
        while True:
            rows = self._read()
            self.state.observe(LiveEvent(*row[1:]) for row in rows)
            read += len(rows)
            if rows:
                self.last_id = rows[-1][0]
            if len(rows) < BATCH:
                return read

    def _read(self) -> list[tuple]:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1.0, check_same_thread=False)
        with contextlib.closing(db):
            try:
                return db.execute(_SELECT, (self.last_id, *KINDS)).fetchall()
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):
                    return []  # the recorder has opened the file, not yet written its schema
                raise

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll_quietly()

    def _poll_quietly(self) -> None:
        """A busy or locked database is read next time; the run never hears of it."""
        try:
            self.poll()
        except (sqlite3.Error, OSError) as err:
            if not self._warned:
                self._warned = True
                print(f"live view: could not read {self.path} ({err}); trying again", file=sys.stderr)

    def stop(self) -> None:
        """No more reads after this one, which takes the run's last events (run_end)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._poll_quietly()
