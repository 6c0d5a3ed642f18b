"""Events from a host that cannot write the run folder (a Ray worker on another machine).

The worker's `ForwardingRecorder` queues rows as any recorder does and hands each batch to a
`send` callable that returns once the batch is committed in the run's events.db (an
`EventSink` on the runner's host, behind a Ray actor). A batch that cannot be sent stays pending,
ahead of newer rows, and is sent again; one still unsent when the recorder closes is kept in a
JSON-lines file on the worker's host, and the warning names it.

Hosts' monotonic clocks do not agree, and reports measure time by `mono_time`: the recorder
adds the offset between its host's clock and the sink's, measured once by a round trip (as NTP
does), so every row is on the runner's clock to within half that round trip.
"""
from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Callable

from harness.events.recorder import Recorder, connect, write_rows


class EventSink:
    """The run folder's end: commits batches of rows into events.db, all of a batch or none."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0):
        self.path = Path(path)
        self._db = connect(self.path)
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        self.written = 0

    def write(self, rows: list) -> int:
        write_rows(self._db, rows)
        self.written += len(rows)
        return len(rows)

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    def close(self) -> None:
        self._db.close()


def clock_offset(remote_monotonic: Callable[[], float], tries: int = 3) -> float:
    """What to add to this host's time.monotonic() to read the remote clock: from the round trip
    with the shortest time, the remote reading taken as halfway through it."""
    best = None
    for _ in range(tries):
        before = time.monotonic()
        remote = remote_monotonic()
        after = time.monotonic()
        if best is None or after - before < best[0]:
            best = (after - before, remote - (before + after) / 2)
    return best[1]


class ForwardingRecorder(Recorder):
    # anything a send can raise (a lost connection, a dead actor, the sink's own database error)
    WRITE_ERRORS = (Exception,)

    def __init__(self, send: Callable[[list], object], run_id: str, clock_offset: float = 0.0,
                 flush_interval: float = 0.25, close_patience: float = 30.0, spill_dir: str | Path | None = None):
        self._send = send
        self._spill_to = Path(spill_dir or tempfile.gettempdir())
        self._start(run_id, flush_interval, close_patience)
        self.clock_offset = clock_offset

    def _write(self, rows: list) -> None:
        self._send(rows)

    def set_meta(self, **values) -> None:
        raise NotImplementedError("a forwarding recorder records events; the runner keeps the run's meta")

    def _close_sink(self) -> None:
        pass

    def _spill_dir(self) -> Path:
        return self._spill_to

    def _destination(self) -> str:
        return f"the run folder (from {socket.gethostname()})"


__all__ = ["EventSink", "ForwardingRecorder", "clock_offset"]
