"""CachedMeta: opt-in caching for dashboards, where answering fast beats answering fresh.

A TTL per method (AWS seconds, on the run's clock: at time scale 1/30 a 30-second TTL lasts one
wall second), and single-flight: concurrent identical calls make one AWS call and share its
answer. Every hit and miss is a recorded event. Pipelines never use this.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from harness.clock import Clock
from harness.meta.base import Meta

DEFAULT_TTL = {"data_sources": 30.0, "feature_sets": 30.0, "models": 30.0, "endpoints": 15.0, "training_jobs": 15.0}
CACHED = set(DEFAULT_TTL) | {"data_source", "feature_set", "model", "endpoint"}


class CachedMeta(Meta):
    platform = "cached"

    def __init__(
        self,
        inner: Meta,
        ttl: dict[str, float] | None = None,
        default_ttl: float = 15.0,
        recorder=None,
        clock: Clock | None = None,
    ):
        """clock: the run's clock (default: the clock of the inner Meta's context, else the wall)."""
        self.inner, self.ttl = inner, {**DEFAULT_TTL, **(ttl or {})}
        inner_ctx = getattr(inner, "ctx", None)
        self.clock = clock or getattr(inner_ctx, "clock", None) or Clock()
        self.default_ttl, self.recorder = default_ttl, recorder
        self._entries: dict[tuple, tuple[float, object]] = {}
        self._flights: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def _record(self, kind: str, method: str) -> None:
        if self.recorder is not None:
            self.recorder.record(kind, operation=method)

    def _cached(self, method: str, *args, **kwargs):
        key = (method, args, tuple(sorted(kwargs.items())))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and self.clock.now() < entry[0]:
                self._record("cache_hit", method)
                return entry[1]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            self._record("cache_hit", method)  # shared the in-flight call's answer
            self.clock.wait_until(flight.done)  # on the run's clock: virtual time sees the wait
            return flight.result()
        self._record("cache_miss", method)
        try:
            value = getattr(self.inner, method)(*args, **kwargs)
        except BaseException as err:
            with self._lock:
                del self._flights[key]
            flight.set_exception(err)
            raise
        with self._lock:
            self._entries[key] = (self.clock.now() + self.ttl.get(method, self.default_ttl), value)
            del self._flights[key]
        flight.set_result(value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()

    def __getattribute__(self, name: str):
        if name in CACHED:
            return lambda *args, **kwargs: self._cached(name, *args, **kwargs)
        return super().__getattribute__(name)
