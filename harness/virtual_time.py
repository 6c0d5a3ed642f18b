"""Virtual time: AWS time that moves only when every worker of the run waits.

On the simulator a run can measure the account without measuring the machine. Its workers
(threads) take turns, one at a time, in a fixed order: the order they were made in, then the
order their waits end in. When every one of them waits, asleep on the clock or parked until
something it waits for changes (a concurrency slot freed), AWS time jumps to the earliest
wake-up. Nothing moves it while a worker computes or while the simulator serves a request; the
simulator reads each request's instant from a header (`harness.timing.NOW_HEADER`), so its
lifecycles, quotas and offline-store rows move with this clock and with nothing else. The
latency a profile injects is a wait here, not a sleep there. Same scenario, same seed: the same
calls in the same order, so the same outcomes and AWS-time figures on any machine, under any load.

The anchors are trio's `MockClock(autojump_threshold=0)`, where time jumps as soon as every task
is blocked, and discrete-event simulators such as SimPy, whose processes take turns on a heap of
events.

Threads take part as *actors*: `clock.thread(target)` makes one, and it joins the line at once
(in its maker's order, not the operating system's). What an actor waits for must be a wait on
this clock (`sleep`, `sleep_or_wake`, `wait_until`): a wall wait while it has the turn stops the
whole run. `time.sleep` in an actor is caught while a virtual run is on (`watch_wall_sleeps`),
counted in `wall_sleeps` and slept here instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import secrets
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harness import stopping
from harness.clock import Clock


MIN_SLEEP_SECONDS = 1e-6  # AWS seconds: the shortest time a positive sleep moves the clock


class VirtualTimeStuck(RuntimeError):
    """Every actor waits for something no actor will do: the run cannot go on."""


class _Actor:
    __slots__ = ("name", "turn", "timer", "until", "interrupted", "stuck", "in_flight")

    def __init__(self, name: str) -> None:
        self.name = name
        self.turn = threading.Event()  # set when this actor may run
        self.timer = -1  # the sequence number of its live timer; -1: none
        self.until: Callable[[], bool] | None = None  # parked: what it waits for
        self.interrupted = False
        self.stuck = False
        self.in_flight = False


_here = threading.local()  # .actor, .clock: this thread's actor of a virtual clock, if any


class VirtualClock(Clock):
    virtual = True

    def __init__(self, time_scale: float = 1.0, start: float = 0.0) -> None:
        super().__init__(time_scale)
        self._now = float(start)
        self._lock = threading.Lock()
        self._ready: deque[_Actor] = deque()
        self._timers: list[tuple[float, int, _Actor]] = []
        self._parked: dict[_Actor, None] = {}  # in the order they parked
        self._holder: _Actor | None = None
        self._actors = 0  # made and not yet finished
        self._changed = False
        self._sequence = itertools.count()
        self._series, self._places = secrets.token_hex(4), itertools.count()
        self.turns = 0  # how often the turn passed
        self.jumps = 0  # how often time moved
        self.wall_sleeps: list[str] = []  # where an actor called time.sleep (first lines of each)

    # --- time --------------------------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def sleep(self, aws_seconds: float) -> None:
        stopping.check()
        actor = self._mine()
        if actor is None:
            self._outside(lambda: self.sleep(aws_seconds))
            return
        if aws_seconds > 0:
            # at least a microsecond: a sleep below the float's precision would not move time at
            # all, and a caller that waits for time to pass (a token bucket refilling) would
            # sleep again at the same instant for ever
            self._wait(actor, self._now + max(aws_seconds, MIN_SLEEP_SECONDS), None)

    def sleep_wall(self, wall_seconds: float) -> None:
        self.sleep(self.aws(wall_seconds))

    def sleep_or_wake(self, wake: Callable[[float], bool], aws_seconds: float) -> None:
        """`wake(0)` must answer at once: it is asked whenever something may have changed."""
        stopping.check()
        actor = self._mine()
        if actor is None:
            self._outside(lambda: self.sleep_or_wake(wake, aws_seconds))
            return
        self._wait(actor, self._now + max(0.0, aws_seconds), lambda: wake(0.0))

    def wait_until(self, ready: Callable[[], bool], aws_timeout: float | None = None) -> bool:
        stopping.check()
        if ready():
            return True
        actor = self._mine()
        if actor is None:
            return self._outside(lambda: self.wait_until(ready, aws_timeout))
        self._wait(actor, None if aws_timeout is None else self._now + aws_timeout, ready)
        return ready()

    def changed(self) -> None:
        """Something a parked actor may wait for changed: look again before time moves on.
        Lock-free, so a store may call it under its own lock."""
        self._changed = True

    def interrupt(self) -> None:
        """The run's stop or abort signal was set: every waiting actor looks at its own signal
        (in its turn, in line), and goes on waiting if that is not the one set."""
        with self._lock:
            waiting = list(self._parked)
            waiting += [a for _, timer, a in sorted(self._timers) if a.timer == timer and a not in self._parked]
            for actor in waiting:
                actor.interrupted = True
                self._ready_up(actor)
            if self._holder is None:
                self._pass()

    # --- actors ------------------------------------------------------------------------------
    def thread(self, target: Callable[..., Any], args: Iterable[Any] = (), name: str | None = None) -> threading.Thread:
        """A thread that runs `target` as an actor. It joins the line now, in the caller's turn;
        until started it keeps its place (the line waits for it)."""
        actor = _Actor(name or "actor")
        context = contextvars.copy_context()
        with self._lock:
            self._actors += 1
            self._ready.append(actor)
            if self._holder is None:
                self._pass()

        def run() -> None:
            _here.actor, _here.clock = actor, self
            actor.turn.wait()
            actor.turn.clear()
            try:
                context.run(target, *args)
            finally:
                _here.actor = _here.clock = None
                with self._lock:
                    self._actors -= 1
                    self._changed = True  # someone may wait for this one to finish
                    self._holder = None
                    self._pass()

        return threading.Thread(target=run, name=name, daemon=True)

    def gather(self, tasks: list[Callable[[], None]], workers: int, name: str = "task") -> None:
        """Run tasks on up to `workers` actors at once, in order; after the first failure no new
        task starts, and it is raised once the running ones end."""
        pending, failures = deque(tasks), list[BaseException]()
        finished = [0]

        def work() -> None:
            try:
                while pending and not failures:
                    task = pending.popleft()
                    try:
                        task()
                    except BaseException as err:  # noqa: BLE001 - raised in the caller
                        failures.append(err)
            finally:
                finished[0] += 1

        count = max(1, min(workers, len(tasks)))
        for thread in [self.thread(work, name=f"{name}-{i}") for i in range(count)]:
            thread.start()
        self.wait_until(lambda: finished[0] == count)
        if failures:
            raise failures[0]

    # --- requests on the wire ----------------------------------------------------------------------
    def new_series(self) -> None:
        """Number requests from 0 again, in a new series (the simulator was reset)."""
        with self._lock:
            self._series, self._places = secrets.token_hex(4), itertools.count()

    def request_sent(self) -> str | None:
        """The turn holder's request goes on the wire: it takes the next place in the order the
        simulator handles requests in (returned, for the request's ORDER_HEADER) and lets the
        next worker run meanwhile; it rejoins the line at the back, and when its turn comes it
        waits for its answer (`answer_received`). So the simulator serves one request while the
        harness prepares the next, and the order of everything is still fixed. None outside
        the actors: such a request is not ordered."""
        actor = self._mine()
        if actor is None:
            return None
        with self._lock:
            place = f"{self._series}:{next(self._places)}"
            actor.in_flight = True
            self._ready.append(actor)
            self._holder = None
            self._pass()
        return place

    def answer_received(self) -> None:
        """After `request_sent`: until this worker's turn comes again."""
        actor = self._mine()
        if actor is None or not actor.in_flight:
            return
        actor.turn.wait()
        actor.turn.clear()
        actor.in_flight = False

    # --- the turn ------------------------------------------------------------------------------
    def _mine(self) -> _Actor | None:
        return getattr(_here, "actor", None) if getattr(_here, "clock", None) is self else None

    def _wait(self, actor: _Actor, wake_at: float | None, until: Callable[[], bool] | None) -> None:
        while True:
            with self._lock:
                actor.interrupted = actor.stuck = False
                actor.until = until
                if wake_at is not None:
                    actor.timer = next(self._sequence)
                    heapq.heappush(self._timers, (wake_at, actor.timer, actor))
                if until is not None:
                    self._parked[actor] = None
                self._holder = None
                self._pass()
            actor.turn.wait()
            actor.turn.clear()
            if actor.stuck:
                raise VirtualTimeStuck(
                    "virtual time: every worker waits for something no worker will do "
                    f"(this one, {actor.name}, waits for {getattr(until, '__qualname__', 'a change')})"
                )
            stopping.check()
            if not actor.interrupted:
                return
            if (wake_at is not None and self._now >= wake_at) or (until is not None and until()):
                return

    def _ready_up(self, actor: _Actor) -> None:
        """Under the lock: out of the timers and the parked, into the line."""
        actor.timer = -1
        self._parked.pop(actor, None)
        self._ready.append(actor)

    def _pass(self) -> None:
        """Under the lock, nobody holding the turn: give it to the next in line; if nobody is in
        line, move time to the earliest wake-up."""
        if self._changed:
            self._changed = False
            for woken in [a for a in self._parked if a.until is not None and a.until()]:
                self._ready_up(woken)
        actor: _Actor | None = None
        if self._ready:
            actor = self._ready.popleft()
        else:
            while self._timers:
                at, timer, candidate = heapq.heappop(self._timers)
                if candidate.timer != timer:
                    continue  # woken otherwise meanwhile
                if at > self._now:
                    self._now = at
                    self.jumps += 1
                candidate.timer = -1
                self._parked.pop(candidate, None)
                actor = candidate
                break
        if actor is None:
            if self._parked:  # nobody runs, nothing is due: nothing will ever change
                for stuck in list(self._parked):
                    stuck.stuck = True
                    self._ready_up(stuck)
                actor = self._ready.popleft()
            else:
                return  # nobody left: idle until an actor is made
        self._holder = actor
        self.turns += 1
        actor.turn.set()

    def _outside(self, wait: Callable[[], Any]) -> Any:
        """A wait from a thread that is not an actor (the level's setup, its cleanup): the
        thread's wait joins the line as an actor of its own, and the thread waits for it. With
        no other actor, time moves by the wait at once, as a manual clock's would."""
        results: list[Any] = []
        errors: list[BaseException] = []

        def body() -> None:
            try:
                results.append(wait())
            except BaseException as err:  # noqa: BLE001 - raised in the caller
                errors.append(err)

        waiter = self.thread(body, name=threading.current_thread().name + "-waits")
        waiter.start()
        waiter.join()
        if errors:
            raise errors[0]
        return results[0] if results else None


# --- time.sleep inside actors -----------------------------------------------------------------------
_real_sleep = time.sleep
_watching = 0
_watch_lock = threading.Lock()


def _sleep(seconds: float) -> None:  # time.sleep while watched
    clock: VirtualClock | None = getattr(_here, "clock", None)
    if clock is None or getattr(_here, "actor", None) is None or seconds <= 0:
        _real_sleep(seconds)
        return
    where = "".join(traceback.format_stack(limit=4)[:-1]).strip()
    clock.wall_sleeps.append(where)
    clock.sleep_wall(seconds)


@contextlib.contextmanager
def watch_wall_sleeps() -> Iterator[None]:
    """While a virtual run is on: `time.sleep` in an actor thread is counted on its clock and
    slept on it (other threads sleep on the wall as ever)."""
    global _watching
    with _watch_lock:
        _watching += 1
        if _watching == 1:
            time.sleep = _sleep  # type: ignore[assignment]  # the same call, watched
    try:
        yield
    finally:
        with _watch_lock:
            _watching -= 1
            if _watching == 0:
                time.sleep = _real_sleep
