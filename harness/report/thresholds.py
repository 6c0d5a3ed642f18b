"""Thresholds, written like k6's: `metric[@N] op value`. One language for the checks a run makes
of itself (`harness run`, absolute) and those `harness compare` makes against a baseline
(relative, naming `base`), so a word means the same thing in both:

    failed == 0                      failed pipelines, summed over the levels
    throttled <= 100                 throttled attempts, summed over the levels
    throughput@16 >= 20/h            pipelines per hour at N=16 (/h, /m or /s; a bare number is /h)
    p95(pipeline)@32 < 60m           95th percentile of pipeline duration at N=32 (s, m or h;
                                     a bare number is seconds); p50, p99; or a stage's, p95(train)
    throttle_rate@16 <= 2%           share of attempts throttled (a fraction, or %)
    throughput@32 >= 0.9*base        against the baseline's figure: `harness compare` only

Without @N a count (failed, completed, throttled, partial_failed) is summed over every level;
any other metric is taken at the largest level. Durations and rates are AWS time, as in
metrics.json.
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
PATTERN = re.compile(
    r"^\s*(?P<metric>[a-z_][a-z0-9_]*)(?:\((?P<arg>[A-Za-z_][A-Za-z0-9_-]*)\))?(?:@(?P<level>\d+))?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>.+?)\s*$"
)
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
ABSOLUTE = re.compile(rf"^(?P<number>{NUMBER})\s*(?P<unit>[a-z%/]*)$")
RELATIVE = re.compile(rf"^(?:(?P<factor>{NUMBER})\s*\*\s*)?base$")

# What each metric measures, and so which units its limit may carry (to the metric's own unit:
# seconds, pipelines per hour, a fraction).
KINDS = {
    "failed": "count",
    "completed": "count",
    "throttled": "count",
    "partial_failed": "count",
    "attempts_per_pipeline": "number",
    "throttle_rate": "share",
    "throughput": "rate",
    "p50": "duration",
    "p95": "duration",
    "p99": "duration",
}
UNITS = {
    "count": {"": 1.0},
    "number": {"": 1.0},
    "share": {"": 1.0, "%": 0.01},
    "rate": {"": 1.0, "/h": 1.0, "/m": 60.0, "/s": 3600.0},
    "duration": {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0},
}
UNIT_NAMES = {"share": "%, or none", "rate": "/h, /m or /s", "duration": "s, m or h"}
SUMMED = ("failed", "completed", "throttled", "partial_failed")  # without @N: over every level
METRICS = ", ".join(f"{name}(...)" if KINDS[name] == "duration" else name for name in KINDS)


class ThresholdError(ValueError):
    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"threshold {expression!r}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Threshold:
    expression: str
    metric: str  # a key of KINDS
    arg: str | None  # a percentile's: "pipeline" or a stage's name
    level: int | None
    op: str
    limit: float | None  # absolute: in the metric's own unit (seconds, per hour, a fraction)
    factor: float | None  # relative: the limit is factor x the baseline's figure
    unit: str = ""  # as written, to say measured figures in it

    @property
    def relative(self) -> bool:
        return self.factor is not None

    def passes(self, value: float, limit: float) -> bool:
        return OPS[self.op](value, limit)

    def shown(self, value: float | None) -> str:
        """A figure in the unit the threshold was written in (72.3m, 18.2/h, 0)."""
        if value is None:
            return "-"
        kind = KINDS[self.metric]
        unit = self.unit or {"duration": "s", "rate": "/h"}.get(kind, "")
        number = value / UNITS[kind][unit]
        return f"{number:.0f}{unit}" if kind == "count" or abs(number) >= 100 else f"{number:.3g}{unit}"


def parse(expression: str) -> Threshold:
    found = PATTERN.match(expression)
    if not found:
        raise ThresholdError(
            expression,
            "not of the form 'metric[@N] op value' (e.g. 'p95(pipeline)@32 < 60m', 'throughput@32 >= 0.9*base')",
        )
    metric, arg = found["metric"], found["arg"]
    if metric not in KINDS:
        raise ThresholdError(expression, f"unknown metric {metric!r}; expected one of {METRICS}")
    kind = KINDS[metric]
    if arg is not None and kind != "duration":
        raise ThresholdError(expression, f"{metric} takes no argument; only p50, p95 and p99 do")
    rhs = found["rhs"].strip()
    level = int(found["level"]) if found["level"] else None
    relative = RELATIVE.match(rhs)
    if relative:
        factor = float(relative["factor"]) if relative["factor"] else 1.0
        return Threshold(expression, metric, arg, level, found["op"], None, factor)
    absolute = ABSOLUTE.match(rhs)
    if not absolute:
        raise ThresholdError(
            expression, f"right side {rhs!r} is not a number (with a unit: 60m, 20/h), 'base' or '<factor>*base'"
        )
    unit = absolute["unit"]
    if unit not in UNITS[kind]:
        if kind not in UNIT_NAMES:
            raise ThresholdError(expression, f"{metric} is a plain number: no unit ({unit!r})")
        raise ThresholdError(expression, f"{unit!r} is not a unit of {metric} (units: {UNIT_NAMES[kind]})")
    limit = float(absolute["number"]) * UNITS[kind][unit]
    return Threshold(expression, metric, arg, level, found["op"], limit, None, unit)


def levels_of(metrics: dict) -> dict[int, dict]:
    return {level["level"]: level for level in metrics["levels"]}


def judged_level(threshold: Threshold, metrics: dict) -> int | None:
    """The level a threshold reads: its @N, else the largest (None for a count summed over all)."""
    if threshold.level is not None:
        return threshold.level
    if threshold.metric in SUMMED:
        return None
    levels = levels_of(metrics)
    return max(levels) if levels else None


def measure(threshold: Threshold, metrics: dict) -> float | None:
    """The run's figure for a threshold; None where the run has none (no such level, or no
    pipeline completed there)."""
    metric = threshold.metric
    getters: dict[str, Callable[[dict], float | None]] = {
        "failed": lambda level: level["failed"],
        "completed": lambda level: level["completed"],
        "throttled": lambda level: level["api"]["throttled"],
        "partial_failed": lambda level: level["partial_state"]["failed"],
        "throughput": lambda level: level["throughput_per_hour"],
        "throttle_rate": lambda level: level["api"]["throttle_rate"],
        "attempts_per_pipeline": lambda level: level["api"]["attempts_per_pipeline"],
    }
    if metric in SUMMED and threshold.level is None:
        return float(sum(getters[metric](level) or 0 for level in metrics["levels"]))
    n = judged_level(threshold, metrics)
    level = None if n is None else levels_of(metrics).get(n)
    if level is None:
        return None
    if KINDS[metric] == "duration":
        if threshold.arg in (None, "pipeline"):
            return level["pipeline_seconds"].get(metric)
        return (level["stage_seconds"].get(threshold.arg) or {}).get(metric)
    return getters[metric](level)


@dataclass
class Verdict:
    """What a run's own check of one threshold found: passed, failed, or skipped (relative, or
    at a level the run does not have)."""

    expression: str
    result: str  # passed, failed or skipped
    measured: float | None = None  # in the metric's own unit (seconds, per hour, a fraction)
    limit: float | None = None
    level: int | None = None  # the level it was judged at; None: summed over the levels
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def judge(expression: str, metrics: dict, run_levels: list[int] | None = None) -> Verdict:
    """One threshold against a run's own figures. run_levels: the levels the run was to run (its
    scenario's); a threshold at another level does not apply to it and is skipped, one at a level
    the run stopped before reaching fails (nothing was measured there)."""
    try:
        threshold = parse(expression)
    except ThresholdError as err:  # a run folder from before thresholds were checked on reading
        return Verdict(expression, "failed", message=str(err))
    if threshold.relative:
        return Verdict(expression, "skipped", message="relative to a baseline: harness compare BASE RUN judges it")
    measured_levels = sorted(levels_of(metrics))
    planned = sorted(set(run_levels or []) | set(measured_levels))
    if threshold.level is not None and threshold.level not in planned:
        return Verdict(
            expression,
            "skipped",
            level=threshold.level,
            message=f"the run has no level {threshold.level} (its levels: {', '.join(map(str, planned)) or 'none'})",
        )
    level = judged_level(threshold, metrics)
    at = " over every level" if level is None else f" at N={level}"
    assert threshold.limit is not None  # absolute
    value = measure(threshold, metrics)
    if value is None:
        if level is None:
            why = "not measured: the run measured no level"
        elif level not in measured_levels:
            why = f"not measured: the run stopped before N={level}"
        else:
            why = f"not measured: no pipeline completed at N={level}"
        return Verdict(expression, "failed", None, threshold.limit, level, f"{why}; expected {_rhs(threshold)}")
    passed = threshold.passes(value, threshold.limit)
    said = f"measured {threshold.shown(value)}{at}"
    return Verdict(
        expression,
        "passed" if passed else "failed",
        value,
        threshold.limit,
        level,
        said if passed else f"{said}; expected {_rhs(threshold)}",
    )


def _rhs(threshold: Threshold) -> str:
    return f"{threshold.op} {threshold.shown(threshold.limit)}"


def judge_run(expressions: list[str], metrics: dict, run_levels: list[int] | None = None) -> list[Verdict]:
    return [judge(expression, metrics, run_levels) for expression in expressions]


def scenario_thresholds(run_dir: str | Path) -> list[str]:
    """The thresholds a run folder's scenario.toml names (strings, or tables with `check`)."""
    try:
        scenario = tomllib.loads((Path(run_dir) / "scenario.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return []
    return [item["check"] if isinstance(item, dict) else str(item) for item in scenario.get("thresholds", [])]
