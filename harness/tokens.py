"""A thread-safe token bucket: the one rate mechanism shared by the simulator and the limiter."""

from __future__ import annotations

import threading
import time
from typing import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.capacity = float(burst)
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> bool:
        """Take one token if there is one now (the simulator's admit-or-throttle check)."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def reserve(self) -> float:
        """Take one token, borrowing against the future; return how long to wait before using it.

        Borrowing makes waiters queue in arrival order instead of racing for each new token.
        """
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            if self._tokens >= 0 or self.rate <= 0:
                return 0.0 if self._tokens >= 0 else float("inf")
            return -self._tokens / self.rate

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._refill(self._clock())
            self.rate = float(rate)
