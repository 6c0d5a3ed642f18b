"""max_cost_usd: a run starts no pipeline that would take its expected spend past the limit, and
stops (k6's abortOnFail: the threshold ends the test, cleanly) before what is running passes it.

What costs, priced from harness/prices.toml for the scenario's region (on the simulator: what
the run would have cost on AWS):
- training jobs and endpoints, per instance-hour of params.instance_type, from the moment AWS
  accepted their create: a released one for the time it held its concurrency slot (its
  quota_hold), one still running for the time it has run so far, and one whose pipeline ended
  without a hold (an endpoint the SageMaker SDK made) until that end;
- Feature Store writes (PutRecord), per million;
- Athena DML queries that succeeded or were cancelled, per TB scanned, rounded up to the MB
  with 10 MB at least (https://aws.amazon.com/athena/pricing/; DDL and failed queries are free).
S3, Glue and data transfer are not priced.

The rule, from the run's events.db (worker threads, worker processes and Ray workers alike):
- spent: all of the above so far, running resources at their elapsed time;
- expected: what one pipeline is expected to cost, the mean of the pipelines that finished ok;
  until one has, the most any pipeline has cost so far (so the first pipelines of a run start
  whatever they cost: nothing says yet what a pipeline costs);
- committed: spent, plus what each pipeline in flight is expected still to spend (expected less
  what it has spent, never below 0).
1. A pipeline starts only if committed + expected <= the limit. Once one is refused none starts
   again: the pipelines in flight finish, the workers end, and the run ends stopped by
   max_cost_usd. The runner's own workers (threads, arrivals) ask before each pipeline; worker
   processes and Ray workers start theirs without asking, so for them a start that takes
   committed past the limit is seen at the guard's next look, and stops the run as in 2.
2. The run stops (no new pipeline or stage; in-flight pipelines tear down) when spent, plus what
   the running resources accrue until the guard's next look (`lookahead`), would pass the limit.

Where it looks: on wall time every `interval` seconds, and before each pipeline the runner's
workers start. On virtual time before each pipeline and each stage instead: AWS time moves only
when every worker waits, so a look on the wall would come at no particular AWS instant, and a
look at a stage boundary comes at the same one in every run.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.runner.prices import RegionPrices

HOLDS = {"CreateTrainingJob": "training", "CreateEndpoint": "hosting"}  # operation -> price table
MB, TB = 1e6, 1e12  # decimal: of the two readings of AWS's units, the one that prices a scan higher
ATHENA_MINIMUM_BYTES = 10 * MB
ATHENA_BILLED = ("SUCCEEDED", "CANCELLED")
# wall seconds a look trails the events by: the recorders flush every 0.25 s, and a stop takes a
# moment to reach every worker (worker processes through a relay)
LOOK_LAG_SECONDS = 1.0

Key = tuple[int | None, str]  # (level, pipeline id)

_EVENTS = """
SELECT id, kind, level, pipeline, service, operation, outcome, duration, mono_time, detail FROM events
WHERE id > ? AND id <= ? AND (
    kind IN ('quota_hold', 'query', 'pipeline_start', 'pipeline_end')
    OR (kind = 'api_attempt' AND outcome = 'ok'
        AND operation IN ('CreateTrainingJob', 'CreateEndpoint', 'PutRecord'))
) ORDER BY id
"""


@dataclass(frozen=True)
class Spend:
    spent_usd: float  # so far, running resources at their elapsed time
    committed_usd: float  # spent, and what the pipelines in flight are expected still to spend
    expected_usd: float  # one pipeline's expected cost
    burn_usd_per_second: float  # what the running resources add per second of the events' clock


class CostGuard:
    def __init__(
        self,
        db_path: Path,
        limit_usd: float,
        prices: RegionPrices,
        instance_type: str,
        on_exceeded: Callable[[Spend], None],
        on_closed: Callable[[Spend], None] = lambda spend: None,
        *,
        time_scale: float = 1.0,
        level_time_scales: dict[int, float] | None = None,
        now: Callable[[], float] = time.monotonic,
        flush: Callable[[], None] = lambda: None,
        interval: float | None = 2.0,
        lookahead: float = 0.0,
        gated: bool = True,
    ) -> None:
        """on_exceeded: rule 2 (stop the run); on_closed: rule 1 (no new pipelines), each once.
        time_scale, level_time_scales: wall seconds per AWS second, the run's and the levels'
        that ran at another. now: the clock of the events' mono_time (the recorder's); flush:
        commits this process's queued events before a look. interval: wall seconds between
        looks (None: only when asked); lookahead: wall seconds until a look's successor.
        gated: every pipeline asks `admit` before it starts (the runner's own workers)."""
        missing = prices.missing_for(instance_type)
        if missing:
            raise ValueError(f"max_cost_usd: no price in {prices.region} for {', '.join(missing)}")
        self.db_path, self.limit, self.prices, self.instance_type = Path(db_path), limit_usd, prices, instance_type
        self.on_exceeded, self.on_closed = on_exceeded, on_closed
        self.time_scale, self.level_time_scales = time_scale, dict(level_time_scales or {})
        self.now, self.flush, self.interval, self.lookahead, self.gated = now, flush, interval, lookahead, gated
        self.hourly = {op: getattr(prices, table)[instance_type] for op, table in HOLDS.items()}
        self.spent_usd = 0.0
        self.tripped = False  # rule 2 stopped the run
        self.closed = False  # rule 1 refused a pipeline: none starts again
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        # what has been read of events.db, kept up to date a look at a time
        self._last_id = 0
        self._finished_usd = 0.0  # released resources, writes and scans
        self._pipeline_usd: dict[Key, float] = defaultdict(float)  # the same, by pipeline
        self._held: dict[tuple[Key, str], deque[float]] = defaultdict(deque)  # creates not yet released
        self._in_flight: set[Key] = set()
        self._admitted: set[Key] = set()  # let start here, its pipeline_start not read yet
        self._ok_usd, self._ok_count, self._most_usd = 0.0, 0, 0.0

    # --- the rule ----------------------------------------------------------------------------
    def admit(self, level: int | None, pipeline: str) -> bool:
        """Rule 1: may this pipeline start? Refused once, never again (the run winds down)."""
        with self._lock:
            if self.closed or self.tripped:
                return False
            spend = self.look()
            if self.tripped:  # that look stopped the run
                return False
            if spend is None:  # events.db unreadable a moment: the next look catches up
                return True
            if spend.committed_usd + spend.expected_usd > self.limit:
                self.closed = True
                self.on_closed(spend)
                return False
            self._admitted.add((level, pipeline))
            return True

    def look(self) -> Spend | None:
        """Update the figures; rule 2 (and for pipelines that start unasked, their commitment)."""
        with self._lock:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a locked file: what it holds back is read next time
                pass
            try:
                self._read()
            except sqlite3.Error:
                return None  # busy or not yet made: the next look counts it
            spend = self.spend()
            self.spent_usd = spend.spent_usd
            passing = spend.spent_usd + spend.burn_usd_per_second * self.lookahead > self.limit
            if not self.gated and spend.committed_usd > self.limit:
                passing = True
            if passing and not self.tripped:
                self.tripped = True
                self.on_exceeded(spend)
            return spend

    def spend(self) -> Spend:
        """The figures as of now, from what has been read."""
        now = self.now()
        running: dict[Key, float] = defaultdict(float)
        burn = 0.0
        for (key, operation), starts in self._held.items():
            per_second = self.hourly[operation] / 3600.0 / self._scale(key[0])  # per wall second
            burn += per_second * len(starts)
            running[key] += sum(max(0.0, now - start) for start in starts) * per_second
        spent = self._finished_usd + sum(running.values())
        so_far = {key: self._pipeline_usd.get(key, 0.0) + running.get(key, 0.0) for key in self._in_flight}
        expected = self._ok_usd / self._ok_count if self._ok_count else max([self._most_usd, *so_far.values()])
        still = sum(max(0.0, expected - cost) for cost in so_far.values()) + expected * len(self._admitted)
        return Spend(spent, spent + still, expected, burn)

    # --- reading events.db -------------------------------------------------------------------
    def _scale(self, level: int | None) -> float:
        return self.level_time_scales.get(level, self.time_scale) if level is not None else self.time_scale

    def _read(self) -> None:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as db:
            last = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            rows = db.execute(_EVENTS, (self._last_id, last)).fetchall()
        for row in rows:
            self._count(*row[1:])
        self._last_id = last

    def _count(
        self,
        kind: str,
        level: int | None,
        pipeline: str | None,
        service: str | None,
        operation: str | None,
        outcome: str | None,
        duration: float | None,
        at: float,
        detail: str | None,
    ) -> None:
        key: Key = (level, pipeline or "")
        if kind == "api_attempt" and service == "sagemaker" and operation in HOLDS:
            if pipeline is not None:  # outside a pipeline: counted by its hold, when there is one
                self._held[(key, operation)].append(at)
        elif kind == "quota_hold" and service == "sagemaker" and operation in HOLDS:
            self._add(key, (duration or 0.0) / self._scale(level) / 3600.0 * self.hourly[operation])
            if self._held.get((key, operation)):
                self._held[(key, operation)].popleft()
        elif kind == "api_attempt" and service == "sagemaker-featurestore-runtime" and operation == "PutRecord":
            self._add(key, self.prices.feature_store["write_per_million"] / 1e6)
        elif kind == "query":
            self._add(key, self._query_usd(outcome, json.loads(detail or "{}")))
        elif kind == "pipeline_start":
            self._in_flight.add(key)
            self._admitted.discard(key)
        elif kind == "pipeline_end":
            self._end(key, outcome, at)

    def _query_usd(self, outcome: str | None, detail: dict[str, Any]) -> float:
        if outcome not in ATHENA_BILLED or detail.get("statement_type") != "DML":
            return 0.0
        scanned = math.ceil(float(detail.get("scanned_bytes") or 0) / MB) * MB
        return max(scanned, ATHENA_MINIMUM_BYTES) / TB * self.prices.athena["per_tb_scanned"]

    def _add(self, key: Key, usd: float) -> None:
        self._finished_usd += usd
        self._pipeline_usd[key] += usd

    def _end(self, key: Key, outcome: str | None, at: float) -> None:
        """A pipeline ended: what it made and no hold released ran until now; its cost is known."""
        for operation in HOLDS:
            for start in self._held.pop((key, operation), ()):
                wall = max(0.0, at - start)
                self._add(key, wall / self._scale(key[0]) / 3600.0 * self.hourly[operation])
        self._in_flight.discard(key)
        cost = self._pipeline_usd.get(key, 0.0)
        self._most_usd = max(self._most_usd, cost)
        if outcome == "ok":
            self._ok_usd += cost
            self._ok_count += 1

    # --- looking every interval ----------------------------------------------------------------
    def start(self) -> "CostGuard":
        if self.interval is None:
            return self
        interval = self.interval

        def watch() -> None:
            while not self._done.wait(interval):
                self.look()

        self._thread = threading.Thread(target=watch, name="cost-guard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The final figure for the record; the run is over, so nothing is stopped for it."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            try:
                self.flush()
            except Exception:  # noqa: BLE001
                pass
            try:
                self._read()
                self.spent_usd = self.spend().spent_usd
            except sqlite3.Error:
                pass
