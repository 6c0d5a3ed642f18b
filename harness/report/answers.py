"""The report's answers in sentences: how far the account scales, where contention starts, which
quota binds and how far to raise it, the USL fit, and how far to trust the measurement."""

from __future__ import annotations

from harness.report.usl import PREDICTED_AT


def _fmt(value, digits=1, suffix="") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value}{suffix}"


def arrival_lines(metrics: dict) -> list[str]:
    """The open model's answers: the highest arrival rate the account kept up with, and where the
    queue began to grow."""
    levels = [level for level in metrics["levels"] if level.get("arrivals")]
    lines = []
    for level in levels:
        a = level["arrivals"]
        delay = a["start_delay_seconds"]
        if a.get("ramp"):
            grew = a.get("queue_grew_from_rate")
            lines.append(
                f"A ramp up to {level['level']} arriving per hour: {a['arrived']} arrived, {level['completed']} "
                f"completed; "
                + (
                    f"the queue began to grow at about {grew:.0f} pipelines/hour "
                    f"(start delays past 5% of the pipeline time from then on)."
                    if grew
                    else "the queue drained all the way up."
                )
            )
            continue
        lines.append(
            f"{level['level']} arriving per hour: {a['arrived']} arrived, {level['completed']} completed "
            f"({_fmt(a['completed_per_hour'], 0)}/h over the {a['window_seconds'] / 60:.0f}-minute window), "
            f"started late by {_fmt((delay['p50'] or 0) / 60)} min (p50) and {_fmt((delay['p95'] or 0) / 60)} "
            f"min (p95); {'the queue drained' if a['sustained'] else 'the queue grew'}."
        )
    lines += level_failure_lines(levels, lambda rate: f"At {rate} arriving per hour")
    kept = [level["level"] for level in levels if level["arrivals"]["sustained"] and not level["arrivals"].get("ramp")]
    b = metrics.get("bottleneck") or {}
    binding = b.get("binding")
    quota = (
        f"; the quota that binds: {binding['quota']}, which allows {binding['max_pipelines_per_hour']:.0f}/h"
        if binding
        else ""
    )
    predicted = metrics.get("predicted_sustainable_per_hour")
    if predicted:
        quota += f"; harness plan predicted {predicted:.0f}/h before the run"
    if kept:
        lines.append(f"Highest sustainable arrival rate measured: {max(kept)} pipelines/hour{quota}.")
    elif levels and not any(level["arrivals"].get("ramp") for level in levels):
        lines.append(f"No arrival rate measured was sustained: the queue grew at every one{quota}.")
    elif binding:
        lines.append(
            f"The quota that binds: {binding['quota']}, which allows "
            f"{binding['max_pipelines_per_hour']:.0f}/h"
            + (f"; harness plan predicted {predicted:.0f}/h before the run." if predicted else ".")
        )
    return lines


def headline(metrics: dict) -> list[str]:
    """The answers a capacity planner wants, in sentences: the open model's or the closed one's,
    then how far to trust the measurement. Where every level failed there are no answers, only
    why the pipelines failed."""
    levels = metrics["levels"]
    if metrics.get("every_level_failed"):
        return every_level_failed_lines(metrics) + health_lines(metrics)
    if any(level.get("arrivals") for level in levels):
        return arrival_lines(metrics) + health_lines(metrics)
    return closed_lines(metrics) + health_lines(metrics)


def counted(reasons) -> str:
    """(reason, count) pairs as '4 × athena.StartQueryExecution: HTTP 404; 1 × throttling' (a
    reason may hold colons and commas, so semicolons part them)."""
    return "; ".join(f"{n} × {reason}" for reason, n in reasons)


def every_level_failed_lines(metrics: dict) -> list[str]:
    levels = metrics["levels"]
    top = [(r["reason"], r["count"]) for r in metrics["top_failure_reasons"]]
    return [
        f"EVERY LEVEL FAILED: none of the run's {sum(level['pipelines'] for level in levels)} pipelines completed "
        f"({sum(level['failed'] for level in levels)} failed), so it measured no capacity: no throughput, binding "
        "quota, raise or USL prediction.",
        f"Top failure reasons: {counted(top)}.",
    ]


def level_failure_lines(levels: list[dict], name=lambda n: f"N={n}") -> list[str]:
    """Why each level's failed pipelines failed; a level where none completed is left out of the
    capacity figures, and says so."""
    lines = []
    for level in (level for level in levels if level["failed"]):
        reasons = counted(level["failure_reasons"].items())
        if level["completed"]:
            lines.append(
                f"{name(level['level'])}: {level['failed']} of {level['pipelines']} pipelines failed: {reasons}."
            )
        else:
            lines.append(
                f"{name(level['level'])} failed: no pipeline completed, {level['failed']} of {level['pipelines']} "
                f"failed: {reasons}; the capacity figures leave it out."
            )
    return lines


def closed_lines(metrics: dict) -> list[str]:
    """N pipelines at once: the highest clean level, peak throughput, the binding quota, the fit."""
    lines = []
    levels = metrics["levels"]
    clean = [level["level"] for level in levels if level["failed"] == 0 and level["completed"]]
    if clean:
        lines.append(f"Highest level with no failed pipeline: N={max(clean)}.")
    lines += level_failure_lines(levels)
    best = max(levels, key=lambda level: level["throughput_per_hour"] or 0, default=None)
    b = metrics.get("bottleneck") or {}
    if best and best["throughput_per_hour"]:
        how = {
            "steady": "steady state, after the ramp-up",
            "departures": "pipelines finished in the window after the ramp-up",
        }.get(best.get("throughput_method"), "completed / level time, ramp-up and tail included")
        bound = (b.get("bound_by_level") or {}).get(str(best["level"]))
        share = f", {100 * best['throughput_per_hour'] / bound:.0f}% of the bound there" if bound else ""
        lines.append(
            f"Peak measured throughput: {best['throughput_per_hour']:.0f} pipelines/hour at "
            f"N={best['level']} ({how}{share})."
        )
    lines += contention_lines(levels)
    if b.get("binding"):
        row = b["binding"]
        limit = (
            f"limit about {row['limit']:.3g} as the account enforced it, the table says {row['table_limit']:g}"
            if row.get("enforced")
            else f"limit {row['limit']:g}"
        )
        lines.append(
            f"The quota that binds first in steady state: {row['quota']} ({limit}, "
            f"{row['demand_per_pipeline']:.1f} {row['unit']} per pipeline) caps throughput at "
            f"{row['max_pipelines_per_hour']:.0f} pipelines/hour."
        )
        for other in (r for r in b.get("quotas", []) if r.get("enforced")):
            seen = other["enforced"]
            how = (
                f"{seen['refused']} creates refused, at most {seen['enforced']} in progress"
                if seen["kind"] == "concurrency"
                else f"{seen['throttled']} calls throttled, about {seen['enforced']:.3g}/s getting through"
            )
            lines.append(
                f"The account enforced less than the quota table says: {other['quota']} about "
                f"{other['limit']:.3g}, the table {other['table_limit']:g} ({how} at N={seen['level']}); "
                "the plan uses what the account enforced."
            )
        d = b.get("pipeline_seconds_uncontended")  # needed_for is worked out only where D is known
        for n, need in row.get("needed_for", {}).items():
            if need["raise_by"] > 1 and d is not None:
                lines.append(
                    f"To run {n} pipelines at once without queueing on it, raise it to "
                    f"{need['limit']:.3g} (x{need['raise_by']:.1f}), for pipelines of "
                    f"{d / 60:.0f} AWS minutes with nothing to queue for (from "
                    f"{b.get('uncontended_from', 'the least contended level')})."
                )
                break
    fit = metrics.get("usl")
    if fit:
        lines.extend(usl_lines(metrics))
    unsteady = [str(level["level"]) for level in levels if level.get("throughput_method") == "departures"]
    if unsteady:
        lines.append(
            f"Not in steady state by the end of the window at N={', '.join(unsteady)} (a queue for a "
            "quota was still building): throughput there counts the pipelines that finished in the "
            "window; a longer duration_seconds measures the sustained rate."
        )
    return lines


def health_lines(metrics: dict) -> list[str]:
    """The simulator, the measurement's own cost, the limiter, what was left behind."""
    lines, levels = [], metrics["levels"]
    if any((level["simulator"] or {}).get("saturated") for level in levels):
        lines.append(
            "Warning: the simulator itself saturated at some level (requests queued for moto); "
            "a slower time scale (e.g. 1/30 instead of 1/60) or a lower N measures the account, not "
            "the simulator."
        )
    heavy = [level for level in levels if (level.get("overhead") or {}).get("high")]
    if heavy:
        worst = max(heavy, key=lambda level: level["overhead"]["share_of_pipeline"])
        lines.append(
            f"Warning: at N={', '.join(str(level['level']) for level in heavy)} the measurement's own delay "
            f"(harness and simulator CPU, beyond the profile's latency) added up to "
            f"{100 * worst['overhead']['share_of_pipeline']:.0f}% of pipeline time at N={worst['level']}: "
            "part of what looks like contention there is the machine; a slower time scale measures "
            "the account."
        )
    caught = metrics.get("wall_sleeps") or {}
    if caught.get("count"):
        lines.append(
            f"Note: {caught['count']} time.sleep call(s) inside pipelines were caught on virtual time and slept "
            f"on the run's clock instead (the first: {caught.get('first', '?')}): code that sleeps on the "
            "wall waits as long in AWS time here."
        )
    if metrics.get("limiter_fallbacks"):
        lines.append(
            f"Warning: the shared limiter (Redis) could not be reached by {metrics['limiter_fallbacks']} "
            "process(es) of this run, which went on with limiters of their own: other runs on the "
            "account were not counted against its quotas from then on."
        )
    left = metrics.get("left_behind")
    if left:
        lines.append(
            "LEFT BEHIND at the end, by the simulator's own count: "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(left.items()))
            + "."
        )
    elif left is not None:
        lines.append("Nothing left behind: the simulator held no resource at the end.")
    if not metrics["complete"]:
        lines.append(
            f"INCOMPLETE RUN (stopped by {metrics.get('stopped_by') or 'a crash'}): figures cover what was recorded."
        )
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
    measured = [level for level in levels if level["completed"] and level["pipeline_seconds"]["p50"]]
    if len(measured) < 2:
        return []
    base = measured[0]
    lines = []
    for level in measured[1:]:
        slowdown = level["pipeline_seconds"]["p50"] / base["pipeline_seconds"]["p50"]
        if (
            slowdown < CONTENDED_SLOWDOWN
            and level["api"]["throttle_rate"] < CONTENDED_THROTTLE_RATE
            and not level["failed"]
        ):
            continue
        signs = [f"median pipeline {100 * (slowdown - 1):+.0f}% against N={base['level']}"]
        if level["api"]["throttled"]:
            signs.append(f"{level['api']['throttled']} throttled attempts ({100 * level['api']['throttle_rate']:.1f}%)")
        waits = _quota_waits(level)
        if waits:
            signs.append(
                f"quota waits {level['waits']['quota_wait_seconds_per_pipeline']:.0f} s per pipeline, "
                f"most for {waits[0][0]} concurrency"
            )
        if level.get("contention"):
            signs.append(f"{level['contention']} metadata write collisions")
        before = levels[levels.index(level) - 1]["level"]
        lines.append(f"Contention starts between N={before} and N={level['level']}: " + "; ".join(signs) + ".")
        break
    else:
        lines.append(
            f"No contention measured up to N={measured[-1]['level']} (median pipeline within "
            f"{100 * (CONTENDED_SLOWDOWN - 1):.0f}% of N={base['level']}'s, under "
            f"{100 * CONTENDED_THROTTLE_RATE:.0f}% throttled)."
        )
    top = measured[-1]
    waits = _quota_waits(top)
    if waits:
        lines.append(
            f"At N={top['level']} the pipelines queued longest for "
            + ", then ".join(f"{q} concurrency ({s:.0f} s each)" for q, s in waits[:3])
            + "."
        )
    return lines


def usl_lines(metrics: dict) -> list[str]:
    """The fit, how far to trust it, and its prediction (none from a degenerate fit, and none at
    or beyond a level above those fitted where every pipeline failed)."""
    fit = metrics["usl"]
    failed = metrics.get("failed_levels") or []
    top = max(
        (level["level"] for level in metrics["levels"] if level["level"] not in failed), default=0
    )  # the largest fitted
    cut = min((n for n in failed if n > top), default=None)
    refused = (
        f"; no prediction at N={cut} or beyond: N={cut} failed (no pipeline completed)"
        if cut is not None and any(k >= cut for k in PREDICTED_AT)
        else ""
    )
    alt = fit.get("alternatives") or {}
    compare = (
        (
            f" Beside it, linear R²={alt['linear']['r2']:.2f} (RMSE {alt['linear']['rmse']:.1f}/h), Amdahl "
            f"R²={alt['amdahl']['r2']:.2f} (RMSE {alt['amdahl']['rmse']:.1f}/h)."
        )
        if alt
        else ""
    )
    if fit.get("degenerate"):
        return [
            f"USL: no contention measured in this range (sigma and kappa fit as 0, R²={fit['r2']:.2f}): "
            f"measure higher N. No prediction beyond N={top}.{compare}"
        ]
    ci = fit.get("intervals")
    spread = (lambda k: f" (95% CI {ci[k][0]:.3g} to {ci[k][1]:.3g})") if ci else (lambda k: "")
    peak = f"peak at N*={fit['peak_n']:.0f}" if fit["peak_n"] else "no peak within reach (kappa = 0)"
    predicted = ", ".join(f"{v:.0f}/h at {k}" for k, v in list(fit["predicted"].items())[:2])
    lines = [
        f"USL fit: sigma={fit['sigma']:.3g}{spread('sigma')}, kappa={fit['kappa']:.3g}{spread('kappa')}, "
        f"R²={fit['r2']:.2f}, RMSE {fit.get('rmse', 0):.1f}/h; {peak}"
        + (f"; predicted {predicted}" if predicted else "")
        + refused
        + f"{usl_caveat(metrics)}.{compare}"
    ]
    if not ci:
        lines.append(
            "USL: as many levels as parameters, so no confidence interval; the fit passes through "
            "every point whatever the truth."
        )
    lines += [f"Warning: {w}." for w in fit.get("warnings", [])]
    return lines


def usl_caveat(metrics: dict) -> str:
    """The USL fits the levels measured; it cannot see a quota that binds beyond them."""
    fit, b = metrics.get("usl") or {}, metrics.get("bottleneck") or {}
    cap = b.get("bound_pipelines_per_hour")
    if not cap or not fit or not fit["predicted"] or max(fit["predicted"].values()) <= cap:
        return ""
    return (
        f" (beyond the measured levels the fit cannot see the binding quota: "
        f"{b['binding']['quota']} caps throughput at {cap:.0f}/h)"
    )
