"""The order a virtual-time client's requests are handled in: the order it sent them.

On virtual time (harness.virtual_time) a worker does not hold the run's turn while its request
is on the wire: the next worker runs meanwhile, and may send its own. Each request carries its
place (`harness.timing.ORDER_HEADER`, "<series>:<n>"), and here request n of a series waits
until n-1 has been handled, so the simulator's state, quotas and random draws see the same
sequence on every run, whichever connection's thread the operating system wakes first.

A place that never arrives (the client failed before sending) would hold up the rest: after
GAP_SECONDS the lowest waiting place goes, and the gap is counted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

GAP_SECONDS = 2.0  # wall


class RequestOrder:
    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._series: str | None = None
        self._next = 0
        self._waiting: set[int] = set()
        self.gaps = 0

    @contextlib.contextmanager
    def place(self, header: str | None) -> Iterator[None]:
        """Hold the request until its place comes (no header: at once); the next place comes
        when it is handled."""
        if not header:
            yield
            return
        series, _, number = header.rpartition(":")
        try:
            n = int(number)
        except ValueError:
            yield
            return
        with self._turn:
            if series != self._series:  # a new series (a new run or level): it starts at 0
                self._series, self._next, self._waiting = series, 0, set()
            self._waiting.add(n)
            deadline = time.monotonic() + GAP_SECONDS
            while n > self._next:
                left = deadline - time.monotonic()
                if left <= 0 and n == min(self._waiting):
                    self.gaps += 1
                    self._next = n
                    break
                self._turn.wait(max(0.01, left))
            self._waiting.discard(n)
        try:
            yield
        finally:
            with self._turn:
                if series == self._series and n >= self._next:
                    self._next = n + 1
                self._turn.notify_all()
