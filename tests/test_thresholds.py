"""Thresholds a run checks itself against, k6's way: absolute ones judged at the end of `harness
run` (exit code 99 when one fails), relative ones left to `harness compare`, and all of them in
a JUnit XML report that CI systems read."""

import contextlib
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import ConfigError
from harness.report.compare import check
from harness.report.thresholds import ThresholdError, measure, parse
from harness.runner.abort import failing
from harness.runner.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


# --- the language: one parser for the run, compare and abort thresholds -------------------------
@pytest.mark.parametrize(
    "expression, limit",
    [
        ("p95(pipeline)@32 < 60m", 3600.0),
        ("p50(pipeline) < 1.5h", 5400.0),
        ("p99(train)@8 <= 90s", 90.0),
        ("p95@8 < 600", 600.0),  # seconds, as metrics.json has them
        ("throughput@16 >= 20/h", 20.0),
        ("throughput@16 >= 1/m", 60.0),
        ("throughput >= 20", 20.0),  # pipelines per hour
        ("throttle_rate@16 <= 2%", 0.02),
        ("throttle_rate <= 0.02", 0.02),
        ("throttled <= 100", 100.0),
        ("failed == 0", 0.0),
    ],
)
def test_a_limit_is_read_in_the_unit_it_is_written_in(expression, limit):
    threshold = parse(expression)
    assert not threshold.relative and threshold.limit == pytest.approx(limit)


def test_a_limit_that_names_base_is_relative_to_a_baseline():
    threshold = parse("throughput@32 >= 0.9*base")
    assert threshold.relative and threshold.factor == 0.9 and threshold.level == 32
    assert parse("p95(pipeline) < base").factor == 1.0


@pytest.mark.parametrize(
    "expression, says",
    [
        ("p95(pipeline)@32 < 20/h", "'/h' is not a unit of p95 (units: s, m or h)"),
        ("throughput >= 20m", "'m' is not a unit of throughput (units: /h, /m or /s)"),
        ("failed < 2m", "failed is a plain number: no unit ('m')"),
        ("speed@4 > 1", "unknown metric 'speed'; expected one of failed, completed"),
        ("failed(pipeline) == 0", "failed takes no argument"),
        ("throughput is big", "not of the form 'metric[@N] op value'"),
        ("failed <= lots", "right side 'lots' is not a number"),
    ],
)
def test_a_threshold_that_cannot_be_read_says_why(expression, says):
    with pytest.raises(ThresholdError, match=re.escape(says)):
        parse(expression)


def test_a_scenario_with_an_unreadable_threshold_is_refused_naming_the_file_and_key():
    with pytest.raises(ConfigError) as refused:
        parse_scenario({"thresholds": ["failed == 0", "p95(pipeline)@32 < 20/h"]}, "bad.toml", "bad")
    assert str(refused.value) == (
        "bad.toml: thresholds = 'p95(pipeline)@32 < 20/h' is not allowed; expected a threshold: "
        "'/h' is not a unit of p95 (units: s, m or h)"
    )


def figures(*levels: dict) -> dict:
    """metrics.json as far as thresholds read it: levels of (N, failed, partial failed, p95 s, per hour)."""
    return {
        "levels": [
            {
                "level": n,
                "failed": failed,
                "completed": 4,
                "throughput_per_hour": per_hour,
                "throughput_method": "batch",
                "pipeline_seconds": {"p50": p95 / 2, "p95": p95, "p99": p95},
                "stage_seconds": {},
                "api": {"throttled": 3, "throttle_rate": 0.01, "attempts_per_pipeline": 100.0},
                "partial_state": {"failed": partial},
            }
            for n, failed, partial, p95, per_hour in levels
        ]
    }


def test_a_word_means_one_thing_to_the_run_compare_and_an_abort_threshold():
    """A count without @N is summed over every level wherever it is read (partial_failed was the
    largest level's to compare, and every level's to an abort threshold)."""
    run = figures((4, 0, 1, 1800.0, 30.0), (8, 0, 2, 2400.0, 50.0))
    assert measure(parse("partial_failed <= 2"), run) == 3
    assert failing("partial_failed <= 2", {4: Counter(partial_state_failed=1), 8: Counter(partial_state_failed=2)})
    assert not check("partial_failed <= 2", run, run).passed
    # anything else without @N is the largest level's, with the same units everywhere
    assert measure(parse("p95(pipeline) < 60m"), run) == 2400.0
    verdict = check("p95(pipeline) < 30m", run, run)
    assert (verdict.head, verdict.limit, verdict.passed) == (2400.0, 1800.0, False)
    assert check("throughput@4 >= 0.9*base", run, run).limit == pytest.approx(27.0)


# --- a run judges itself -------------------------------------------------------------------------
def scenario_file(tmp_path: Path, thresholds: list[str]) -> Path:
    """The smoke scenario at N=2 on virtual time (a few seconds), with these thresholds."""
    text = (ROOT / "scenarios" / "smoke.toml").read_text()
    listed = ", ".join(f'"{t}"' for t in thresholds)
    path = tmp_path / "judged.toml"
    path.write_text(text.replace("[params]", f'time = "virtual"\nthresholds = [{listed}]\n\n[params]', 1))
    return path


def harness_run(simulator, path: Path, reports: Path, *flags: str) -> tuple[int, str]:
    simulator.reset(profile="aws-default", seed=1, manual_time=True)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(
            ["run", str(path), "-n", "2", "--reports", str(reports), "--endpoint-url", simulator.endpoint_url, *flags]
        )
    return code, err.getvalue()


def junit_cases(path: Path) -> dict[str, ET.Element]:
    """The report's test cases by name, once it is checked against the JUnit schema Jenkins reads
    (the xUnit plugin's junit-10.xsd; GitHub's JUnit actions and GitLab read the same): one
    testsuites > one testsuite (properties, then test cases) > testcase (skipped, failures,
    system-out, in that order), the counts matching the cases, a failure with its message."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and set(root.attrib) <= {"name", "tests", "failures", "errors", "time"}
    [suite] = list(root)
    assert suite.tag == "testsuite" and {"name", "tests", "failures", "errors", "skipped", "time"} <= set(suite.attrib)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
    tags = [child.tag for child in suite]
    assert tags == ["properties"] + ["testcase"] * (len(tags) - 1)
    cases = suite.findall("testcase")
    results = [next((c.tag for c in case if c.tag in ("failure", "skipped")), "passed") for case in cases]
    counts = {"tests": len(cases), "failures": results.count("failure"), "skipped": results.count("skipped")}
    assert {key: int(suite.get(key)) for key in counts} == counts and suite.get("errors") == "0"
    assert {key: int(root.get(key)) for key in ("tests", "failures")} == {
        key: counts[key] for key in ("tests", "failures")
    }
    for case in cases:
        assert case.get("name") and case.get("classname") == suite.get("name") and float(case.get("time")) >= 0
        order = ["skipped", "failure", "system-out"]
        inside = [child.tag for child in case]
        assert inside == sorted(inside, key=order.index) and len(set(inside) & {"skipped", "failure"}) <= 1
        for failure in case.findall("failure"):
            assert failure.get("message") and failure.get("type") == "threshold"
    return {case.get("name"): case for case in cases}


def test_a_failing_absolute_threshold_exits_99_and_its_junit_case_says_what_was_measured(simulator, tmp_path):
    path = scenario_file(
        tmp_path, ["failed == 0", "p95(pipeline)@2 < 10m", "throughput@2 >= 0.9*base", "p95(pipeline)@4 < 1h"]
    )
    code, said = harness_run(simulator, path, tmp_path / "reports", "--junit", str(tmp_path / "ci" / "junit.xml"))
    assert code == 99, said
    [run_dir] = (tmp_path / "reports").iterdir()
    assert (tmp_path / "ci" / "junit.xml").read_bytes() == (run_dir / "junit.xml").read_bytes()
    cases = junit_cases(run_dir / "junit.xml")
    assert list(cases) == ["failed == 0", "p95(pipeline)@2 < 10m", "throughput@2 >= 0.9*base", "p95(pipeline)@4 < 1h"]
    assert {case.get("classname") for case in cases.values()} == {"thresholds.judged"}  # the scenario file's name
    from harness.report.compare import load_metrics

    p95 = load_metrics(run_dir)["levels"][0]["pipeline_seconds"]["p95"]
    assert p95 > 600  # the smoke pipeline takes about 18 AWS minutes
    [failure] = cases["p95(pipeline)@2 < 10m"].findall("failure")
    assert failure.get("message") == f"measured {p95 / 60:.3g}m at N=2; expected < 10m"
    assert cases["failed == 0"].find("failure") is None and cases["failed == 0"].find("skipped") is None
    # relative ones need a baseline; one at a level the run does not have does not apply to it
    assert "harness compare" in cases["throughput@2 >= 0.9*base"].find("skipped").get("message")
    # (-n 2: the scenario's own level 4 is not this run's)
    assert cases["p95(pipeline)@4 < 1h"].find("skipped").get("message") == "the run has no level 4 (its levels: 2)"
    # the report and the run's own output say which failed
    assert f"threshold failed: p95(pipeline)@2 < 10m: measured {p95 / 60:.3g}m at N=2; expected < 10m" in said
    summary = (run_dir / "summary.md").read_text()
    assert "## Thresholds" in summary
    assert f"| p95(pipeline)@2 < 10m | FAIL | measured {p95 / 60:.3g}m at N=2; expected < 10m |" in summary


def test_passing_thresholds_exit_0_with_every_junit_case_passed(simulator, tmp_path):
    thresholds = [
        "failed == 0",
        "p95(pipeline)@2 < 2h",
        "throughput@2 >= 1/h",
        "throttled <= 100",
        "throttle_rate@2 <= 5%",
    ]
    code, said = harness_run(simulator, scenario_file(tmp_path, thresholds), tmp_path / "reports")
    assert code == 0, said
    [run_dir] = (tmp_path / "reports").iterdir()
    cases = junit_cases(run_dir / "junit.xml")
    assert list(cases) == thresholds
    assert all(case.find("failure") is None and case.find("skipped") is None for case in cases.values())
    assert "thresholds: 5 passed (JUnit: " in said
