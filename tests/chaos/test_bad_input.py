"""Bad input, fuzzed: scenario files, simulator profiles, quota tables and command lines give
a one-line error naming the file, key and value (exit code 2), never a traceback."""

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.cli import main
from harness.config import ConfigError, Section
from harness.quotas import parse_rows
from harness.runner.scenario import parse_scenario
from harness.profiles import parse_profile
from runhelpers import nothing_in

SCENARIO_KEYS = [
    "name",
    "description",
    "target",
    "profile",
    "region",
    "aws_profile",
    "allowed_accounts",
    "time_scale",
    "seed",
    "policy",
    "max_attempts",
    "levels",
    "iterations",
    "duration_seconds",
    "ramp_up_seconds",
    "workers",
    "grace_seconds",
    "pipelines",
    "params",
    "deadlines",
    "quota",
    "dashboard",
    "thresholds",
    "level_time_scale",
    "limiter",
    "levles",
    "polcy",
]
PROFILE_KEYS = [
    "description",
    "quota_table",
    "quota",
    "latency",
    "fault",
    "storm",
    "timeout_seconds",
    "jitter",
    "lifecycle",
    "latncy",
]
QUOTA_KEYS = ["service", "operation", "rate", "burst", "concurrency", "adjustable", "source", "rte"]
NESTED_KEYS = [
    "feature_group",
    "training_job",
    "endpoint",
    "create_seconds",
    "p50_ms",
    "p99_ms",
    "error_rate",
    "workers",
    "cached",
    "poll_seconds",
    "service",
    "operation",
    "rate",
    "start_seconds",
    "duration_seconds",
    "throttle",
    "offline_store",
    "redis_url",
    "on_unreachable",
    "128",
    "x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["sim", "aws", "harness", "calm", "aws-default", "workbench", "*", "1/60", "us-east-1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NESTED_KEYS), inner, max_size=4)
    ),
    max_leaves=8,
)


def tables(keys):
    return st.dictionaries(st.sampled_from(keys), values, max_size=6)


def refused_cleanly(parse, data) -> None:
    """`parse(data)` either accepts the input or raises ConfigError naming file and key."""
    try:
        parse(data)
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and message.startswith("fuzz.toml: ") and " = " in message


@pytest.mark.chaos
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(SCENARIO_KEYS))
def test_fuzzed_scenarios_are_accepted_or_refused_in_one_line(data):
    refused_cleanly(lambda d: parse_scenario(d, "fuzz.toml", "fuzz"), data)


@pytest.mark.chaos
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(PROFILE_KEYS))
def test_fuzzed_simulator_profiles_are_accepted_or_refused_in_one_line(data):
    refused_cleanly(lambda d: parse_profile(d, "fuzz.toml", "fuzz"), data)


@pytest.mark.chaos
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["quota", "extra"]), st.one_of(values, st.lists(tables(QUOTA_KEYS), max_size=4)), max_size=2
    )
)
def test_fuzzed_quota_tables_are_accepted_or_refused_in_one_line(data):
    def parse(d):
        root = Section(d, "fuzz.toml")
        parse_rows(root.sections("quota"))
        root.done()

    refused_cleanly(parse, data)


WORDS = [
    "run",
    "sweep",
    "report",
    "compare",
    "cleanup",
    "quotas",
    "sim",
    "plan",
    "nope",
    "-n",
    "0",
    "-1",
    "x",
    "--levels",
    "4,8",
    "4,,x",
    "--policy",
    "yolo",
    "--up-to",
    "--older-than",
    "24q",
    "--run-id",
    "--reports",
    "--threshold",
    "--table",
    "missing.toml",
    "--scenario",
    "--seed",
    "abc",
    "--profile",
    "--json",
    "--help-me",
    "/nonexistent/run",
]


@pytest.mark.chaos
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=6))
def test_fuzzed_command_lines_never_print_a_traceback(argv):
    if argv[:1] == ["sim"] or (argv[:1] == ["cleanup"] and "--run-id" in argv):
        argv = ["nope"] + argv  # these would start a server or reach for AWS; the rest must fail fast
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    assert "Traceback" not in err.getvalue()
    if code not in (0, None):
        assert code == 2, (argv, code, err.getvalue())
        assert len(err.getvalue().strip().splitlines()) == 1, (argv, err.getvalue())


@pytest.mark.chaos
def test_an_unusable_run_folder_is_reported_before_any_resource_is_created(simulator, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", "smoke", "--reports", str(blocker / "reports"), "--endpoint-url", simulator.endpoint_url])
    assert code == 2
    assert "run folder" in err.getvalue() and "not writable" in err.getvalue()
    assert nothing_in(simulator.endpoint_url)


@pytest.mark.chaos
def test_a_garbage_scenario_file_names_the_file(tmp_path):
    path = tmp_path / "garbage.toml"
    path.write_bytes(b"levels = [4\n\x00\xff")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", str(path)]) == 2
    assert str(path) in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
