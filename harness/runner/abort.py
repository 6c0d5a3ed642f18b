"""Thresholds that stop a run as soon as they fail (k6's abortOnFail), for real accounts where
a run that has gone wrong should stop spending.

A scenario marks one with a table instead of a string:

    thresholds = ["throughput@32 >= 0.9*base", { check = "failed <= 2", abort = true }]

Checked every second against the run's live counters, so only what is counted live may abort
a run: failed, completed, throttled or partial_failed (optionally @N for one level), against a
number. Failing one stops the run as a Ctrl-C does: no new pipelines, teardown and cleanup run,
and the report says which threshold stopped it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from harness.report.thresholds import ThresholdError, parse

LIVE = {"failed": "failed", "completed": "done", "throttled": "throttled", "partial_failed": "partial_state_failed"}
INTERVAL_SECONDS = 1.0  # wall


def check_abortable(expression: str) -> str | None:
    """None if the expression can abort a run, else why not (for the scenario's error)."""
    try:
        threshold = parse(expression)
    except ThresholdError as err:
        return str(err)
    if threshold.metric not in LIVE:
        return f"a live metric ({', '.join(LIVE)}), optionally @N, compared with a number"
    if threshold.relative:
        return "a number on the right (an abort threshold has no baseline to compare with)"
    return None


def failing(expression: str, by_level: dict[int, Counter[str]]) -> bool:
    threshold = parse(expression)  # checked when the scenario was read (check_abortable)
    assert threshold.limit is not None
    key = LIVE[threshold.metric]
    if threshold.level is not None:
        value = by_level.get(threshold.level, Counter())[key]
    else:
        value = sum(counts[key] for counts in by_level.values())
    return not threshold.passes(value, threshold.limit)


class AbortWatch:
    """Looks at `counts()` (level -> live counters) every second; calls `stop(expression)` once,
    for the first abort threshold that fails."""

    def __init__(
        self, expressions: list[str], counts: Callable[[], dict[int, Counter[str]]], stop: Callable[[str], None]
    ) -> None:
        self.expressions, self.counts, self.stop = expressions, counts, stop
        self.fired: str | None = None
        self._lock = threading.Lock()  # the watcher and every pipeline thread check
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="abort-thresholds", daemon=True)

    def start(self) -> "AbortWatch":
        if self.expressions:
            self._thread.start()
        return self

    def check(self) -> None:
        with self._lock:
            if self.fired is not None:
                return
            counts = self.counts()
            failed = next((e for e in self.expressions if failing(e, counts)), None)
            if failed is None:
                return
            self.fired = failed
        self.stop(failed)

    def _watch(self) -> None:
        while not self._done.wait(INTERVAL_SECONDS):
            self.check()

    def close(self) -> None:
        self._done.set()
