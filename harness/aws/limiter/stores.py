"""Where the limiter's state lives: per key, a token queue, its adaptive rate, and a slot queue.

Every operation is short and atomic and never blocks: callers wait on their own clock and ask
again (see `Limiter`). So one interface serves threads in a process (`LocalStore`), worker
processes through a manager proxy (`limiter.shared`), and later a server shared by hosts.
Times are AWS seconds on the store's clock.

An in-process store can also wake its waiters when something they wait for changes (a
slot released, a rate raised): `wait_for_change`. Backends that cannot simply lack it, and
their waiters look again after a poll interval.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from harness.aws.limiter.adaptation import AdaptiveRate, Pace
from harness.aws.limiter.pacing import TokenQueue
from harness.aws.limiter.slots import Lease, SlotQueue
from harness.clock import Clock

STALE_WALL_SECONDS = 5.0  # a waiter silent this long (wall) past its due time has gone
# A slot waiter looks again this often (AWS seconds) where nothing wakes it sooner. Slots free
# when resources finish, minutes apart; an in-process waiter is woken at once anyway.
SLOT_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    """A store's answer to a waiter: `ticket` None and `wait` 0 means go (for a slot,
    `lease` is set); else ask again with `ticket` after `wait` AWS seconds at the latest.
    `version` lets an in-process waiter sleep until something changes."""

    ticket: str | None
    wait: float
    version: int = 0
    lease: Lease | None = None
    at: float = 0.0  # AWS time of the answer (the grant time, when it is one)


class LimiterStore(Protocol):
    def ask_token(self, key: str, ticket: str | None, pace: Pace) -> Answer: ...

    def leave(self, key: str, ticket: str) -> None:
        """Give up a place in line (for a token or a slot)."""

    def feedback(self, key: str, sent_at: float, throttled: bool) -> float:
        """AWS's answer to a call granted at `sent_at`; returns the key's rate now."""

    def ask_slot(self, key: str, ticket: str | None, limit: int, lease_seconds: float) -> Answer: ...

    def release(self, lease: Lease) -> None: ...

    def renew(self, lease: Lease, lease_seconds: float) -> Lease | None:
        """The lease extended, or None if it had run out (its slot may be taken)."""

    def waiters(self, key: str) -> int:
        """How many callers are waiting for one of `key`'s slots."""

    def now(self) -> float: ...


@dataclass
class _Key:
    lock: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0
    tokens: TokenQueue | None = None
    rate: AdaptiveRate | None = None
    slots: SlotQueue | None = None


class LocalStore:
    """State shared by every thread of this process."""

    def __init__(self, clock: Clock | None = None):
        self.clock = clock or Clock()
        self._keys: dict[str, _Key] = {}
        self._lock = threading.Lock()

    def _key(self, key: str) -> _Key:
        state = self._keys.get(key)
        if state is None:
            with self._lock:
                state = self._keys.setdefault(key, _Key())
        return state

    def now(self) -> float:
        return self.clock.now()

    def _stale(self) -> float:
        return self.clock.aws(STALE_WALL_SECONDS)

    def _changed(self, state: _Key) -> None:
        state.version += 1
        state.lock.notify_all()
        self.clock.changed()  # on virtual time, its waiters are parked on the clock

    # --- rates ---------------------------------------------------------------------------------
    def _begin(self, state: _Key, pace: Pace, now: float) -> TokenQueue:
        """The key's token queue, begun (with its adaptive rate) unless it was already."""
        if state.tokens is None:
            state.rate = AdaptiveRate(pace, now)
            state.tokens = TokenQueue(pace.rate, pace.capacity, now, window=1.0)
        return state.tokens

    def begin(self, key: str, pace: Pace) -> None:
        """Pace `key` from `pace` unless it is paced already. Feedback on a key nobody has asked a
        token of here is dropped; a fallback from Redis begins the keys whose calls Redis let go,
        so that their answers still count."""
        state = self._key(key)
        with state.lock:
            self._begin(state, pace, self.clock.now())

    def ask_token(self, key: str, ticket: str | None, pace: Pace) -> Answer:
        state = self._key(key)
        with state.lock:
            now = self.clock.now()
            ticket, wait = self._begin(state, pace, now).ask(ticket, now, self._stale())
            return Answer(ticket, wait, state.version, at=now)

    def feedback(self, key: str, sent_at: float, throttled: bool) -> float:
        state = self._key(key)
        with state.lock:
            rate, tokens = state.rate, state.tokens  # begun together (see _begin)
            if rate is None or tokens is None:
                return 0.0
            now, before = self.clock.now(), rate.rate
            cut = False
            if throttled:
                cut = rate.on_throttle(sent_at, now, tokens.send_rate(now))
            else:
                rate.on_success(sent_at, now, tokens.limiting(now))
            if rate.rate != before or cut:
                tokens.set_rate(rate.rate, rate.capacity(), now, drain=cut)
                if rate.rate > before * 1.1:
                    self._changed(state)  # waiters may go sooner than they were told
            return rate.rate

    def rate(self, key: str) -> float | None:
        state = self._keys.get(key)
        return None if state is None or state.rate is None else state.rate.rate

    def adaptation(self, key: str) -> AdaptiveRate | None:
        state = self._keys.get(key)
        return None if state is None else state.rate

    # --- slots -------------------------------------------------------------------------------
    def ask_slot(self, key: str, ticket: str | None, limit: int, lease_seconds: float) -> Answer:
        state = self._key(key)
        with state.lock:
            if state.slots is None:
                state.slots = SlotQueue(key)
            now = self.clock.now()
            ticket, lease = state.slots.ask(ticket, limit, lease_seconds, now, SLOT_POLL_SECONDS + self._stale())
            if lease is not None:
                self._changed(state)  # the ones behind moved up
                return Answer(None, 0.0, state.version, lease, now)
            return Answer(ticket, SLOT_POLL_SECONDS, state.version, at=now)

    def adopt(self, lease: Lease, lease_seconds: float) -> None:
        """Count a slot this process holds from a shared store it can no longer reach: its
        holder renews and releases it here from now on."""
        state = self._key(lease.key)
        with state.lock:
            if state.slots is None:
                state.slots = SlotQueue(lease.key)
            state.slots.adopt(lease.token, self.clock.now() + lease_seconds)

    def release(self, lease: Lease) -> None:
        state = self._key(lease.key)
        with state.lock:
            if state.slots is not None and state.slots.release(lease.token):
                self._changed(state)

    def renew(self, lease: Lease, lease_seconds: float) -> Lease | None:
        state = self._key(lease.key)
        with state.lock:
            if state.slots is None:
                return None
            return state.slots.renew(lease.token, lease_seconds, self.clock.now())

    def waiters(self, key: str) -> int:
        state = self._keys.get(key)
        if state is None or state.slots is None:
            return 0
        with state.lock:
            return state.slots.waiting()

    def held(self, key: str) -> int:
        state = self._keys.get(key)
        if state is None or state.slots is None:
            return 0
        with state.lock:
            return state.slots.held(self.clock.now())

    # --- both ----------------------------------------------------------------------------------
    def leave(self, key: str, ticket: str) -> None:
        state = self._key(key)
        with state.lock:
            for queue in (state.tokens, state.slots):
                if queue is not None:
                    queue.leave(ticket)
            self._changed(state)

    def wait_for_change(self, key: str, version: int, wall_timeout: float) -> bool:
        """Block until `key` changes from `version` (True) or the timeout passes (False)."""
        state = self._key(key)
        with state.lock:
            return state.lock.wait_for(lambda: state.version != version, wall_timeout)
