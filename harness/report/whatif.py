"""What a quota change would buy, from a run's recorded demands, without any AWS call.

    harness whatif RUN --quota sagemaker.CreateEndpoint.concurrency=40 [--quota ...]

Each pipeline's demand on each quota was measured in the run (calls per pipeline for a rate,
slot-seconds per pipeline for a concurrency), and so was the uncontended pipeline time D. With
the changed table the operational laws give the new binding quota, its bound, and the knee: the
N at which N / D reaches that bound, past which more pipelines only queue. Per measured level of
a batch the prediction is the model's batch time T(N) before and after: measured throughput x
T_before / T_after (the run's own efficiency kept), but never more than N / T_after (a run that
beat the model did so by more than its estimate of the old limit, which the raise replaces).
Measured against reruns in benchmarks/whatif.py.

`--verify` reruns the scenario on the simulator with the changed quotas (the simulator's
profile and the harness's table both) and puts prediction and measurement side by side.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.quotas import Quota, QuotaTable
from harness.report.bottleneck import analyse

CHANGE = re.compile(
    r"^(?P<service>[a-z0-9-]+)\.(?P<operation>[A-Za-z*][A-Za-z0-9*]*)"  # s3.ListObjectsV2 too
    r"\.(?P<field>rate|burst|concurrency)=(?P<value>\S+)$"
)
DECIMAL = re.compile(r"^[0-9]+(?:\.[0-9]*)?$")
WHOLE = re.compile(r"^[0-9]+$")
# what each field takes, as a quota table row does (harness/quotas.py)
ALLOWED = {
    "rate": "a rate: calls per AWS second, a number > 0 (fractions allowed, e.g. 0.5)",
    "burst": "a burst: the bucket size in calls, a number of 1 or more",
    "concurrency": "a concurrency limit: a whole number of resources, 1 or more (only a rate may be fractional)",
}


@dataclass(frozen=True)
class Change:
    service: str
    operation: str
    field: str  # rate, burst or concurrency
    value: float  # an int for a concurrency

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}.{self.field}={self.value:g}"

    @property
    def call(self) -> str:
        return f"{self.service}.{self.operation}"


def parse_change(text: str) -> Change:
    """SERVICE.OPERATION.FIELD=VALUE, or ValueError naming the text and what is allowed."""
    found = CHANGE.match(text.strip())
    if not found:
        raise ValueError(
            f"{text!r} is not allowed; expected service.Operation.field=value with field rate, burst "
            "or concurrency, e.g. sagemaker.CreateEndpoint.concurrency=40"
        )
    field, raw = found["field"], found["value"]
    value: float  # an int for a concurrency
    if field == "concurrency":
        value = int(raw) if WHOLE.match(raw) else 0
        ok = value >= 1
    else:
        value = float(raw) if DECIMAL.match(raw) else math.nan
        ok = math.isfinite(value) and (value > 0 if field == "rate" else value >= 1)
    if not ok:
        raise ValueError(f"{text!r} is not allowed; expected {ALLOWED[field]}")
    return Change(found["service"], found["operation"], field, value)


def check_changes(metrics: dict, changes: list[Change]) -> None:
    """Each change once, and on a quota the run measured a demand on: a rate or burst on a call
    it made, a concurrency on a call whose resources it held. Anything else would change nothing
    in the prediction (a misspelt operation, a concurrency on a Describe call) and read as 'no
    effect'. ValueError names the --quota, the value and what is allowed."""
    calls, held = set(), set()
    for level in metrics["levels"]:
        calls |= set(level.get("api", {}).get("by_operation", {}))
        held |= set(level.get("waits", {}).get("quota_hold_seconds") or {})
    seen: dict[tuple[str, str], Change] = {}
    for change in changes:
        first = seen.setdefault((change.call, change.field), change)
        if first is not change:
            raise ValueError(
                f"--quota {str(change)!r} is not allowed: {change.call}.{change.field} is given twice "
                f"({first} and {change}); expected each quota once"
            )
        slots = change.field == "concurrency"
        known = held if slots else calls
        if any(fnmatch.fnmatchcase(call, change.call) for call in known):
            continue
        close = difflib.get_close_matches(change.call, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        what = "held no slots of" if slots else "made no call to"
        allowed = (
            f"a {change.field} on one of the {'calls whose slots it held' if slots else 'calls it made'}: "
            + ", ".join(sorted(known))
            if known
            else "a rate or burst: the run held no concurrency slots"
            if slots
            else "nothing: the run made no call"
        )
        raise ValueError(
            f"--quota {str(change)!r} is not allowed: the run {what} {change.call}, so it measured "
            f"no demand on it{hint}; expected {allowed}"
        )


def changed_rows(table: QuotaTable, changes: list[Change]) -> list[Quota]:
    """Each changed quota as a whole row: the table's row for the call with the field replaced."""
    rows: dict[tuple[str, str], Quota] = {}
    for change in changes:
        key = (change.service, change.operation)
        row = rows.get(key) or table.lookup(*key) or Quota(change.service, change.operation)
        if change.field == "concurrency":
            row = replace(row, concurrency=int(change.value))  # parse_change made it a whole number
        elif change.field == "rate":
            row = replace(row, rate=change.value)
        else:
            row = replace(row, burst=change.value)
        rows[key] = replace(row, service=change.service, operation=change.operation, source="what-if")
    return list(rows.values())


def predict(metrics: dict, table: QuotaTable) -> dict:
    analysis = analyse(metrics, table)
    binding, d = analysis.get("binding"), analysis.get("pipeline_seconds_uncontended")
    bound = analysis.get("bound_pipelines_per_hour")
    return {
        "binding": binding["quota"] if binding else None,
        "limit": binding["limit"] if binding else None,
        "bound_per_hour": bound,
        "knee_n": bound * d / 3600.0 if bound and d else None,
        "bound_by_level": analysis.get("bound_by_level") or {},
        "pipeline_seconds_uncontended": d,
    }


def batch_seconds(metrics: dict, table: QuotaTable, n: int) -> float | None:
    """T(N): how long a batch of N pipelines takes with this table (module docstring)."""
    analysis = analyse(metrics, table)
    d = analysis.get("pipeline_seconds_uncontended")
    if not d:
        return None
    t = d
    for row in analysis["quotas"]:
        demand = row["demand_per_pipeline"]
        if row["kind"] == "concurrency":
            t = max(t, n * demand / row["limit"] + d - min(demand, d))
        else:
            t = max(t, n * demand / row["limit"])
    return t


def whatif(metrics: dict, table: QuotaTable, changes: list[Change]) -> dict:
    check_changes(metrics, changes)
    changed = table.overridden(changed_rows(table, changes))
    before, after = predict(metrics, table), predict(metrics, changed)
    levels = []
    for level in metrics["levels"]:
        n, measured = str(level["level"]), level["throughput_per_hour"]
        old, new = before["bound_by_level"].get(n), after["bound_by_level"].get(n)
        if level.get("throughput_method", "batch") == "batch":
            t_old, t_new = (
                batch_seconds(metrics, table, level["level"]),
                batch_seconds(metrics, changed, level["level"]),
            )
            # the run's own efficiency against the model carries over where the run was slower
            # than the model (waits it does not count go on); where it was faster, the model's
            # old limit was the pessimistic part (the account's evidence is a median), and the
            # raised limit is the one asked about: then the model's own batch time after
            predicted = (
                min(measured * t_old / t_new, 3600.0 * level["level"] / t_new) if measured and t_old and t_new else None
            )
        else:
            predicted = measured * new / old if measured and old and new else new
        levels.append(
            {
                "level": level["level"],
                "measured_per_hour": measured,
                "bound_before": old,
                "bound_after": new,
                "predicted_per_hour": predicted,
            }
        )
    return {"changes": [str(c) for c in changes], "before": before, "after": after, "levels": levels}


def _f(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def text(result: dict, verified: dict | None = None) -> str:
    b, a = result["before"], result["after"]
    lines = [
        f"what if {', '.join(result['changes'])}:",
        f"  binding quota: {b['binding']} (limit {b['limit']:g}) -> {a['binding']} (limit {a['limit']:g})"
        if b["binding"] and a["binding"]
        else "  binding quota: none measured",
        f"  bound: {_f(b['bound_per_hour'])} -> {_f(a['bound_per_hour'])} pipelines/hour; knee (N where N/D "
        f"reaches it, D = {_f((a['pipeline_seconds_uncontended'] or 0) / 60)} AWS min): N={_f(b['knee_n'], 0)} "
        f"-> N={_f(a['knee_n'], 0)}",
        "",
    ]
    header = ["N", "measured/h", "bound before", "bound after", "predicted/h"]
    if verified:
        header += ["verified/h", "error"]
    rows = []
    for level in result["levels"]:
        row = [
            str(level["level"]),
            _f(level["measured_per_hour"]),
            _f(level["bound_before"]),
            _f(level["bound_after"]),
            _f(level["predicted_per_hour"]),
        ]
        if verified:
            got = verified.get(level["level"])
            err = (
                f"{100 * (level['predicted_per_hour'] - got) / got:+.0f}%"
                if got and level["predicted_per_hour"]
                else "-"
            )
            row += [_f(got), err]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)] if rows else []
    lines += ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=False))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(lines)


def verify_profile(profile: str, rows: list[Quota], folder: Path) -> str:
    """A simulator profile: the run's, with the changed quota rows on top."""
    from harness.config import read_toml
    from harness.config import dumps_toml as toml_dumps
    from harness.profiles import available_profiles

    quota = [
        {
            k: v
            for k, v in (
                ("service", q.service),
                ("operation", q.operation),
                ("rate", q.rate),
                ("burst", q.burst),
                ("concurrency", q.concurrency),
            )
            if v is not None
        }
        for q in rows
    ]
    data: dict[str, Any]
    if profile in available_profiles():
        data = {"extends": profile, "quota": quota}
    else:
        data = read_toml(Path(profile))
        data["quota"] = list(data.get("quota", [])) + quota
    path = folder / "whatif-profile.toml"
    path.write_text(toml_dumps(data))
    return str(path)


def load(run_dir: Path) -> tuple[dict, QuotaTable]:
    from harness.report.render import quota_table_of

    path = run_dir / "metrics.json"
    if not path.exists():
        raise ValueError(f"{run_dir}: no metrics.json (not a run folder, or not reported)")
    return json.loads(path.read_text()), quota_table_of(run_dir)
