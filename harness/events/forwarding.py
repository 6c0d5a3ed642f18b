"""Events from a host that cannot write the run folder (a Ray worker on another machine).

The worker's `ForwardingRecorder` queues rows as any recorder does and hands each batch to a
`send` callable that returns once the batch is committed in the run's events.db (an
`EventSink` on the runner's host, behind a Ray actor). A batch that cannot be sent stays pending,
ahead of newer rows, and is sent again; one still unsent when the recorder closes is kept in a
JSON-lines file on the worker's host, and the warning names it.

A send that timed out may still be committed later (the sink was only slow), and the rows are
then sent again with newer ones. So each batch says which of the recorder's rows it starts at,
and the sink skips the ones it has already committed from that recorder: every row is written
once.

Hosts' monotonic clocks do not agree, and reports measure time by `mono_time`: the recorder
adds the offset between its host's clock and the sink's, measured once by a round trip (as NTP
does), so every row is on the runner's clock to within half that round trip.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from harness.events.recorder import Recorder, connect, write_rows


class EventSink:
    """The run folder's end: commits batches of rows into events.db, all of a batch or none,
    each row once. Thread-safe."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0):
        self.path = Path(path)
        self._db = connect(self.path)
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        self._lock = threading.Lock()
        self._committed: dict[str, int] = {}  # sender -> rows of it committed so far
        self.written = 0

    def write(self, sender: str, first: int, rows: list) -> int:
        """rows: the sender's rows from its `first` (0-based) on. Returns how many were new."""
        with self._lock:
            new = rows[max(0, self._committed.get(sender, 0) - first) :]
            if new:
                write_rows(self._db, new)
            self._committed[sender] = max(self._committed.get(sender, 0), first + len(rows))
            self.written += len(new)
            return len(new)

    def close(self) -> None:
        self._db.close()


def clock_offset(
    remote_monotonic: Callable[[], float], tries: int = 3, local_monotonic: Callable[[], float] = time.monotonic
) -> float:
    """What to add to this host's monotonic clock to read the remote one: from the round trip
    with the shortest time, the remote reading taken as halfway through it."""
    best: tuple[float, float] | None = None  # (round trip, offset)
    for _ in range(tries):
        before = local_monotonic()
        remote = remote_monotonic()
        after = local_monotonic()
        if best is None or after - before < best[0]:
            best = (after - before, remote - (before + after) / 2)
    if best is None:
        raise ValueError(f"tries={tries}: the offset takes at least one round trip")
    return best[1]


class ForwardingRecorder(Recorder):
    # anything a send can raise (a lost connection, a dead actor, the sink's own database error)
    WRITE_ERRORS = (Exception,)

    def __init__(
        self,
        send: Callable[[str, int, list], object],
        run_id: str,
        clock_offset: float = 0.0,
        flush_interval: float = 0.25,
        close_patience: float = 30.0,
        spill_dir: str | Path | None = None,
    ):
        """send(sender, first, rows): returns once the sink has committed them (EventSink.write)."""
        self._send, self.sender = send, uuid.uuid4().hex
        self._spill_to = Path(spill_dir or tempfile.gettempdir())
        self._start(run_id, flush_interval, close_patience)
        self.clock_offset = clock_offset

    def _write(self, rows: list) -> None:
        self._send(self.sender, self.written, rows)  # pending rows always follow the committed ones

    def set_meta(self, **values) -> None:
        raise NotImplementedError("a forwarding recorder records events; the runner keeps the run's meta")

    def _close_sink(self) -> None:
        pass

    def _spill_dir(self) -> Path:
        return self._spill_to

    def _destination(self) -> str:
        return f"the run folder (from {socket.gethostname()})"


__all__ = ["EventSink", "ForwardingRecorder", "clock_offset"]
