"""When the open model's pipelines are due: offsets in AWS seconds from the level's start, each
with the arrival rate in force then (pipelines per AWS hour).

- `constant(rate, duration)`: k6's constant-arrival-rate, one every 3600 / rate seconds.
- `ramping(start_rate, stages)`: k6's ramping-arrival-rate, the rate moving linearly to each
  stage's target over the stage's duration; a pipeline is due each time the integral of the
  rate reaches the next whole pipeline. One run then shows where the queue starts to grow.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    target: float  # pipelines per AWS hour at the end of the stage
    duration_seconds: float


def constant(rate: float, duration: float) -> list[tuple[float, float]]:
    interval = 3600.0 / rate
    count = int(duration // interval) + (1 if duration % interval else 0)
    return [(i * interval, rate) for i in range(count)]


def ramping(start_rate: float, stages: list[Stage], step: float = 1.0) -> list[tuple[float, float]]:
    """Integrated in `step`-second slices (AWS time): exact enough for rates of pipelines/hour."""
    due, owed, now, rate = [], 0.0, 0.0, start_rate
    for stage in stages:
        begin, end = rate, stage.target
        slices = max(1, int(round(stage.duration_seconds / step)))
        width = stage.duration_seconds / slices
        for k in range(slices):
            here = begin + (end - begin) * (k + 0.5) / slices
            owed += here * width / 3600.0
            while owed >= 1.0:
                owed -= 1.0
                due.append((now + width * (k + 1), here))
        now += stage.duration_seconds
        rate = end
    return due
