"""The simulator's own counters, served at /_sim/stats, so a report can tell whether the
simulator itself was the bottleneck (requests in flight, time queued for moto)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

# crashes: moto (or the simulator) failed on a request; answered as AWS's InternalFailure.
# lacking: neither the simulator nor moto has the operation; answered 501 NotImplemented.
OUTCOMES = ("requests", "throttled", "faults", "timeouts", "limited", "errors", "crashes", "lacking")


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.operations: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
        self.in_flight = 0
        self.max_in_flight = 0
        self.queue_waits = 0
        self.queue_seconds = 0.0
        self.queue_max_seconds = 0.0
        self.events: dict[str, int] = defaultdict(int)  # lifecycle transitions and the like

    def count(self, key: str, outcome: str) -> None:
        with self._lock:
            self.operations[key][outcome] += 1

    def note(self, event: str) -> None:
        with self._lock:
            self.events[event] += 1

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def queued(self, seconds: float) -> None:
        with self._lock:
            self.queue_waits += 1
            self.queue_seconds += seconds
            self.queue_max_seconds = max(self.queue_max_seconds, seconds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            uptime = time.monotonic() - self.started
            total = sum(op["requests"] for op in self.operations.values())
            return {
                "uptime_seconds": uptime,
                "requests": total,
                "requests_per_second": total / uptime if uptime > 0 else 0.0,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "queue": {
                    "waits": self.queue_waits,
                    "total_seconds": self.queue_seconds,
                    "mean_seconds": self.queue_seconds / self.queue_waits if self.queue_waits else 0.0,
                    "max_seconds": self.queue_max_seconds,
                },
                "operations": {k: dict(v) for k, v in sorted(self.operations.items())},
                "events": dict(self.events),
            }
