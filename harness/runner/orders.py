"""What a worker process or a Ray worker is told: the run it belongs to and its share of one
level's workers. Picklable, so it crosses into spawned processes and onto other hosts."""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.runner.scenario import Scenario


@dataclass(frozen=True)
class WorkOrder:
    scenario: Scenario  # the level's own (its time scale and limiter namespace)
    run_id: str
    run_dir: str  # absolute: the worker's own working directory may differ
    endpoint_url: str | None
    prefix: str  # the run's resource-name prefix
    max_level: int  # sizes the connection pools
    level: int
    workers: tuple[int, ...] = ()  # this share's worker indexes within the level

    def shares(self, count: int) -> list["WorkOrder"]:
        """The level's workers dealt round-robin to `count` processes (never more than workers)."""
        count = min(count, self.level)
        return [replace(self, workers=tuple(range(p, self.level, count))) for p in range(count)]
