"""The quota-aware limiter every worker of a run shares. Callers talk to `Limiter`; its state
lives in a store (`stores.py`), so workers in other processes can share it too.

- `wait(service, operation, deadline)`: until this call may go under the key's rate quota, in
  arrival order and at the rate in force *now*: a waiter is never committed to a wait computed
  from a rate that has since changed. Returns a `Grant` saying when it went.
- `feedback(service, operation, throttled, sent_at)`: AWS's answer to a granted call; the rate
  adapts (`adaptation.py`).
- `slot(service, operation, timeout)`: a concurrency slot (e.g. a feature group Creating), as
  a lease the limiter renews in the background until the holder releases it, or for the
  slot's life at most.

Times and rates are AWS time on the run's clock; every wait ends with `Stopped` when the run
stops, and none goes past the call's deadline.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.aws.limiter.adaptation import Pace
from harness.aws.limiter.stores import Answer, LimiterStore, LocalStore
from harness.aws.limiter.slots import Lease
from harness.clock import Clock
from harness.quotas import QuotaTable

log = logging.getLogger(__name__)

# The limiter spends only half of the account's burst: the other half stays in AWS's bucket as
# slack for jitter between when we let a call go and when AWS counts it.
BURST_SHARE = 0.5
# A bucket of one token (CreateTrainingJob: 1 per second, burst 1) has no token to spare, so
# the slack is kept in time instead: calls are spaced this many AWS seconds more than the rate
# asks (2% of a 1/s quota).
JITTER_SECONDS = 0.02
LEASE_SECONDS = 600.0  # AWS seconds a slot lasts unless renewed (the holder renews every third)
# AWS seconds a slot is renewed for at most: a holder that never releases it (a teardown that
# failed) gives its slot back then, not when its process ends. Twice the longest hold the default
# deadlines allow, so a holder that still works is not cut short: an endpoint's, about three
# hours (an hour of ResourceLimitExceeded on its create, half an hour to InService, the Athena
# queries of the last stage and the teardown before its turn, a quarter of an hour deleting).
SLOT_LIFE_SECONDS = 6 * 3600.0
# Where the store cannot wake a waiter (another process's), the waiter looks again this often.
UNNOTIFIED_POLL_SECONDS = 5.0


class LimiterTimeout(TimeoutError):
    """No token or slot came within the call's deadline."""


@dataclass(frozen=True)
class Grant:
    key: str
    at: float  # AWS time (the store's) the call was let go: its send time, for feedback
    waited: float  # AWS seconds


class Slot:
    """A concurrency slot held as a lease. `release()` when the resource leaves its in-progress
    state; meanwhile the limiter renews it, until `ends` at the latest. `contended()`: others are
    waiting for the slot."""

    def __init__(self, limiter: "Limiter", lease: Lease, waited: float):
        self.limiter, self.lease, self.waited = limiter, lease, waited
        self.key = lease.key
        self.ends = limiter.clock.now() + limiter.slot_life  # AWS time (the limiter's clock)
        self.released = False
        self.lost = False  # the slot is gone: a renewal found the lease had run out, or the life ended

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter._forget(self)
            self.limiter.store.release(self.lease)

    def renew(self) -> bool:
        if self.released or self.lost:
            return False
        left = self.ends - self.limiter.clock.now()
        if left <= 0:  # the last renewal made the lease end now: the slot is back
            self.lost = True
            log.warning(
                "a %s slot was never released: its slot went back after %.0f AWS seconds",
                self.key,
                self.limiter.slot_life,
            )
            return False
        renewed = self.limiter.store.renew(self.lease, min(self.limiter.lease_seconds, left))
        if renewed is None:
            self.lost = True
            return False
        self.lease = renewed
        return True

    def contended(self) -> bool:
        """Someone is waiting for this slot: the holder should notice it is done soon."""
        return not self.released and self.limiter.store.waiters(self.key) > 0

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Limiter:
    def __init__(
        self,
        table: QuotaTable,
        time_scale: float = 1.0,
        store: LimiterStore | None = None,
        clock: Clock | None = None,
        lease_seconds: float = LEASE_SECONDS,
        slot_life: float = SLOT_LIFE_SECONDS,
    ) -> None:
        self.table = table
        self.clock = clock or Clock(time_scale)
        self.store = store if store is not None else LocalStore(self.clock)
        if self.clock.virtual and isinstance(self.store, LocalStore):
            # leases guard against a holder's process dying; on virtual time every holder is a
            # thread of this process, and wall-time renewal could not keep up with the clock
            lease_seconds = slot_life = math.inf
        self.lease_seconds, self.slot_life = lease_seconds, slot_life
        self._paces: dict[tuple[str, str], Pace | None] = {}
        self._held: dict[str, Slot] = {}
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        # only in-process stores have it (LocalStore.wait_for_change)
        self._wake: Callable[[str, int, float], bool] | None = getattr(self.store, "wait_for_change", None)

    # --- rates -----------------------------------------------------------------------------------
    def pace(self, service: str, operation: str) -> Pace | None:
        """The (rate, bucket, ceiling) this limiter starts a key from, AWS time; None: unlimited."""
        key = (service, operation)
        if key not in self._paces:
            quota = self.table.lookup(service, operation)
            pace = None
            if quota is not None and quota.rate is not None:
                burst = quota.bucket_size * BURST_SHARE
                if burst >= 1.0:
                    pace = Pace(quota.rate, burst, quota.rate_is_ceiling)
                else:
                    pace = Pace(quota.rate / (1.0 + JITTER_SECONDS * quota.rate), 1.0, quota.rate_is_ceiling)
            self._paces[key] = pace
        return self._paces[key]

    def wait(self, service: str, operation: str, deadline: float | None = None) -> Grant | None:
        """Block until this call may go; None when no rate quota limits it. `deadline`: AWS time
        (this limiter's clock) by which the call must have gone, else LimiterTimeout."""
        pace = self.pace(service, operation)
        if pace is None:
            return None
        key = f"{service}.{operation}"
        start, ticket = self.clock.now(), None
        try:
            while True:
                answer = self.store.ask_token(key, ticket, pace)
                if answer.ticket is None:
                    return Grant(key, answer.at, self.clock.now() - start)
                ticket = answer.ticket
                self._pause(key, answer, deadline, f"a {service}.{operation} token")
        except BaseException:
            if ticket is not None:
                self.store.leave(key, ticket)
            raise

    def feedback(self, service: str, operation: str, throttled: bool, sent_at: float | None = None) -> None:
        """AWS answered a call this limiter let go at `sent_at` (its Grant.at)."""
        if self.pace(service, operation) is not None:
            self.store.feedback(f"{service}.{operation}", self.store.now() if sent_at is None else sent_at, throttled)

    # --- slots ---------------------------------------------------------------------------------
    def slot(self, service: str, operation: str, timeout: float | None = None) -> Slot | None:
        """A concurrency slot for a create call whose quota has a concurrency limit, held until
        released. None when the call has no such quota; LimiterTimeout when no slot comes within
        `timeout` AWS seconds."""
        quota = self.table.lookup(service, operation)
        if quota is None or quota.concurrency is None:
            return None
        key = f"slot:{service}.{operation}"
        start, ticket = self.clock.now(), None
        deadline = None if timeout is None else start + timeout
        try:
            while True:
                answer = self.store.ask_slot(key, ticket, quota.concurrency, self.lease_seconds)
                if answer.lease is not None:
                    slot = Slot(self, answer.lease, self.clock.now() - start)
                    self._hold(slot)
                    return slot
                ticket = answer.ticket
                self._pause(
                    key, answer, deadline, f"a {service}.{operation} concurrency slot (limit {quota.concurrency})"
                )
        except BaseException:
            if ticket is not None:
                self.store.leave(key, ticket)
            raise

    # --- waiting ---------------------------------------------------------------------------------
    def _pause(self, key: str, answer: Answer, deadline: float | None, what: str) -> None:
        """Wait as told, at most until the deadline; an in-process store wakes us early when
        what we wait for changes (a slot freed, the rate raised)."""
        wait = answer.wait
        if deadline is not None:
            left = deadline - self.clock.now()
            if left <= 0:
                raise LimiterTimeout(f"no {what.removeprefix('a ')} came within the call's deadline")
            wait = min(wait, left)
        wake = self._wake
        if wake is None:
            self.clock.sleep(min(wait, UNNOTIFIED_POLL_SECONDS))
        else:
            self.clock.sleep_or_wake(lambda wall: wake(key, answer.version, wall), wait)

    # --- lease renewal ---------------------------------------------------------------------------
    def _hold(self, slot: Slot) -> None:
        if math.isinf(self.lease_seconds):
            return  # nothing to renew
        with self._held_lock:
            self._held[slot.lease.token] = slot
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew_forever, name="slot-renewer", daemon=True)
                self._renewer.start()

    def _forget(self, slot: Slot) -> None:
        with self._held_lock:
            self._held.pop(slot.lease.token, None)

    def _renew_forever(self) -> None:
        """Renew held leases every third of their length (in wall time: this is about the process
        being alive, and a dead process stops renewing), each until its slot's life ends."""
        interval = max(0.05, self.clock.wall(self.lease_seconds / 3))
        while True:
            time.sleep(interval)
            with self._held_lock:
                held = list(self._held.values())
            for slot in held:
                try:
                    if not slot.renew():
                        self._forget(slot)  # lost or past its life: nothing left to renew
                except Exception:  # noqa: BLE001 - a store blip: the next round tries again
                    pass
