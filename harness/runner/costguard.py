"""max_cost_usd: a run stops starting pipelines once what it has spent, by its own record,
passes the limit (k6's abortOnFail is the model: the threshold ends the test, cleanly).

The estimate reads the run's events.db every few seconds, so it counts what worker threads and
worker processes recorded alike: instance time of training jobs and endpoints (each resource's
concurrency-slot hold, priced per instance-hour from harness/prices.toml) and Feature Store
writes. A resource is counted once its slot is released, so the estimate trails by at most the
resources in flight; S3, Glue and Athena are not priced. On the simulator the figure is what the
run would have cost on AWS, which is how the guard is tested.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from harness.runner.prices import PRICES, Prices, load_prices

HOLDS: dict[str, Literal["training", "hosting"]] = {"CreateTrainingJob": "training", "CreateEndpoint": "hosting"}


class CostGuard:
    def __init__(
        self,
        db_path: Path,
        limit_usd: float,
        time_scale: float,
        instance_type: str,
        on_exceeded: Callable[[float], None],
        interval: float = 2.0,
        prices: Prices | None = None,
        level_time_scales: dict[int, float] | None = None,
    ) -> None:
        """level_time_scales: the levels that ran at another scale than time_scale (wall seconds
        per AWS second), so that a hold's wall time is read at its own level's scale."""
        self.db_path, self.limit, self.time_scale = Path(db_path), limit_usd, time_scale
        self.level_time_scales = dict(level_time_scales or {})
        self.instance_type, self.on_exceeded, self.interval = instance_type, on_exceeded, interval
        self.prices = prices or load_prices()
        for table in HOLDS.values():
            if instance_type not in self.prices[table]:
                raise ValueError(
                    f"max_cost_usd: {PRICES} has no {table} price for {instance_type!r} "
                    f"(it has {', '.join(self.prices[table])})"
                )
        self.spent_usd = 0.0
        self.tripped = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def estimate(self) -> float:
        """USD spent so far by the run's record."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as db:
            held = db.execute(
                "SELECT operation, level, COALESCE(SUM(duration), 0) FROM events WHERE kind = 'quota_hold' "
                "AND service = 'sagemaker' AND operation IN ('CreateTrainingJob', 'CreateEndpoint') "
                "GROUP BY operation, level"
            ).fetchall()
            writes: int = db.execute(
                "SELECT COUNT(*) FROM events WHERE kind = 'api_attempt' AND outcome = 'ok' "
                "AND service = 'sagemaker-featurestore-runtime' AND operation = 'PutRecord'"
            ).fetchone()[0]
        usd = writes / 1e6 * self.prices["feature_store"]["write_per_million"]
        for operation, level, wall_seconds in held:
            hours = wall_seconds / self.level_time_scales.get(level, self.time_scale) / 3600.0
            usd += hours * self.prices[HOLDS[operation]][self.instance_type]
        return usd

    def check(self) -> bool:
        """Update the estimate; past the limit (once), call on_exceeded. True if tripped."""
        try:
            self.spent_usd = self.estimate()
        except sqlite3.Error:
            return self.tripped  # busy or not yet made: the next look counts it
        if not self.tripped and self.spent_usd > self.limit:
            self.tripped = True
            self.on_exceeded(self.spent_usd)
        return self.tripped

    def start(self) -> "CostGuard":
        def watch() -> None:
            while not self._done.wait(self.interval):
                self.check()

        self._thread = threading.Thread(target=watch, name="cost-guard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The final figure for the record; the run is over, so nothing is stopped for it."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.spent_usd = self.estimate()
        except sqlite3.Error:
            pass
