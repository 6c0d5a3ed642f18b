"""The quota-aware limiter shared by every worker of a process.

Rate quotas: one token bucket per (service, operation) sized from the quota table at the run's
time scale. It adapts: a throttle answer halves that bucket's rate and remembers the rate it happened at;
successes give the rate back quickly up to just below that ceiling, then probe slowly, never
above the table's rate, so a table that is too generous still converges.
Concurrency quotas: permits held while a resource is in progress (a feature group Creating);
a permit says when others wait for it, so its holder can look more often.

Callers talk to `Limiter`; state lives in a `LimiterBackend`, so a backend shared across
processes or hosts (e.g. Redis) can replace `LocalBackend` without touching callers.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from harness import stopping
from harness.clock import Clock
from harness.quotas import QuotaTable
from harness.tokens import TokenBucket

DECREASE = 0.5  # multiplicative cut on a throttle
RECOVER = 0.02  # share of the table rate given back per success, up to just below the ceiling
PROBE = 0.002  # above that, the rate creeps up by this share per success (the quota may have grown)
NEAR = 0.9  # fast recovery stops at this share of the rate that was last throttled
FLOOR = 0.001  # never below this share of the table rate
# The limiter spends only half of the account's burst: the other half stays in AWS's bucket as
# slack for jitter between when we let a call go and when AWS counts it.
BURST_SHARE = 0.5
# A bucket of one token (CreateTrainingJob: 1 per second, burst 1) has no token to spare, so
# the slack is kept in time instead: calls are spaced this many wall seconds more than the
# rate asks. Thread wake-up and the network move a call by a few milliseconds (measured here:
# two calls paced 16.7 ms apart at time scale 1/60 reached the simulator 7.6 ms apart).
JITTER_SECONDS = 0.02
# A permit wait looks at the run's stop signal this often (wall seconds): the backend's wait may
# be in another process (a manager proxy), where the signal cannot reach it.
PERMIT_SLICE = 0.25


class LimiterBackend(Protocol):
    def reserve(self, key: str, rate: float, burst: float) -> float:
        """Take a token for `key`; return wall seconds to wait before using it."""

    def adjust(self, key: str, throttled: bool, max_rate: float) -> float:
        """Feed back an answer; return the bucket's new rate."""

    def acquire(self, key: str, limit: int, timeout: float | None) -> bool:
        """Take one of `limit` permits for `key`, waiting up to `timeout` seconds."""

    def release(self, key: str) -> None: ...

    def waiters(self, key: str) -> int:
        """How many callers are waiting for one of `key`'s permits."""


class LocalBackend:
    """In-process state: buckets and permits shared by every thread of this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._permits: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._ceilings: dict[str, list] = {}
        self._lock = threading.Lock()
        self._permit_freed = threading.Condition(self._lock)

    def _bucket(self, key: str, rate: float, burst: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                bucket = self._buckets.setdefault(key, TokenBucket(rate, burst, self._clock))
        return bucket

    def reserve(self, key: str, rate: float, burst: float) -> float:
        return self._bucket(key, rate, burst).reserve()

    def adjust(self, key: str, throttled: bool, max_rate: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return max_rate
        # The rate of the first throttle in a run of throttles is where the real quota is (the
        # ones after it were already in flight); remembering it keeps recovery from overshooting
        # again and again when the table is far too generous.
        state = self._ceilings.setdefault(key, [None, False])  # [ceiling, last answer throttled]
        if throttled:
            if not state[1]:
                state[0] = bucket.rate
            new = max(max_rate * FLOOR, bucket.rate * DECREASE)
        else:
            target = max_rate if state[0] is None else min(max_rate, NEAR * state[0])
            if bucket.rate < target:
                new = min(target, bucket.rate + max_rate * RECOVER)
            else:
                new = min(max_rate, bucket.rate * (1 + PROBE))
        state[1] = throttled
        if new != bucket.rate:
            bucket.set_rate(new)
        return new

    def acquire(self, key: str, limit: int, timeout: float | None) -> bool:
        deadline = None if timeout is None else self._clock() + timeout
        with self._permit_freed:
            self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                while self._permits.get(key, 0) >= limit:
                    remaining = None if deadline is None else deadline - self._clock()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._permit_freed.wait(remaining)
                self._permits[key] = self._permits.get(key, 0) + 1
                return True
            finally:
                self._waiting[key] -= 1

    def release(self, key: str) -> None:
        with self._permit_freed:
            self._permits[key] = max(0, self._permits.get(key, 0) - 1)
            self._permit_freed.notify()

    def waiters(self, key: str) -> int:
        return self._waiting.get(key, 0)

    def rate(self, key: str) -> float | None:
        bucket = self._buckets.get(key)
        return None if bucket is None else bucket.rate


@dataclass
class Permit:
    limiter: "Limiter"
    key: str
    waited: float
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.backend.release(self.key)

    def contended(self) -> bool:
        """Someone is waiting for this slot: the holder should notice it is done soon."""
        return not self.released and self.limiter.backend.waiters(self.key) > 0

    def __enter__(self) -> "Permit":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Limiter:
    def __init__(self, table: QuotaTable, time_scale: float = 1.0,
                 backend: LimiterBackend | None = None, clock: Clock | None = None):
        self.table = table.scaled(time_scale)
        self.backend = backend or LocalBackend()
        self.clock = clock or Clock(time_scale)

    def pace(self, service: str, operation: str) -> tuple[float, float] | None:
        """The (rate, burst) this limiter lets calls go at, in wall time; None when unlimited."""
        quota = self.table.lookup(service, operation)
        if quota is None or quota.rate is None:
            return None
        burst = quota.bucket_size * BURST_SHARE
        if burst >= 1.0:
            return quota.rate, burst
        return quota.rate / (1.0 + JITTER_SECONDS * quota.rate), 1.0

    def wait(self, service: str, operation: str) -> float:
        """Block until this call may go; return the wall seconds waited."""
        pace = self.pace(service, operation)
        if pace is None:
            return 0.0
        delay = self.backend.reserve(f"{service}.{operation}", *pace)
        if delay > 0:
            self.clock.sleep_wall(delay)  # Stopped if the run stops meanwhile
        return delay

    def feedback(self, service: str, operation: str, throttled: bool) -> None:
        pace = self.pace(service, operation)
        if pace is not None:
            self.backend.adjust(f"{service}.{operation}", throttled, pace[0])

    def permit(self, service: str, operation: str, timeout: float | None = None) -> Permit | None:
        """A concurrency permit for a create call whose quota has a concurrency limit, held
        until released (when the resource leaves its in-progress state). None when the call has
        no such quota; TimeoutError when none frees up within `timeout` wall seconds."""
        quota = self.table.lookup(service, operation)
        if quota is None or quota.concurrency is None:
            return None
        key = f"permit:{service}.{operation}"
        start = time.monotonic()
        while True:
            stopping.check("the run is stopping: no more waiting for a concurrency permit")
            remaining = None if timeout is None else timeout - (time.monotonic() - start)
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"no {service}.{operation} concurrency permit (limit "
                                   f"{quota.concurrency}) freed up within {timeout:.1f}s")
            wait = PERMIT_SLICE if remaining is None else min(PERMIT_SLICE, remaining)
            if self.backend.acquire(key, quota.concurrency, wait):
                return Permit(self, key, time.monotonic() - start)
