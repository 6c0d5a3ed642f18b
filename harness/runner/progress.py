"""Live progress: one overwritten line on a terminal, plain periodic lines otherwise.

A level with a count of pipelines (N workers, each `iterations` pipelines one after another) ends
about when its last worker, started last in the ramp-up, has run its pipelines: that is the ETA.
Until a pipeline of the level has ended, a pipeline's length is the plan's (`harness plan`'s dry
run), and the line says so: "eta ~12m (plan)"; then it is the mean of the level's own: "eta 9m".
Without the plan the line says "eta ?" until then; where the lengths are not known here (worker
processes report counts only), the ETA is extrapolated from the count of pipelines finished.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class LevelShape:
    """What a counted level's ETA is worked out from, in wall seconds."""

    last_start: float  # when the last worker starts, in the ramp-up
    iterations: int  # pipelines each worker runs, one after another
    planned_pipeline: float | None = None  # one pipeline's length by the plan, if there is one

    def ends_after(self, pipeline_seconds: float) -> float:
        return self.last_start + self.iterations * pipeline_seconds


def span(seconds: float) -> str:
    """45s, 12m, 2h05m."""
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours}h{rest:02d}m"


class Progress:
    def __init__(
        self, out: TextIO | None = None, interval: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out if out is not None else sys.stderr
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.interval = interval or (1.0 if self.tty else 10.0)
        self.clock = clock  # the machine's seconds (a test gives its own)
        self.counts: Counter[str] = Counter()
        self.level: int | None = None
        self.label = ""
        self.total = 0
        self.starts_for: float | None = None  # duration mode: wall seconds new pipelines start for
        self.shape: LevelShape | None = None
        self.ok_seconds: list[float] = []  # wall lengths of the level's completed pipelines
        self.level_started = clock()
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

    def pipeline_ended(self, ok: bool, seconds: float | None = None) -> None:
        """seconds: how long the pipeline took on the machine's clock, where it is known."""
        with self._lock:
            self.counts["running"] -= 1
            self.counts["done" if ok else "failed"] += 1
            if ok and seconds is not None:
                self.ok_seconds.append(seconds)

    def start_level(
        self,
        level: int,
        total: int,
        starts_for: float | None = None,
        label: str | None = None,
        shape: LevelShape | None = None,
    ) -> None:
        with self._lock:
            self.level, self.total, self.starts_for, self.shape = level, total, starts_for, shape
            self.label = label or f"N={level}"
            self.counts = Counter()
            self.ok_seconds = []
            self.level_started = self.clock()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def end_level(self) -> None:
        """Quiet until the next level: cleanup and the report are not the level's progress."""
        with self._lock:
            self.level = None

    def eta(self, elapsed: float) -> str:
        """For a counted level (see the module's docstring)."""
        finished = self.counts["done"] + self.counts["failed"]
        shape = self.shape
        if shape is not None and self.ok_seconds:
            left = shape.ends_after(sum(self.ok_seconds) / len(self.ok_seconds)) - elapsed
            if left > 0:
                return f"eta {span(left)}"
        if finished and self.total:
            return f"eta {span(elapsed / finished * (self.total - finished))}"
        if shape is not None and shape.planned_pipeline is not None:
            planned = shape.ends_after(shape.planned_pipeline)
            left = planned - elapsed
            return f"eta ~{span(left)} (plan)" if left > 0 else f"eta ? (past the plan's ~{span(planned)})"
        return "eta ?"

    def line(self) -> str:
        c = self.counts
        elapsed = self.clock() - self.level_started
        if self.starts_for is not None:  # a duration: no count to extrapolate, a clock instead
            left = self.starts_for - elapsed
            eta = f"new pipelines for {left:.0f}s more" if left > 0 else "in-flight pipelines finishing"
        else:
            eta = self.eta(elapsed)
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
