"""Stopping a run: every wait in the harness ends soon after the run is told to stop.

A runner sets a stop signal (a `threading.Event`, or a `multiprocessing.Event` in worker
processes) and runs code under it with `stop_on(signal)`. Inside that block every harness wait
(clock sleeps, limiter reservations, concurrency-slot waits, retry backoff) returns early
by raising `Stopped`, and no new AWS call starts. The scope is per thread (a context variable),
so a pipeline's stages can stop on Ctrl-C while its teardown runs under a later signal (the
end of the grace period).

    with stop_on(run.stop):
        stage.run()            # raises Stopped soon after run.stop is set
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from typing import Protocol


class StopSignal(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Stopped(Exception):
    """A wait or a call ended early because the run is stopping."""


_scope: ContextVar[StopSignal | None] = ContextVar("harness_stop_scope", default=None)


@contextlib.contextmanager
def stop_on(signal: StopSignal | None):
    """Within the block, waits end with Stopped once `signal` is set (None: they never do)."""
    token = _scope.set(signal)
    try:
        yield
    finally:
        _scope.reset(token)


def current_signal() -> StopSignal | None:
    return _scope.get()


def stopping() -> bool:
    signal = _scope.get()
    return signal is not None and signal.is_set()


def check(what: str = "the run is stopping") -> None:
    """Raise Stopped if this thread's stop signal is set."""
    if stopping():
        raise Stopped(what)


def sleep(wall_seconds: float) -> None:
    """time.sleep that ends at once, with Stopped, when this thread's stop signal is set."""
    signal = _scope.get()
    if signal is None:
        if wall_seconds > 0:
            time.sleep(wall_seconds)
        return
    if signal.is_set() or signal.wait(max(0.0, wall_seconds)):
        raise Stopped("the run is stopping")
