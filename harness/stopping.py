"""Stopping a run: every wait in the harness ends soon after the run is told to stop.

A runner sets a stop signal (a `threading.Event`, or a `multiprocessing.Event` in worker
processes) and runs code under it with `stop_on(signal)`. Inside that block every harness wait
(clock sleeps, limiter reservations, concurrency-slot waits, retry backoff) returns early
by raising `Stopped`, and no new AWS call starts. The scope is per thread (a context variable),
so a pipeline's stages can stop on Ctrl-C while its teardown runs under a later signal (the
end of the grace period).

    with stop_on(run.stop):
        stage.run()            # raises Stopped soon after run.stop is set

A read that blocks where no wait of ours can see the signal (the account guard's STS call to an
endpoint that does not answer) runs under `until_stopped`, which hands its caller Stopped at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")


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


def until_stopped(call: Callable[[], T], signal: StopSignal | None, poll_seconds: float = 0.05) -> T:
    """What `call()` returns, or Stopped as soon as `signal` is set, even while it blocks where
    no wait of ours can see the signal (a socket that does not answer). It runs in a thread of
    its own, in the caller's context under `signal`: once stopped it makes no new attempt and
    its backoff ends, and it is left to end on its own (a daemon thread). Only for calls that
    make nothing (reads): one left running may still finish after the caller has moved on."""
    if signal is None:
        return call()
    results: list[T] = []
    errors: list[BaseException] = []
    context = contextvars.copy_context()

    def under_signal() -> None:
        with stop_on(signal):
            results.append(call())

    def body() -> None:
        try:
            context.run(under_signal)
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            errors.append(err)

    thread = threading.Thread(target=body, name="until-stopped", daemon=True)
    thread.start()
    while True:
        thread.join(poll_seconds)  # returns as soon as the call does
        if not thread.is_alive():
            break
        if signal.is_set():
            raise Stopped("the run is stopping")
    if errors:
        raise errors[0]
    return results[0]
