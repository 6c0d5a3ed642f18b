"""Build every report file of a run folder from its events alone.

    render("reports/<run-id>") -> {"html": ..., "markdown": ..., "metrics": ..., ...}
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from harness.events import load_events, load_meta
from harness.quotas import Quota, QuotaTable, load_table
from harness.report import plots
from harness.report.bottleneck import analyse
from harness.report.metrics import capacity_levels, level_time_scales, run_metrics, time_scales_text
from harness.report.usl import PREDICTED_AT, fit_usl


def quota_table_of(run_dir: Path) -> QuotaTable:
    """The quota table the run used: the default table with the scenario's overrides."""
    import tomllib
    table = load_table()
    try:
        scenario = tomllib.loads((run_dir / "scenario.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return table
    overrides = [Quota(**row) for row in scenario.get("quota_overrides", [])]
    return table.overridden(overrides)


def integrity(events: pd.DataFrame) -> list[dict]:
    """Per level and operation: requests the simulator counted against attempts recorded.
    Equal numbers mean nothing the run did was lost."""
    rows = []
    for end in events[events.kind == "level_end"].itertuples():
        sim = (json.loads(end.detail) if isinstance(end.detail, str) else {}).get("sim")
        if not sim:
            continue
        start = events[(events.kind == "level_start") & (events.level == end.level)].mono_time.min()
        attempts = events[(events.kind == "api_attempt") & (events.mono_time >= start)
                          & (events.mono_time <= end.mono_time)]
        recorded = attempts.groupby(["service", "operation"]).size()
        recorded = {f"{s}.{o}": int(n) for (s, o), n in recorded.items()}
        for op in sorted(set(recorded) | set(sim.get("operations", {}))):
            served = sim.get("operations", {}).get(op, {}).get("requests", 0)
            rows.append({"level": int(end.level), "operation": op, "simulator": served,
                         "recorded": recorded.get(op, 0), "match": served == recorded.get(op, 0)})
    return rows


def render(run_dir: str | Path) -> dict[str, Path]:
    run_dir = Path(run_dir)
    events = load_events(run_dir)
    meta = load_meta(run_dir)
    metrics = run_metrics(events, meta)
    table = quota_table_of(run_dir)
    usable = [l for l in capacity_levels(metrics["levels"]) if l["throughput_per_hour"]]
    open_model = any(l.get("arrivals") for l in metrics["levels"])  # levels are arrival rates, not N
    fit = None if open_model else fit_usl([l["level"] for l in usable], [l["throughput_per_hour"] for l in usable],
                                          failed=metrics["failed_levels"])
    bottleneck = analyse(metrics, table)
    checks = integrity(events)
    metrics["usl"] = fit
    metrics["bottleneck"] = bottleneck
    metrics["integrity"] = {"rows": checks, "all_match": all(r["match"] for r in checks) if checks else None}
    plot_paths = plots.render_all(events, metrics, fit, bottleneck.get("bound_pipelines_per_hour"),
                                  run_dir / "plots", bottleneck.get("bound_by_level"))

    paths = {"metrics": run_dir / "metrics.json", "markdown": run_dir / "summary.md",
             "html": run_dir / "report.html"}
    paths["metrics"].write_text(json.dumps(metrics, indent=2, default=str))
    paths["markdown"].write_text(markdown(metrics))
    paths["html"].write_text(html_report(metrics, plot_paths))
    for name, frame in csv_exports(events, metrics).items():
        path = run_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        paths[f"csv_{name}"] = path
    return paths


def csv_exports(events: pd.DataFrame, metrics: dict) -> dict[str, pd.DataFrame]:
    levels = pd.DataFrame([{
        "level": l["level"], "pipelines": l["pipelines"], "completed": l["completed"], "failed": l["failed"],
        "throughput_per_hour": l["throughput_per_hour"], "wall_seconds": l["wall_seconds"],
        "pipeline_p50_s": l["pipeline_seconds"]["p50"], "pipeline_p95_s": l["pipeline_seconds"]["p95"],
        "pipeline_p99_s": l["pipeline_seconds"]["p99"], "attempts": l["api"]["attempts"],
        "throttled": l["api"]["throttled"], "throttle_rate": l["api"]["throttle_rate"],
        "retries": l["api"]["retries"], "partial_detected": l["partial_state"]["detected"],
        "partial_failed": l["partial_state"]["failed"], "queries": l["queries"]["count"],
        "queries_failed": l["queries"]["failed"], "query_p95_s": l["queries"]["seconds"]["p95"],
        "contention": l["contention"]} for l in metrics["levels"]])
    operations = pd.DataFrame([{"level": l["level"], "operation": op, **{k: v for k, v in m.items()
                                                                         if k != "latency_seconds"},
                                "latency_p95_s": m["latency_seconds"]["p95"]}
                               for l in metrics["levels"] for op, m in l["api"]["by_operation"].items()])
    pipelines = events[events.kind == "pipeline_end"][["level", "worker", "pipeline", "outcome", "error_code",
                                                        "duration"]].copy()
    scales = level_time_scales(metrics)
    pipelines["duration_aws_s"] = pipelines.pop("duration") / pipelines.level.map(scales).fillna(metrics["time_scale"])
    return {"levels": levels, "operations": operations, "pipelines": pipelines}


def _fmt(value, digits=1, suffix="") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value}{suffix}"


def arrival_lines(metrics: dict) -> list[str]:
    """The open model's answers: the highest arrival rate the account kept up with, and where the
    queue began to grow."""
    levels = [l for l in metrics["levels"] if l.get("arrivals")]
    lines = []
    for l in levels:
        a = l["arrivals"]
        delay = a["start_delay_seconds"]
        if a.get("ramp"):
            grew = a.get("queue_grew_from_rate")
            lines.append(f"A ramp up to {l['level']} arriving per hour: {a['arrived']} arrived, {l['completed']} "
                         f"completed; " + (f"the queue began to grow at about {grew:.0f} pipelines/hour "
                                           f"(start delays past 5% of the pipeline time from then on)."
                                           if grew else "the queue drained all the way up."))
            continue
        lines.append(f"{l['level']} arriving per hour: {a['arrived']} arrived, {l['completed']} completed "
                     f"({_fmt(a['completed_per_hour'], 0)}/h over the {a['window_seconds'] / 60:.0f}-minute window), "
                     f"started late by {_fmt((delay['p50'] or 0) / 60)} min (p50) and {_fmt((delay['p95'] or 0) / 60)} "
                     f"min (p95); {'the queue drained' if a['sustained'] else 'the queue grew'}.")
    lines += level_failure_lines(levels, lambda rate: f"At {rate} arriving per hour")
    kept = [l["level"] for l in levels if l["arrivals"]["sustained"] and not l["arrivals"].get("ramp")]
    b = metrics.get("bottleneck") or {}
    binding = b.get("binding")
    quota = (f"; the quota that binds: {binding['quota']}, which allows {binding['max_pipelines_per_hour']:.0f}/h"
             if binding else "")
    predicted = metrics.get("predicted_sustainable_per_hour")
    if predicted:
        quota += f"; harness plan predicted {predicted:.0f}/h before the run"
    if kept:
        lines.append(f"Highest sustainable arrival rate measured: {max(kept)} pipelines/hour{quota}.")
    elif levels and not any(l["arrivals"].get("ramp") for l in levels):
        lines.append(f"No arrival rate measured was sustained: the queue grew at every one{quota}.")
    elif binding:
        lines.append(f"The quota that binds: {binding['quota']}, which allows "
                     f"{binding['max_pipelines_per_hour']:.0f}/h" + (f"; harness plan predicted {predicted:.0f}/h "
                                                                    "before the run." if predicted else "."))
    return lines


def headline(metrics: dict) -> list[str]:
    """The answers a capacity planner wants, in sentences: the open model's or the closed one's,
    then how far to trust the measurement. Where every level failed there are no answers, only
    why the pipelines failed."""
    levels = metrics["levels"]
    if metrics.get("every_level_failed"):
        return every_level_failed_lines(metrics) + health_lines(metrics)
    if any(l.get("arrivals") for l in levels):
        return arrival_lines(metrics) + health_lines(metrics)
    return closed_lines(metrics) + health_lines(metrics)


def counted(reasons) -> str:
    """(reason, count) pairs as '4 × athena.StartQueryExecution: HTTP 404; 1 × throttling' (a
    reason may hold colons and commas, so semicolons part them)."""
    return "; ".join(f"{n} × {reason}" for reason, n in reasons)


def every_level_failed_lines(metrics: dict) -> list[str]:
    levels = metrics["levels"]
    top = [(r["reason"], r["count"]) for r in metrics["top_failure_reasons"]]
    return [f"EVERY LEVEL FAILED: none of the run's {sum(l['pipelines'] for l in levels)} pipelines completed "
            f"({sum(l['failed'] for l in levels)} failed), so it measured no capacity: no throughput, binding "
            "quota, raise or USL prediction.",
            f"Top failure reasons: {counted(top)}."]


def level_failure_lines(levels: list[dict], name=lambda n: f"N={n}") -> list[str]:
    """Why each level's failed pipelines failed; a level where none completed is left out of the
    capacity figures, and says so."""
    lines = []
    for l in (l for l in levels if l["failed"]):
        reasons = counted(l["failure_reasons"].items())
        if l["completed"]:
            lines.append(f"{name(l['level'])}: {l['failed']} of {l['pipelines']} pipelines failed: {reasons}.")
        else:
            lines.append(f"{name(l['level'])} failed: no pipeline completed, {l['failed']} of {l['pipelines']} "
                         f"failed: {reasons}; the capacity figures leave it out.")
    return lines


def closed_lines(metrics: dict) -> list[str]:
    """N pipelines at once: the highest clean level, peak throughput, the binding quota, the fit."""
    lines = []
    levels = metrics["levels"]
    clean = [l["level"] for l in levels if l["failed"] == 0 and l["completed"]]
    if clean:
        lines.append(f"Highest level with no failed pipeline: N={max(clean)}.")
    lines += level_failure_lines(levels)
    best = max(levels, key=lambda l: l["throughput_per_hour"] or 0, default=None)
    b = metrics.get("bottleneck") or {}
    if best and best["throughput_per_hour"]:
        how = {"steady": "steady state, after the ramp-up",
               "departures": "pipelines finished in the window after the ramp-up",
               }.get(best.get("throughput_method"), "completed / level time, ramp-up and tail included")
        bound = (b.get("bound_by_level") or {}).get(str(best["level"]))
        share = f", {100 * best['throughput_per_hour'] / bound:.0f}% of the bound there" if bound else ""
        lines.append(f"Peak measured throughput: {best['throughput_per_hour']:.0f} pipelines/hour at "
                     f"N={best['level']} ({how}{share}).")
    lines += contention_lines(levels)
    if b.get("binding"):
        row = b["binding"]
        limit = (f"limit about {row['limit']:.3g} as the account enforced it, the table says {row['table_limit']:g}"
                 if row.get("enforced") else f"limit {row['limit']:g}")
        lines.append(f"The quota that binds first in steady state: {row['quota']} ({limit}, "
                     f"{row['demand_per_pipeline']:.1f} {row['unit']} per pipeline) caps throughput at "
                     f"{row['max_pipelines_per_hour']:.0f} pipelines/hour.")
        for other in (r for r in b.get("quotas", []) if r.get("enforced")):
            seen = other["enforced"]
            how = (f"{seen['refused']} creates refused, at most {seen['enforced']} in progress"
                   if seen["kind"] == "concurrency" else
                   f"{seen['throttled']} calls throttled, about {seen['enforced']:.3g}/s getting through")
            lines.append(f"The account enforced less than the quota table says: {other['quota']} about "
                         f"{other['limit']:.3g}, the table {other['table_limit']:g} ({how} at N={seen['level']}); "
                         "the plan uses what the account enforced.")
        for n, need in row.get("needed_for", {}).items():
            if need["raise_by"] > 1:
                d = b.get("pipeline_seconds_uncontended")
                lines.append(f"To run {n} pipelines at once without queueing on it, raise it to "
                             f"{need['limit']:.3g} (x{need['raise_by']:.1f}), for pipelines of "
                             f"{d / 60:.0f} AWS minutes with nothing to queue for (from "
                             f"{b.get('uncontended_from', 'the least contended level')}).")
                break
    fit = metrics.get("usl")
    if fit:
        lines.extend(usl_lines(metrics))
    unsteady = [str(l["level"]) for l in levels if l.get("throughput_method") == "departures"]
    if unsteady:
        lines.append(f"Not in steady state by the end of the window at N={', '.join(unsteady)} (a queue for a "
                     "quota was still building): throughput there counts the pipelines that finished in the "
                     "window; a longer duration_seconds measures the sustained rate.")
    return lines


def health_lines(metrics: dict) -> list[str]:
    """The simulator, the measurement's own cost, the limiter, what was left behind."""
    lines, levels = [], metrics["levels"]
    if any((l["simulator"] or {}).get("saturated") for l in levels):
        lines.append("Warning: the simulator itself saturated at some level (requests queued for moto); "
                     "a slower time scale (e.g. 1/30 instead of 1/60) or a lower N measures the account, not "
                     "the simulator.")
    heavy = [l for l in levels if (l.get("overhead") or {}).get("high")]
    if heavy:
        worst = max(heavy, key=lambda l: l["overhead"]["share_of_pipeline"])
        lines.append(f"Warning: at N={', '.join(str(l['level']) for l in heavy)} the measurement's own delay "
                     f"(harness and simulator CPU, beyond the profile's latency) added up to "
                     f"{100 * worst['overhead']['share_of_pipeline']:.0f}% of pipeline time at N={worst['level']}: "
                     "part of what looks like contention there is the machine; a slower time scale measures "
                     "the account.")
    if metrics.get("limiter_fallbacks"):
        lines.append(f"Warning: the shared limiter (Redis) could not be reached by {metrics['limiter_fallbacks']} "
                     "process(es) of this run, which went on with limiters of their own: other runs on the "
                     "account were not counted against its quotas from then on.")
    left = metrics.get("left_behind")
    if left:
        lines.append("LEFT BEHIND at the end, by the simulator's own count: "
                     + ", ".join(f"{n} {kind}" for kind, n in sorted(left.items())) + ".")
    elif left is not None:
        lines.append("Nothing left behind: the simulator held no resource at the end.")
    if not metrics["complete"]:
        lines.append(f"INCOMPLETE RUN (stopped by {metrics.get('stopped_by') or 'a crash'}): figures cover what was recorded.")
    return lines


# A level is contended once its median pipeline takes this much longer than the least loaded
# level's, or this share of its API attempts is throttled.
CONTENDED_SLOWDOWN = 1.05
CONTENDED_THROTTLE_RATE = 0.01


def _quota_waits(level: dict) -> list[tuple[str, float]]:
    waits = (level.get("waits") or {}).get("quota_wait_by_quota") or {}
    return sorted(((q, s) for q, s in waits.items() if s >= 1.0), key=lambda item: -item[1])


def contention_lines(levels: list[dict]) -> list[str]:
    """Where contention starts and, at the largest level, which quotas the pipelines queued
    for: measured waits, whichever quota the steady-state bound names."""
    measured = [l for l in levels if l["completed"] and l["pipeline_seconds"]["p50"]]
    if len(measured) < 2:
        return []
    base = measured[0]
    lines = []
    for l in measured[1:]:
        slowdown = l["pipeline_seconds"]["p50"] / base["pipeline_seconds"]["p50"]
        if slowdown < CONTENDED_SLOWDOWN and l["api"]["throttle_rate"] < CONTENDED_THROTTLE_RATE and not l["failed"]:
            continue
        signs = [f"median pipeline {100 * (slowdown - 1):+.0f}% against N={base['level']}"]
        if l["api"]["throttled"]:
            signs.append(f"{l['api']['throttled']} throttled attempts ({100 * l['api']['throttle_rate']:.1f}%)")
        waits = _quota_waits(l)
        if waits:
            signs.append(f"quota waits {l['waits']['quota_wait_seconds_per_pipeline']:.0f} s per pipeline, "
                         f"most for {waits[0][0]} concurrency")
        if l.get("contention"):
            signs.append(f"{l['contention']} metadata write collisions")
        before = levels[levels.index(l) - 1]["level"]
        lines.append(f"Contention starts between N={before} and N={l['level']}: " + "; ".join(signs) + ".")
        break
    else:
        lines.append(f"No contention measured up to N={measured[-1]['level']} (median pipeline within "
                     f"{100 * (CONTENDED_SLOWDOWN - 1):.0f}% of N={base['level']}'s, under "
                     f"{100 * CONTENDED_THROTTLE_RATE:.0f}% throttled).")
    top = measured[-1]
    waits = _quota_waits(top)
    if waits:
        lines.append(f"At N={top['level']} the pipelines queued longest for "
                     + ", then ".join(f"{q} concurrency ({s:.0f} s each)" for q, s in waits[:3]) + ".")
    return lines


def usl_lines(metrics: dict) -> list[str]:
    """The fit, how far to trust it, and its prediction (none from a degenerate fit, and none at
    or beyond a level above those fitted where every pipeline failed)."""
    fit = metrics["usl"]
    failed = metrics.get("failed_levels") or []
    top = max((l["level"] for l in metrics["levels"] if l["level"] not in failed), default=0)  # the largest fitted
    cut = min((n for n in failed if n > top), default=None)
    refused = (f"; no prediction at N={cut} or beyond: N={cut} failed (no pipeline completed)"
               if cut is not None and any(k >= cut for k in PREDICTED_AT) else "")
    alt = fit.get("alternatives") or {}
    compare = (f" Beside it, linear R²={alt['linear']['r2']:.2f} (RMSE {alt['linear']['rmse']:.1f}/h), Amdahl "
               f"R²={alt['amdahl']['r2']:.2f} (RMSE {alt['amdahl']['rmse']:.1f}/h).") if alt else ""
    if fit.get("degenerate"):
        return [f"USL: no contention measured in this range (sigma and kappa fit as 0, R²={fit['r2']:.2f}): "
                f"measure higher N. No prediction beyond N={top}.{compare}"]
    ci = fit.get("intervals")
    spread = (lambda k: f" (95% CI {ci[k][0]:.3g} to {ci[k][1]:.3g})") if ci else (lambda k: "")
    peak = f"peak at N*={fit['peak_n']:.0f}" if fit["peak_n"] else "no peak within reach (kappa = 0)"
    predicted = ", ".join(f"{v:.0f}/h at {k}" for k, v in list(fit["predicted"].items())[:2])
    lines = [f"USL fit: sigma={fit['sigma']:.3g}{spread('sigma')}, kappa={fit['kappa']:.3g}{spread('kappa')}, "
             f"R²={fit['r2']:.2f}, RMSE {fit.get('rmse', 0):.1f}/h; {peak}"
             + (f"; predicted {predicted}" if predicted else "") + refused + f"{usl_caveat(metrics)}.{compare}"]
    if not ci:
        lines.append("USL: as many levels as parameters, so no confidence interval; the fit passes through "
                     "every point whatever the truth.")
    lines += [f"Warning: {w}." for w in fit.get("warnings", [])]
    return lines


def usl_caveat(metrics: dict) -> str:
    """The USL fits the levels measured; it cannot see a quota that binds beyond them."""
    fit, b = metrics.get("usl") or {}, metrics.get("bottleneck") or {}
    cap = b.get("bound_pipelines_per_hour")
    if not cap or not fit or not fit["predicted"] or max(fit["predicted"].values()) <= cap:
        return ""
    return (f" (beyond the measured levels the fit cannot see the binding quota: "
            f"{b['binding']['quota']} caps throughput at {cap:.0f}/h)")


def level_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    header = ["N", "done", "failed", "pipelines/h", "p50 min", "p95 min", "p99 min", "attempts/pipeline",
              "throttled", "retries", "limiter wait s/pipeline", "quota wait s/pipeline", "partial seen/failed",
              "wall s"]
    rows = []
    for l in metrics["levels"]:
        p = l["pipeline_seconds"]
        rows.append([str(l["level"]), str(l["completed"]), str(l["failed"]), _fmt(l["throughput_per_hour"]),
                     _fmt(p["p50"] and p["p50"] / 60), _fmt(p["p95"] and p["p95"] / 60), _fmt(p["p99"] and p["p99"] / 60),
                     _fmt(l["api"]["attempts_per_pipeline"]),
                     f"{l['api']['throttled']} ({100 * l['api']['throttle_rate']:.1f}%)", str(l["api"]["retries"]),
                     _fmt(l["waits"]["limiter_seconds_per_pipeline"]), _fmt(l["waits"]["quota_wait_seconds_per_pipeline"]),
                     f"{l['partial_state']['detected']}/{l['partial_state']['failed']}", _fmt(l["wall_seconds"], 0)])
    if any(l["queries"]["count"] or l["contention"] for l in metrics["levels"]):
        # pipelines that query Athena and write shared metadata: how long queries took, and collisions
        header[-1:-1] = ["Athena queries/pipeline (p95 s)", "metadata collisions"]
        for row, l in zip(rows, metrics["levels"]):
            row[-1:-1] = [f"{_fmt(l['queries']['count'] / max(1, l['pipelines']))} ({_fmt(l['queries']['seconds']['p95'])})",
                          str(l["contention"])]
    return header, rows


def bottleneck_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    header = ["quota", "limit", "demand per pipeline", "max pipelines/h", "raise for N=64", "source"]
    rows = []
    for row in (metrics.get("bottleneck") or {}).get("quotas", [])[:12]:
        need = row.get("needed_for", {}).get("64")
        rows.append([row["quota"], f"{row['limit']:g}", f"{row['demand_per_pipeline']:.2f} {row['unit']}",
                     _fmt(row["max_pipelines_per_hour"], 0), f"x{need['raise_by']:.2f}" if need else "-",
                     row["source"]])
    return header, rows


def health_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Was each level a measurement of the account? The simulator's queue for moto, and the
    time per call beyond the profile's latency (harness CPU, GIL, transport, moto's work)."""
    header = ["N", "requests/s", "max in flight", "queue mean ms", "overhead ms/call p50 (p95)",
              "of it in the simulator / client, mean ms", "overhead share of pipeline time", "simulator saturated"]
    rows = []
    for l in metrics["levels"]:
        sim, over = l.get("simulator") or {}, l.get("overhead") or {}
        if not sim and not over:
            continue
        per_call = over.get("per_call_wall_ms") or {}
        share = over.get("share_of_pipeline")
        rows.append([str(l["level"]), _fmt(sim.get("requests_per_second")), str(sim.get("max_in_flight", "-")),
                     _fmt(sim.get("queue_mean_ms"), 2),
                     f"{_fmt(per_call.get('p50'), 2)} ({_fmt(per_call.get('p95'), 2)})" if per_call else "-",
                     f"{_fmt((over.get('simulator_wall_ms') or {}).get('mean'), 2)} / "
                     f"{_fmt((over.get('client_wall_ms') or {}).get('mean'), 2)}" if per_call else "-",
                     (_fmt(100 * share, 1, "%") + (" (high)" if over.get("high") else "")) if share is not None else "-",
                     "yes" if sim.get("saturated") else ("no" if sim else "-")])
    return header, rows


def markdown(metrics: dict) -> str:
    def table(header, rows):
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(r) + " |" for r in rows])
    out = [f"# Stress run {metrics['run_id']}",
           f"Scenario `{metrics['scenario']}` on `{metrics['backend']}` (profile `{metrics['profile']}`), "
           f"policy `{metrics['policy']}`, {time_scales_text(metrics)} "
           f"(figures in AWS time).", ""]
    out += [f"- {line}" for line in headline(metrics)] + [""]
    out += ["## Levels", table(*level_table(metrics)), "", "## Quotas, tightest first", table(*bottleneck_table(metrics))]
    health = health_table(metrics)
    if health[1]:
        out += ["", "## Measurement health",
                "Wall milliseconds per call beyond the profile's latency; the share adds them up per pipeline "
                "in AWS time (an upper bound where calls overlap).", table(*health)]
    integrity_info = metrics.get("integrity", {})
    if integrity_info.get("all_match") is not None:
        out += ["", f"Integrity: simulator counters {'match' if integrity_info['all_match'] else 'DO NOT match'} "
                    f"the recorded attempts for every operation."]
    return "\n".join(out) + "\n"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
         "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;"
         "padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
         ".answer{background:#f6f9ff;border-left:4px solid #4c72b0;padding:0.5em 1em}"
         ".warn{background:#fff4f0;border-left:4px solid #c44e52;padding:0.5em 1em}"
         "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}.grid{display:grid;"
         "grid-template-columns:1fr 1fr;gap:1em}")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _html_table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(metrics: dict, plot_paths: dict[str, Path]) -> str:
    lines = "".join(f"<li>{html.escape(l)}</li>" for l in headline(metrics))
    answer = (f'<div class="warn"><h2>Every level failed: no capacity was measured</h2><ul>{lines}</ul></div>'
              if metrics.get("every_level_failed") else
              f'<div class="answer"><h2>How far does it scale?</h2><ul>{lines}</ul></div>')
    plots_html = "".join(f"<figure>{_img(p)}</figure>" for k, p in plot_paths.items() if k != "timeline")
    timeline = _img(plot_paths["timeline"]) if "timeline" in plot_paths else ""
    integrity_rows = [[str(r["level"]), r["operation"], str(r["simulator"]), str(r["recorded"]),
                       "yes" if r["match"] else "NO"] for r in metrics.get("integrity", {}).get("rows", [])]
    fit = metrics.get("usl")
    no_fit = ("No fit: no level completed a pipeline." if metrics.get("every_level_failed")
              else "Not enough levels for a fit (three or more needed).")
    fit_html = (f"<p>{no_fit}</p>" if not fit else
                f"<p>λ={fit['lambda']:.1f}/h per pipeline, σ={fit['sigma']:.4g}, κ={fit['kappa']:.4g}, "
                f"R²={fit['r2']:.3f}, N*={_fmt(fit['peak_n'], 0)}.</p>"
                + "".join(f"<p>{html.escape(line)}</p>" for line in usl_lines(metrics)))
    status = "" if metrics["complete"] else (
        f'<p class="warn">Incomplete run (stopped by {html.escape(str(metrics.get("stopped_by") or "a crash"))}):'
        " the figures cover what was recorded before it stopped.</p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stress run {html.escape(str(metrics['run_id']))}</title>
<style>{STYLE}</style></head><body>
<h1>Stress run {html.escape(str(metrics['run_id']))}</h1>
<p>Scenario <b>{html.escape(str(metrics['scenario']))}</b> on <b>{html.escape(str(metrics['backend']))}</b>
(profile {html.escape(str(metrics['profile']))}), retry policy <b>{html.escape(str(metrics['policy']))}</b>,
{time_scales_text(metrics)}: durations and rates are AWS time; the wall column says what each level took.</p>
{status}
{answer}
<h2>Levels</h2>{_html_table(*level_table(metrics))}
<div class="grid">{plots_html}</div>
<h2>Timeline of the largest level</h2>{timeline}
<h2>Quotas, tightest first</h2>
<p>Demand per pipeline is measured at the least contended level; the highest throughput each quota allows
follows from the utilisation law (rate quotas) and Little's law (concurrency quotas).</p>
{_html_table(*bottleneck_table(metrics))}
<h2>Universal Scalability Law</h2>{fit_html}
<h2>Measurement health</h2>
<p>Queueing for moto means the simulator, not the simulated account, was the limit. Overhead is each call's
wall time beyond the latency the profile asked for (harness CPU, GIL, transport, moto's work); at a time scale
of 1/60 every wall millisecond of it is 60 AWS milliseconds added to the pipeline.</p>
{_html_table(*health_table(metrics))}
<h2>Integrity</h2>
<p>Requests the simulator counted against attempts the harness recorded, per operation.</p>
{_html_table(["N", "operation", "simulator", "recorded", "match"], integrity_rows)}
<script>
// Say how many plots loaded (tests read it), and name any that did not.
window.addEventListener("load", () => {{
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.plotsLoaded = ok.length + "/" + images.length;
  images.filter(i => !ok.includes(i)).forEach(i => {{
    const note = document.createElement("p");
    note.className = "warn";
    note.textContent = "plot missing: " + i.alt;
    i.replaceWith(note);
  }});
}});
</script>
</body></html>
"""
