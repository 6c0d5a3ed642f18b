"""The run's clock: time in AWS seconds, mapped to the wall by the run's time scale.

Everything the harness waits for (poll intervals, deadlines, backoff, TTLs) is written in AWS
seconds. On the simulator at `time_scale = 1/60` one AWS minute takes one wall second; on AWS
the scale is 1. Sleeps end early, with `harness.stopping.Stopped`, when the run stops.

`ManualClock` is the clock for tests: time moves only when someone sleeps on it or the test
advances it, so a timing claim ("fails at the 300-second deadline") is checked exactly,
whatever else the machine is doing.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from harness import stopping

# A wait that another thread may cut short looks at the run's stop signal this often (wall).
STOP_CHECK_SECONDS = 0.25


class Clock:
    virtual = False  # True: time moves only when every worker waits (harness.virtual_time)

    def __init__(self, time_scale: float = 1.0):
        if not time_scale > 0:
            raise ValueError(f"time_scale {time_scale!r}: expected a number > 0")
        self.time_scale = float(time_scale)

    def now(self) -> float:
        """AWS seconds since an arbitrary origin; never goes back."""
        return time.monotonic() / self.time_scale

    def wall(self, aws_seconds: float) -> float:
        return aws_seconds * self.time_scale

    def aws(self, wall_seconds: float) -> float:
        return wall_seconds / self.time_scale

    def sleep(self, aws_seconds: float) -> None:
        """Sleep this many AWS seconds; Stopped if the run stops meanwhile."""
        self.sleep_wall(self.wall(aws_seconds))

    def sleep_wall(self, wall_seconds: float) -> None:
        """Every sleep of the run comes here (a subclass can watch them)."""
        stopping.sleep(wall_seconds)

    def sleep_or_wake(self, wake: Callable[[float], bool], aws_seconds: float) -> None:
        """Sleep this many AWS seconds, or less if `wake(wall_timeout)` (which blocks up to its
        timeout) says what we wait for has changed. Stopped if the run stops meanwhile."""
        end = time.monotonic() + self.wall(aws_seconds)
        while True:
            stopping.check()
            left = end - time.monotonic()
            if left <= 0 or wake(min(left, STOP_CHECK_SECONDS)):
                return

    def wait_until(self, ready: Callable[[], bool], aws_timeout: float | None = None) -> bool:
        """Until `ready()` (another thread makes it so), at most `aws_timeout`; Stopped if the
        run stops meanwhile. True if it became ready."""
        end = None if aws_timeout is None else time.monotonic() + self.wall(aws_timeout)
        while not ready():
            stopping.check()
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(0.005)
        return True

    def changed(self) -> None:
        """Something a waiter may wait for changed (a virtual clock looks again; the wall needs not)."""

    def interrupt(self) -> None:
        """The run's stop or abort signal was set (a virtual clock wakes its waiters to look)."""

    # --- requests on the wire: a virtual clock orders them (harness.virtual_time) -----------------
    def new_series(self) -> None:
        """The simulator was reset: number requests from 0 again."""

    def request_sent(self) -> str | None:
        """A request goes on the wire; its place in the simulator's order, or None (unordered)."""
        return None

    def answer_received(self) -> None:
        """Its answer is in: back to the run (on a virtual clock, in this worker's turn)."""

    # --- the run's threads: a virtual clock schedules them; on the wall they are plain threads ---
    def thread(self, target: Callable[..., Any], args: Iterable[Any] = (), name: str | None = None) -> threading.Thread:
        return threading.Thread(target=target, args=tuple(args), name=name, daemon=True)

    def gather(self, tasks: list[Callable[[], None]], workers: int, name: str = "task") -> None:
        """Run tasks on up to `workers` threads at once, each in the caller's context (its
        events' pipeline and stage, its stop signal); after the first failure no new task
        starts, and it is raised once the running ones end."""
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        try:
            for done in [pool.submit(contextvars.copy_context().run, task) for task in tasks]:
                done.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class ManualClock(Clock):
    """Time that moves only when a caller sleeps (by exactly that much) or `advance` is called."""

    def __init__(self, time_scale: float = 1.0, start: float = 0.0):
        super().__init__(time_scale)
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []  # every sleep, in AWS seconds, in order

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, aws_seconds: float) -> None:
        with self._lock:
            self._now += aws_seconds

    def sleep(self, aws_seconds: float) -> None:
        stopping.check()
        with self._lock:
            self.slept.append(aws_seconds)
            self._now += max(0.0, aws_seconds)

    def sleep_wall(self, wall_seconds: float) -> None:
        self.sleep(self.aws(wall_seconds))

    def sleep_or_wake(self, wake: Callable[[float], bool], aws_seconds: float) -> None:
        self.sleep(aws_seconds)  # nothing else moves in manual time while this caller waits
