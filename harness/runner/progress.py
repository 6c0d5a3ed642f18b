"""Live progress: one overwritten line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import TextIO


class Progress:
    def __init__(self, out: TextIO | None = None, interval: float | None = None) -> None:
        self.out = out if out is not None else sys.stderr
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.interval = interval or (1.0 if self.tty else 10.0)
        self.counts: Counter[str] = Counter()
        self.level: int | None = None
        self.label = ""
        self.total = 0
        self.starts_for: float | None = None  # duration mode: wall seconds new pipelines start for
        self.level_started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Fed by the recorder for every event (a hot path: keep it to a counter bump).
    def observe(self, kind: str, outcome: str | None) -> None:
        if kind == "api_attempt" and outcome == "throttled":
            self.counts["throttled"] += 1
        elif kind.startswith("partial_state"):
            self.counts[kind] += 1

    def set_counts(self, counts: Mapping[str, int]) -> None:
        """Counters read back whole (from worker processes' events): they replace, not add."""
        with self._lock:
            for key, value in counts.items():
                self.counts[key] = value

    def pipeline_started(self) -> None:
        with self._lock:
            self.counts["running"] += 1

    def pipeline_ended(self, ok: bool) -> None:
        with self._lock:
            self.counts["running"] -= 1
            self.counts["done" if ok else "failed"] += 1

    def start_level(self, level: int, total: int, starts_for: float | None = None, label: str | None = None) -> None:
        with self._lock:
            self.level, self.total, self.starts_for = level, total, starts_for
            self.label = label or f"N={level}"
            self.counts = Counter()
            self.level_started = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def end_level(self) -> None:
        """Quiet until the next level: cleanup and the report are not the level's progress."""
        with self._lock:
            self.level = None

    def line(self) -> str:
        c = self.counts
        elapsed = time.monotonic() - self.level_started
        finished = c["done"] + c["failed"]
        if self.starts_for is not None:  # a duration: no count to extrapolate, a clock instead
            left = self.starts_for - elapsed
            eta = f"new pipelines for {left:.0f}s more" if left > 0 else "in-flight pipelines finishing"
        else:
            eta = f"eta {elapsed / finished * (self.total - finished):.0f}s" if finished and self.total else "eta ?"
        return (
            f"{self.label}: {c['done']} done, {c['running']} running, {c['failed']} failed"
            f"{f' of {self.total}' if self.total else ''} | throttled {c['throttled']} | partial state "
            f"{c['partial_state_detected']} seen, {c['partial_state_failed']} failed | "
            f"{elapsed:.0f}s elapsed, {eta}"
        )

    def say(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K")
        self.out.write(text + "\n")
        self.out.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.level is None:
                continue
            if self.tty:
                self.out.write("\r\x1b[2K" + self.line())
            else:
                self.out.write(self.line() + "\n")
            self.out.flush()

    def close(self) -> None:
        self._stop.set()
        if self.tty:
            self.out.write("\n")
