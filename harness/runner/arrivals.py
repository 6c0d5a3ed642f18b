"""When the open model's pipelines are due: offsets in AWS seconds from the level's start, each
with the arrival rate in force then (pipelines per AWS hour).

- `constant(rate, duration)`: k6's constant-arrival-rate, one every 3600 / rate seconds from the
  start: at 0, T, 2T, ...
- `ramping(start_rate, stages)`: k6's ramping-arrival-rate, the rate moving linearly to each
  stage's end_rate over the stage's duration. One run then shows where the queue starts to grow.

One rule for both: pipeline k (k = 0, 1, 2, ...) is due when the integral of the rate since the
start reaches k, and owns the next whole pipeline's worth of it (for a constant rate, the
interval T up to the next one). The window holds the pipelines whose share ends inside it:
floor(integral over the window) of them, so a level never has more arrivals than its rate asks
for (11 an hour for an hour is 11, reported as 11/h), every one is due before the window ends, and
a constant rate for a whole number of intervals gives exactly rate x duration. What is left at the
end, less than one pipeline's share, has no arrival. The count is worked out exactly on the
numbers as written (0.3/h for 12,000 s is one pipeline, not 0.99999...), so floating point
neither adds an arrival at the window's end nor drops the last one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class RampStage:
    end_rate: float  # pipelines per AWS hour at the end of the stage
    duration_seconds: float


def _exact(value: float) -> Fraction:
    """The number as written (its shortest decimal form), not the binary float nearest to it."""
    return Fraction(repr(float(value)))


def _pipelines(rate_start: Fraction, rate_end: Fraction, seconds: Fraction) -> Fraction:
    """How many pipelines a rate moving linearly from one value to another adds up to."""
    return (rate_start + rate_end) / 2 * seconds / 3600


def constant(rate: float, duration: float) -> list[tuple[float, float]]:
    if rate <= 0 or duration <= 0:
        return []
    count = math.floor(_pipelines(_exact(rate), _exact(rate), _exact(duration)))
    return [(i * 3600.0 / rate, rate) for i in range(count)]


def _seconds_to(begin: float, end: float, duration: float, pipelines: float) -> float:
    """Into a stage whose rate moves from `begin` to `end` over `duration`: when the rate has
    added up to `pipelines`, solving begin u + (end - begin) u² / 2 duration = 3600 pipelines
    (in the form that stays accurate when the rate hardly changes, or falls)."""
    c = 3600.0 * pipelines
    if c <= 0:
        return 0.0
    slope = (end - begin) / duration
    root = math.sqrt(max(0.0, begin * begin + 2.0 * slope * c))
    if begin + root <= 0:
        return 0.0
    return min(duration, max(0.0, 2.0 * c / (begin + root)))


def ramping(start_rate: float, stages: list[RampStage]) -> list[tuple[float, float]]:
    due: list[tuple[float, float]] = []
    shares: list[tuple[Fraction, Fraction]] = []  # per stage: (pipelines by its start, pipelines by its end), exact
    added = Fraction(0)
    rate = _exact(start_rate)
    for stage in stages:
        end_rate = _exact(stage.end_rate)
        exact_seconds = _exact(stage.duration_seconds) if stage.duration_seconds > 0 else Fraction(0)
        shares.append((added, added + _pipelines(rate, end_rate, exact_seconds)))
        added, rate = shares[-1][1], end_rate
    count = math.floor(added)
    k, begin, start = 0, float(start_rate), Fraction(0)
    for stage, (before, after) in zip(stages, shares, strict=False):
        end, seconds = float(stage.end_rate), max(0.0, float(stage.duration_seconds))
        while k < count and k < after:  # pipeline k is due in this stage
            u = _seconds_to(begin, end, seconds, float(k - before))
            due.append((float(start) + u, max(0.0, begin + (end - begin) * u / seconds)))
            k += 1
        start += _exact(seconds)
        begin = end
    return due
