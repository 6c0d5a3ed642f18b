"""Reports from events alone: USL recovery, the binding quota, metrics.json, compare."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.events import Recorder
from harness.events.context import bound
from harness.quotas import Quota, QuotaTable
from harness.report import render
from harness.report.bottleneck import analyse
from harness.report.compare import check, ThresholdError
from harness.report.metrics import run_metrics
from harness.report.answers import usl_lines
from harness.report.usl import fit_usl, usl

ROOT = Path(__file__).resolve().parents[1]


def test_the_usl_fit_recovers_known_parameters_from_noisy_data():
    rng = np.random.default_rng(3)
    lam, sigma, kappa = 12.0, 0.05, 0.002
    n = np.array([1, 2, 4, 8, 16, 24, 32, 48, 64])
    x = usl(n, lam, sigma, kappa) * (1 + rng.normal(0, 0.005, len(n)))
    fit = fit_usl(n, x)
    assert fit["lambda"] == pytest.approx(lam, rel=0.05)
    assert fit["sigma"] == pytest.approx(sigma, rel=0.05)
    assert fit["kappa"] == pytest.approx(kappa, rel=0.05)
    assert fit["r2"] > 0.99
    assert fit["peak_n"] == pytest.approx(np.sqrt((1 - sigma) / kappa), rel=0.05)
    low, high = fit["intervals"]["kappa"]
    assert low <= kappa <= high and high - low < kappa  # nine levels pin it down
    assert fit["warnings"] == [] and not fit["degenerate"]
    assert fit["r2"] > fit["alternatives"]["amdahl"]["r2"] > fit["alternatives"]["linear"]["r2"]


def test_a_fit_that_measured_no_contention_predicts_nothing_and_says_to_measure_higher():
    """aws-default below its binding quota: throughput grows as N does, so sigma and kappa fit as
    0 with R² = 1.00; a prediction from that would only extend the straight line."""
    n = np.array([4, 8, 16, 32])
    fit = fit_usl(n, 1.3 * n)
    assert fit["degenerate"] and fit["predicted"] == {} and fit["peak_n"] is None
    assert fit["alternatives"]["linear"]["r2"] == pytest.approx(1.0)
    assert fit["warnings"] == [
        "4 levels: three parameters from fewer than 6 levels are loosely pinned; measure "
        "more levels before planning on the prediction"
    ]
    metrics = {"usl": fit, "levels": [{"level": int(k)} for k in n], "bottleneck": {}}
    [line] = usl_lines(metrics)
    assert line.startswith(
        "USL: no contention measured in this range (sigma and kappa fit as 0, R²=1.00): "
        "measure higher N. No prediction beyond N=32."
    )


def test_three_levels_give_a_fit_but_no_confidence_interval():
    n = np.array([4, 8, 16])
    fit = fit_usl(n, usl(n, 10.0, 0.1, 0.01))
    assert fit["intervals"] is None and not fit["degenerate"]
    lines = usl_lines({"usl": fit, "levels": [{"level": int(k)} for k in n], "bottleneck": {}})
    assert any("no confidence interval" in line for line in lines)
    assert any(line.startswith("Warning: 3 levels") for line in lines)


HTML_404 = "athena.StartQueryExecution: HTTP 404"  # a failure reason, as the executor records it


def synthetic_run(
    folder: Path, levels=(4, 8, 16), throughput_scale=1.0, time_scale=1.0, failing: dict[int, int] | None = None
) -> Path:
    """A run folder written through the real recorder: pipelines that each make 10 DescribeEndpoint
    calls and hold a CreateFeatureGroup slot for 50 s. `failing` {N: k}: k of level N's pipelines
    then have Athena answer an HTML 404 page, and fail after 2 s."""
    run_dir = folder
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "scenario.toml").write_text('thresholds = ["failed == 0"]\n')
    rec = Recorder(run_dir / "events.db", "synthetic")
    rec.set_meta(
        run_id="synthetic",
        scenario="synthetic",
        time_scale=time_scale,
        target="sim",
        profile="x",
        policy="harness",
        complete=True,
    )
    import time as _time

    rng = random.Random(1)
    for level in levels:
        with bound(level=level):
            rec.record("level_start")
            for worker in range(level):
                with bound(worker=worker, pipeline=f"p{level}-{worker}"):
                    for _ in range(10):
                        rec.record(
                            "api_attempt",
                            service="sagemaker",
                            operation="DescribeEndpoint",
                            attempt=1,
                            outcome="ok",
                            duration=0.01,
                        )
                    rec.record("quota_hold", service="sagemaker", operation="CreateFeatureGroup", duration=50.0)
                    if worker < (failing or {}).get(level, 0):
                        rec.record(
                            "api_attempt",
                            service="athena",
                            operation="StartQueryExecution",
                            attempt=1,
                            outcome="error",
                            error_code="404",
                            status=404,
                            duration=0.01,
                        )
                        rec.record("pipeline_end", outcome="failed", error_code=HTML_404, duration=2.0)
                    else:
                        rec.record("pipeline_end", outcome="ok", duration=100 + rng.random())
        rec.flush()
        _time.sleep(0.01 * level / throughput_scale)
        with bound(level=level):
            rec.record("level_end")
    rec.close()
    return run_dir


def test_the_bottleneck_analysis_names_the_quota_that_binds(tmp_path):
    run_dir = synthetic_run(tmp_path / "run")
    from harness.events import load_events, load_meta

    metrics = run_metrics(load_events(run_dir), load_meta(run_dir))
    table = QuotaTable(
        [
            Quota("sagemaker", "DescribeEndpoint", rate=20, burst=20),
            Quota("sagemaker", "CreateFeatureGroup", rate=5, concurrency=4),
        ]
    )
    result = analyse(metrics, table)
    # 4 slots / 50 s = 288 pipelines/h binds before 20/s / 10 calls = 7200/h
    assert result["binding"]["quota"] == "sagemaker.CreateFeatureGroup concurrency"
    assert result["binding"]["max_pipelines_per_hour"] == pytest.approx(288, rel=0.01)
    assert result["quotas"][1]["quota"] == "sagemaker.DescribeEndpoint rate"


def test_a_run_where_every_pipeline_failed_says_why_and_gives_no_capacity_figures(tmp_path):
    """4 pipelines, each refused by Athena after 2 s (the simulator answered an HTML 404 page): the
    run measured how they failed, not the account. The report says so first, with the reasons
    counted, and names no binding quota, raise or USL prediction, though the pipelines did call."""
    paths = render(synthetic_run(tmp_path / "run", levels=(4,), failing={4: 4}))
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["every_level_failed"] and metrics["failed_levels"] == [4]
    assert metrics["top_failure_reasons"] == [{"reason": HTML_404, "count": 4}]
    assert metrics["usl"] is None
    assert metrics["bottleneck"]["binding"] is None and metrics["bottleneck"]["quotas"] == []
    summary = paths["markdown"].read_text()
    answers = [line for line in summary.splitlines() if line.startswith("- ")]
    assert answers[0] == (
        "- EVERY LEVEL FAILED: none of the run's 4 pipelines completed (4 failed), so it "
        "measured no capacity: no throughput, binding quota, raise or USL prediction."
    )
    assert answers[1] == f"- Top failure reasons: 4 × {HTML_404}."
    assert answers[2:] == []  # no peak throughput, binding quota, raise or USL line follows
    assert "CreateFeatureGroup" not in summary  # the slot they held is in no quota row either
    html = paths["html"].read_text()
    assert "Every level failed: no capacity was measured" in html and "How far does it scale?" not in html
    assert f"4 × {HTML_404}" in html and "No fit: no level completed a pipeline." in html


def test_a_level_where_nothing_completed_is_left_out_of_the_capacity_figures(tmp_path):
    """N=2's pipelines all failed; N=4, 8 and 16 completed theirs, but for one at N=16. The quotas,
    the raise and the USL come from N=4, 8 and 16; each level with failures says why."""
    paths = render(synthetic_run(tmp_path / "run", levels=(2, 4, 8, 16), failing={2: 2, 16: 1}))
    metrics = json.loads(paths["metrics"].read_text())
    assert not metrics["every_level_failed"] and metrics["failed_levels"] == [2]
    assert metrics["top_failure_reasons"] == [{"reason": HTML_404, "count": 3}]
    assert metrics["usl"]["levels"] == 3
    bottleneck = metrics["bottleneck"]
    assert bottleneck["uncontended_from"] == "the pipelines at N=4, the least contended level, as measured"
    assert set(bottleneck["bound_by_level"]) == {"4", "8", "16"}
    summary = paths["markdown"].read_text()
    assert (
        f"- N=2 failed: no pipeline completed, 2 of 2 failed: 2 × {HTML_404}; the capacity figures leave it out."
    ) in summary
    assert f"- N=16: 1 of 16 pipelines failed: 1 × {HTML_404}." in summary
    assert "- The quota that binds first in steady state: sagemaker.CreateFeatureGroup concurrency" in summary


def test_the_usl_predicts_nothing_at_or_beyond_a_level_where_every_pipeline_failed():
    """Issue #26: N=4 to 32 fitted, N=64 measured 0 (every pipeline failed) and was 'predicted'
    88.8/h. A level where nothing completed was measured, not left unknown: the fit predicts only
    below it, and says why."""
    n = np.array([4, 8, 16, 32])
    x = usl(n, 10.0, 0.05, 0.001)
    assert list(fit_usl(n, x)["predicted"]) == ["64", "128", "256", "512", "1024"]
    assert fit_usl(n, x, failed=[64])["predicted"] == {}
    assert list(fit_usl(n, x, failed=[200])["predicted"]) == ["64", "128"]  # below the failed level only
    assert list(fit_usl(n, x, failed=[2])["predicted"]) == ["64", "128", "256", "512", "1024"]  # a failure below
    fit = fit_usl(n, x, failed=[200])
    levels = [{"level": k, "failed": 0} for k in (4, 8, 16, 32)] + [{"level": 200, "failed": 200}]
    [line, *_] = usl_lines({"usl": fit, "levels": levels, "failed_levels": [200], "bottleneck": {}})
    assert (
        f"; predicted {fit['predicted']['64']:.0f}/h at 64, {fit['predicted']['128']:.0f}/h at 128; no "
        "prediction at N=200 or beyond: N=200 failed (no pipeline completed)." in line
    )


def test_a_report_does_not_predict_throughput_at_a_level_where_every_pipeline_failed(tmp_path):
    """The run behind issue #26: N=4 to 32 completed their pipelines and N=64's all failed. The
    fit comes from N=4 to 32 and its predictions start at 64, where the run measured nothing
    completing: the report says that level failed, and predicts no throughput there or beyond."""
    paths = render(synthetic_run(tmp_path / "run", levels=(4, 8, 16, 32, 64), failing={64: 64}))
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["failed_levels"] == [64]
    fit = metrics["usl"]
    assert fit["levels"] == 4 and not fit["degenerate"]  # a fit that would predict, were it not for N=64
    assert fit["predicted"] == {}
    summary = paths["markdown"].read_text()
    assert (
        f"- N=64 failed: no pipeline completed, 64 of 64 failed: 64 × {HTML_404}; the capacity figures leave it out."
    ) in summary
    [line] = [line for line in summary.splitlines() if line.startswith("- USL fit:")]
    assert "predicted" not in line and "no prediction at N=64 or beyond: N=64 failed (no pipeline completed)" in line
    html = paths["html"].read_text()
    assert "no prediction at N=64 or beyond" in html and "/h at 64" not in html


SCHEMA_LEVEL_KEYS = {
    "level",
    "time_scale",
    "enforced",
    "arrivals",
    "pipeline_seconds_without_quota_waits",
    "pipelines",
    "completed",
    "failed",
    "stopped",
    "failure_reasons",
    "wall_seconds",
    "aws_seconds",
    "throughput_per_hour",
    "throughput_method",
    "batch_throughput_per_hour",
    "steady_window_aws_seconds",
    "pipeline_seconds",
    "stage_seconds",
    "api",
    "waits",
    "partial_state",
    "queries",
    "contention",
    "simulator",
    "overhead",
}


def test_metrics_json_follows_its_documented_schema(tmp_path):
    run_dir = synthetic_run(tmp_path / "run")
    paths = render(run_dir)
    metrics = json.loads(paths["metrics"].read_text())
    documented = (ROOT / "harness" / "report" / "SCHEMA.md").read_text()
    for key in [
        "schema_version",
        "run_id",
        "every_level_failed",
        "failed_levels",
        "top_failure_reasons",
        "left_behind",
        "shared_limiter",
        "limiter_fallbacks",
        "levels",
        "usl",
        "bottleneck",
        "integrity",
    ] + sorted(SCHEMA_LEVEL_KEYS):
        assert f"`{key}`" in documented, f"{key} is not documented"
    assert set(metrics) >= {
        "schema_version",
        "run_id",
        "scenario",
        "time_scale",
        "complete",
        "left_behind",
        "levels",
        "usl",
        "bottleneck",
        "integrity",
    }
    for level in metrics["levels"]:
        assert set(level) == SCHEMA_LEVEL_KEYS
        assert set(level["pipeline_seconds"]) == {"p50", "p95", "p99", "mean", "max", "count"}
    html = paths["html"].read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "<img" in html  # self-contained
    assert paths["markdown"].read_text().startswith("# Stress run synthetic")


def test_compare_passes_a_run_against_itself_and_fails_on_half_the_throughput(tmp_path):
    base = synthetic_run(tmp_path / "base")
    slow = synthetic_run(tmp_path / "slow", throughput_scale=0.5)
    cli = [sys.executable, "-m", "harness.cli", "compare"]
    same = subprocess.run(
        cli
        + [
            str(base),
            str(base),
            "--threshold",
            "throughput@16 >= 0.9*base",
            "--threshold",
            "p95(pipeline)@16 < 1.2*base",
            "--threshold",
            "failed == 0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert same.returncode == 0, same.stdout + same.stderr
    half = subprocess.run(
        cli + [str(base), str(slow), "--threshold", "throughput@16 >= 0.9*base"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert half.returncode == 1 and "FAIL" in half.stdout


def test_a_batch_baseline_and_a_steady_state_run_are_not_compared_on_throughput(tmp_path):
    from harness.report.compare import load_metrics

    base = load_metrics(synthetic_run(tmp_path / "base"))
    head = json.loads(json.dumps(base))
    for level in head["levels"]:
        level["throughput_method"] = "steady"
    verdict = check("throughput@16 >= 0.9*base", base, head)
    assert not verdict.passed and "not comparable" in verdict.note
    assert check("failed == 0", base, head).passed  # other thresholds still judge


def test_a_malformed_threshold_is_refused(tmp_path):
    base = synthetic_run(tmp_path / "base")
    from harness.report.compare import load_metrics

    metrics = load_metrics(base)
    with pytest.raises(ThresholdError, match="metric\\[@N\\] op value"):
        check("throughput is big", metrics, metrics)
    with pytest.raises(ThresholdError, match="unknown metric"):
        check("speed@4 > 1", metrics, metrics)


def test_the_shootout_runs_each_policy_and_puts_them_side_by_side(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "shootout",
            "smoke",
            "--levels",
            "2",
            "--policies",
            "harness,botocore-standard",
            "--reports",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in table] == ["harness", "botocore-standard"]
    assert "harness against botocore-standard at N=2:" in done.stdout  # the verdict
    comparison = next(tmp_path.glob("shootout-*"))
    assert (comparison / "policies.png").stat().st_size > 10_000
    assert json.loads((comparison / "policies.json").read_text())["columns"][0] == "policy"
    page = (comparison / "policies.html").read_text()
    assert page.count("data:image/png;base64,") == 1 and "How the fight was kept fair" in page


def test_steady_state_throughput_is_n_over_pipeline_time_whatever_the_window():
    """A closed system of 8 workers, each running 100-second pipelines back to back from a
    staggered start, completes 8/100 s = 288 per hour; the estimator sees that from windows that
    cut pipelines anywhere, where counting whole completions would be off by up to a pipeline."""
    import pandas as pd

    from harness.report.metrics import steady_throughput

    ends = [(offset + 100.0 * k, 100.0) for offset in (12.5 * w for w in range(8)) for k in range(1, 20)]
    ok = pd.DataFrame(ends, columns=["mono_time", "duration"])
    for window in [(200.0, 700.0), (233.3, 481.7), (150.0, 1500.0)]:
        assert steady_throughput(ok, window, time_scale=1.0) == pytest.approx(288.0, rel=1e-6)
    # time scale 1/10: the same wall seconds are ten times as many AWS seconds
    assert steady_throughput(ok, (200.0, 700.0), time_scale=0.1) == pytest.approx(28.8, rel=1e-6)


def test_past_a_binding_quota_the_window_counts_what_finished():
    """A queue still building when the window closes: 12 pipelines finish inside it, while 40
    more, queued, started inside it and finish after it. Crediting those for their time in the
    window would claim far more than was delivered; the level is reported by departures."""
    import pandas as pd

    from harness.report.metrics import steady_throughput, window_throughput

    window = (1000.0, 2000.0)
    finished = [(1000.0 + 80.0 * k, 900.0) for k in range(1, 13)]
    queued = [(2500.0 + 25.0 * k, 1500.0) for k in range(40)]  # started at 1000 + 25k
    ok = pd.DataFrame(finished + queued, columns=["mono_time", "duration"])
    assert steady_throughput(ok, window, time_scale=1.0) > 1.4 * 12 * 3.6
    assert window_throughput(ok, window, time_scale=1.0) == ("departures", pytest.approx(12 * 3.6))


def test_the_report_says_when_a_level_measured_the_machine_more_than_the_account(tmp_path):
    """Each attempt's round trip minus the latency the simulator injected is the measurement's
    own cost. At time scale 1/60, 10 wall ms of it per call is 0.6 AWS s: over 100 calls, 60 s
    of a 600 s pipeline (10%), which the report flags; 0.1 ms per call (0.1%) it does not."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "scenario.toml").write_text('thresholds = ["failed == 0"]\n')
    rec = Recorder(run_dir / "events.db", "overhead")
    rec.set_meta(
        run_id="overhead", scenario="x", time_scale=1 / 60, target="sim", profile="x", policy="harness", complete=True
    )
    for level, extra_wall in [(4, 0.0001), (32, 0.010)]:
        with bound(level=level):
            rec.record("level_start")
            for worker in range(2):
                with bound(worker=worker, pipeline=f"p{level}-{worker}"):
                    for _ in range(100):
                        rec.record(
                            "api_attempt",
                            service="athena",
                            operation="GetQueryExecution",
                            attempt=1,
                            outcome="ok",
                            duration=0.0005 + extra_wall,
                            injected=0.0005,
                            served=0.0005 + extra_wall / 2,
                        )
                    rec.record("pipeline_end", outcome="ok", duration=10.0)  # 600 AWS s
            rec.record("level_end")
    rec.close()
    paths = render(run_dir)
    levels = {level["level"]: level for level in json.loads(paths["metrics"].read_text())["levels"]}
    assert levels[4]["overhead"]["share_of_pipeline"] == pytest.approx(0.001, rel=0.01)
    assert not levels[4]["overhead"]["high"]
    assert levels[32]["overhead"]["per_call_wall_ms"]["p50"] == pytest.approx(10.0, rel=0.01)
    assert levels[32]["overhead"]["aws_seconds_per_pipeline"] == pytest.approx(60.0, rel=0.01)
    assert levels[32]["overhead"]["simulator_wall_ms"]["mean"] == pytest.approx(5.0, rel=0.01)
    assert levels[32]["overhead"]["client_wall_ms"]["mean"] == pytest.approx(5.0, rel=0.01)
    assert levels[32]["overhead"]["high"]
    summary = paths["markdown"].read_text()
    assert "Warning: at N=32 the measurement's own delay" in summary and "10% of pipeline time" in summary
    assert "## Measurement health" in summary


def test_the_report_says_where_contention_starts_and_what_the_pipelines_queued_for(tmp_path):
    """Pipelines 2% slower at N=8 are not contended; 20% slower at N=16, with quota waits, are.
    The largest level names the quotas waited on longest."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "scenario.toml").write_text('thresholds = ["failed == 0"]\n')
    rec = Recorder(run_dir / "events.db", "contention")
    rec.set_meta(
        run_id="contention", scenario="x", time_scale=1.0, target="sim", profile="x", policy="harness", complete=True
    )
    for level, seconds, waits in [
        (4, 1000, {}),
        (8, 1020, {}),
        (16, 1200, {"CreateFeatureGroup": 150, "CreateEndpoint": 40}),
    ]:
        with bound(level=level):
            rec.record("level_start")
            for worker in range(level):
                with bound(worker=worker, pipeline=f"p{level}-{worker}"):
                    for operation, wait in waits.items():
                        rec.record("quota_wait", service="sagemaker", operation=operation, duration=wait)
                    rec.record("pipeline_end", outcome="ok", duration=seconds)
            rec.record("level_end")
    rec.close()
    summary = render(run_dir)["markdown"].read_text()
    assert (
        "Contention starts between N=8 and N=16: median pipeline +20% against N=4; quota waits 190 s per "
        "pipeline, most for sagemaker.CreateFeatureGroup concurrency."
    ) in summary
    assert (
        "At N=16 the pipelines queued longest for sagemaker.CreateFeatureGroup concurrency (150 s each), "
        "then sagemaker.CreateEndpoint concurrency (40 s each)."
    ) in summary


def test_the_html_and_the_markdown_show_the_same_sections(tmp_path):
    """Sections are defined once: every title and sentence is in report.html and summary.md alike,
    the USL fit and the integrity check among them, and each table is also a CSV."""
    import html as html_text

    from harness.report.sections import sections

    run = synthetic_run(tmp_path)
    paths = render(run)
    page = html_text.unescape(paths["html"].read_text())
    summary = paths["markdown"].read_text()
    metrics = json.loads(paths["metrics"].read_text())
    shown = sections(metrics, [])
    assert [s.key for s in shown][-3:] == ["usl", "health", "integrity"]
    for section in shown:
        for text in [section.title, *section.paragraphs, *section.bullets]:
            assert text in page and text in summary, text
    assert (run / "table_levels.csv").read_text().startswith("N,done,failed,pipelines/h")
