"""The report's content, defined once: its sections in order, each with its sentences, table and
plots. The HTML, Markdown and CSV writers (writers.py) render the same sections, so the formats
cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.report.answers import _fmt, headline, usl_lines
from harness.report.metrics import time_scales_text
from harness.report.tables import bottleneck_table, health_table, integrity_table, level_table

Table = tuple[list[str], list[list[str]]]


@dataclass
class Section:
    key: str  # a stable name: the CSV its table is written to (`table_<key>.csv`), the HTML anchor
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    table: Table | None = None
    plots: list[str] = field(default_factory=list)  # plot names (plots/<name>.png), in this order
    tone: str = "plain"  # "answer" or "warn": how the HTML frames it


def sections(metrics: dict, plot_names: list[str]) -> list[Section]:
    failed_everywhere = bool(metrics.get("every_level_failed"))
    out = [
        Section(
            "run",
            f"Stress run {metrics['run_id']}",
            [
                f"Scenario {metrics['scenario']} on {metrics['target']} (profile {metrics['profile']}), retry policy "
                f"{metrics['policy']}, {time_scales_text(metrics)}: durations and rates are AWS time; the wall column "
                "says "
                "what each level took."
            ],
        )
    ]
    if not metrics["complete"]:
        out.append(
            Section(
                "incomplete",
                "Incomplete run",
                [
                    f"Stopped by {metrics.get('stopped_by') or 'a crash'}: the figures cover what was recorded before "
                    "it "
                    "stopped."
                ],
                tone="warn",
            )
        )
    if metrics.get("thresholds"):
        out.append(thresholds_section(metrics["thresholds"]))
    out.append(
        Section(
            "answers",
            "Every level failed: no capacity was measured" if failed_everywhere else "How far does it scale?",
            bullets=headline(metrics),
            tone="warn" if failed_everywhere else "answer",
        )
    )
    out.append(
        Section(
            "levels", "Levels", table=level_table(metrics), plots=[name for name in plot_names if name != "timeline"]
        )
    )
    if "timeline" in plot_names:
        out.append(Section("timeline", "Timeline of the largest level", plots=["timeline"]))
    out.append(
        Section(
            "quotas",
            "Quotas, tightest first",
            [
                "Demand per pipeline is measured at the least contended level; the highest throughput each quota "
                "allows follows from the utilisation law (rate quotas) and Little's law (concurrency quotas)."
            ],
            table=bottleneck_table(metrics),
        )
    )
    out.append(Section("usl", "Universal Scalability Law", usl_paragraphs(metrics)))
    health = health_table(metrics)
    out.append(
        Section(
            "health",
            "Measurement health",
            [
                "On virtual time AWS time stood still while the harness and the simulator worked: the measurement "
                "added 0 AWS seconds to any call, whatever this machine's speed (the overhead columns say so), and "
                "requests/s is per wall second."
                if metrics.get("time") == "virtual"
                else "Queueing for moto means the simulator, not the simulated account, was the limit. Overhead is "
                "each call's wall time beyond the latency the profile asked for (harness CPU, GIL, transport, moto's "
                "work); at a time scale of 1/60 every wall millisecond of it is 60 AWS milliseconds added to the "
                "pipeline."
            ],
            table=health if health[1] else None,
        )
    )
    out.append(integrity_section(metrics))
    return out


def usl_paragraphs(metrics: dict) -> list[str]:
    fit = metrics.get("usl")
    if not fit:
        return [
            "No fit: no level completed a pipeline."
            if metrics.get("every_level_failed")
            else "No fit: it needs three or more levels that completed pipelines (an open-model run has none: "
            "its levels are arrival rates)."
        ]
    return [
        f"λ={fit['lambda']:.1f}/h per pipeline, σ={fit['sigma']:.4g}, κ={fit['kappa']:.4g}, R²={fit['r2']:.3f}, "
        f"N*={_fmt(fit['peak_n'], 0)}."
    ] + usl_lines(metrics)


def integrity_section(metrics: dict) -> Section:
    """Whether every attempt the simulator served was recorded: one sentence, and the operations
    that do not match (none, in a sound run)."""
    matched = (metrics.get("integrity") or {}).get("all_match")
    header, rows = integrity_table(metrics)
    if matched is None:
        return Section(
            "integrity",
            "Integrity",
            [
                "No simulator counters to check the recorded attempts against "
                "(a run on AWS, or a run stopped before its first level ended)."
            ],
        )
    wrong = [row for row in rows if row[-1] != "yes"]
    said = (
        f"Integrity: simulator counters match the recorded attempts for every operation ({len(rows)} "
        "operations and levels compared)."
        if matched
        else f"Integrity: simulator counters DO NOT match the recorded attempts for {len(wrong)} of {len(rows)} "
        "operations and levels (below): what the simulator served is not all in the events."
    )
    return Section(
        "integrity", "Integrity", [said], table=(header, wrong) if wrong else None, tone="plain" if matched else "warn"
    )


def thresholds_section(verdicts: list[dict]) -> Section:
    """The scenario's thresholds as the run judged them on its own figures (junit.xml has the same)."""
    results = [verdict["result"] for verdict in verdicts]
    counts = ", ".join(f"{results.count(r)} {r}" for r in ("failed", "passed", "skipped") if r in results)
    said = f"{len(verdicts)} threshold{'s' * (len(verdicts) != 1)}: {counts}."
    if "failed" in results:
        said += " A failed threshold makes `harness run` exit with 99."
    if "skipped" in results:
        said += (
            " A skipped one is relative to a baseline (`harness compare BASE RUN` judges it) or at a level "
            "this run did not have."
        )
    shown = {"passed": "pass", "failed": "FAIL", "skipped": "skipped"}
    rows = [[verdict["expression"], shown[verdict["result"]], verdict["message"]] for verdict in verdicts]
    return Section(
        "thresholds",
        "Thresholds",
        [said],
        table=(["threshold", "result", "detail"], rows),
        tone="warn" if "failed" in results else "plain",
    )
