"""Comparing two runs with thresholds written like k6's:

    failed == 0                      total failed pipelines in HEAD
    throughput@32 >= 0.9*base        pipelines/hour at N=32, against BASE's at N=32
    p95(pipeline)@32 < 1.2*base      pipeline duration p95 (also p50, p99; or a stage name)
    throttle_rate@16 <= 0.02         share of attempts throttled

Without @N a metric is taken at the largest level both runs have (failed and throttled are
summed over all levels). The right-hand side is a number, `base`, or `<factor>*base`.
"""

from __future__ import annotations

import json
import operator
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
PATTERN = re.compile(
    r"^\s*(?P<metric>[a-z_][a-z0-9_]*(?:\((?P<arg>[a-z_]+)\))?)(?:@(?P<level>\d+))?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>.+?)\s*$"
)
RHS = re.compile(r"^(?:(?P<number>[0-9.eE+-]+)|(?:(?P<factor>[0-9.eE+-]+)\s*\*\s*)?base)$")
METRICS = (
    "throughput",
    "failed",
    "completed",
    "throttled",
    "throttle_rate",
    "attempts_per_pipeline",
    "partial_failed",
    "p50(...)",
    "p95(...)",
    "p99(...)",
)


class ThresholdError(ValueError):
    pass


@dataclass
class Check:
    expression: str
    base: float | None
    head: float | None
    limit: float | None
    passed: bool
    note: str = ""


def _level(metrics: dict, n: int | None) -> dict | None:
    levels = {level["level"]: level for level in metrics["levels"]}
    if n is None:
        return levels[max(levels)] if levels else None
    return levels.get(n)


def value(metrics: dict, metric: str, arg: str | None, n: int | None) -> float | None:
    if metric in ("failed", "throttled", "completed") and n is None:
        key = {
            "failed": lambda level: level["failed"],
            "completed": lambda level: level["completed"],
            "throttled": lambda level: level["api"]["throttled"],
        }[metric]
        return float(sum(key(level) for level in metrics["levels"]))
    level = _level(metrics, n)
    if level is None:
        return None
    if metric in ("p50", "p95", "p99"):
        source = level["pipeline_seconds"] if arg in (None, "pipeline") else level["stage_seconds"].get(arg, {})
        return source.get(metric)
    getters = {
        "throughput": lambda level: level["throughput_per_hour"],
        "failed": lambda level: level["failed"],
        "completed": lambda level: level["completed"],
        "throttled": lambda level: level["api"]["throttled"],
        "throttle_rate": lambda level: level["api"]["throttle_rate"],
        "attempts_per_pipeline": lambda level: level["api"]["attempts_per_pipeline"],
        "partial_failed": lambda level: level["partial_state"]["failed"],
    }
    if metric not in getters:
        raise ThresholdError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    return getters[metric](level)


def _measure(metrics: dict, n: int | None) -> str:
    """How a level's throughput was measured: "batch" (completed / level time) or "window"
    (steady state, whether by fractions or departures; the two estimate the same rate)."""
    level = _level(metrics, n) or {}
    return "batch" if level.get("throughput_method", "batch") == "batch" else "window"


def check(expression: str, base: dict, head: dict) -> Check:
    match = PATTERN.match(expression)
    if not match:
        raise ThresholdError(
            f"threshold {expression!r} is not 'metric[@N] op value' (e.g. 'throughput@32 >= 0.9*base')"
        )
    metric = match["metric"].split("(")[0]
    n = int(match["level"]) if match["level"] else None
    head_value = value(head, metric, match["arg"], n)
    base_value = value(base, metric, match["arg"], n)
    rhs = RHS.match(match["rhs"].strip())
    if not rhs:
        raise ThresholdError(
            f"threshold {expression!r}: right side {match['rhs']!r} is not a number, 'base' or '<factor>*base'"
        )
    limit: float | None
    if rhs["number"] is not None:
        limit = float(rhs["number"])
    else:
        limit = None if base_value is None else float(rhs["factor"] or 1.0) * base_value
    passed = head_value is not None and limit is not None and OPS[match["op"]](head_value, limit)
    note = ""
    measures = (_measure(base, n), _measure(head, n))
    if metric == "throughput" and rhs["number"] is None and measures[0] != measures[1]:
        # A batch's rate includes its ramp-up and tail; a window's does not: about 1.5x apart at N=32.
        passed = False
        note = (
            f"base measured throughput as a {measures[0]}, head as a {measures[1]}: "
            "not comparable; make a new baseline from a run of the same scenario"
        )
    return Check(expression, base_value, head_value, limit, passed, note)


def load_metrics(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.exists():
        from harness.report.render import render

        render(run_dir)
    return json.loads(path.read_text())


def scenario_thresholds(run_dir: str | Path) -> list[str]:
    try:
        return list(tomllib.loads((Path(run_dir) / "scenario.toml").read_text()).get("thresholds", []))
    except (OSError, tomllib.TOMLDecodeError):
        return []


def moved(base: dict, head: dict) -> list[list[str]]:
    """What changed, level by level: throughput, p95, throttle rate, failures."""
    rows = []
    base_levels = {level["level"]: level for level in base["levels"]}
    for level in head["levels"]:
        b = base_levels.get(level["level"])
        if b is None:
            continue
        for name, get in (
            ("throughput/h", lambda level: level["throughput_per_hour"]),
            ("p95 pipeline s", lambda level: level["pipeline_seconds"]["p95"]),
            ("throttle rate", lambda level: level["api"]["throttle_rate"]),
            ("failed", lambda level: level["failed"]),
        ):
            bv, hv = get(b), get(level)
            change = "-" if not bv or hv is None else f"{100 * (hv - bv) / bv:+.1f}%"
            rows.append(
                [
                    str(level["level"]),
                    name,
                    "-" if bv is None else f"{bv:.4g}",
                    "-" if hv is None else f"{hv:.4g}",
                    change,
                ]
            )
    return rows
