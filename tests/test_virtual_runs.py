"""Whole runs on virtual time: the account measured, not the machine. The same scenario and seed
give the same run, call for call, however busy the machine is."""

import subprocess
import sys
from dataclasses import replace

import pytest

from harness.config import ConfigError
from harness.events import load_events
from harness.report.metrics import run_metrics
from harness.events import load_meta
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario, parse_scenario
from runhelpers import nothing_in, run_dir_once_in_stage, run_in_terminal


def virtual_run(simulator, tmp_path, scenario, levels):
    simulator.reset(profile=scenario.profile, seed=scenario.seed, manual_time=True)
    runner = Runner(scenario, tmp_path, levels, endpoint_url=simulator.endpoint_url)
    result = runner.run()
    return runner, result, load_events(result.run_dir)


def same_run_figures(events):
    """What must repeat: each pipeline's outcome and AWS-time duration, and every attempt's
    operation, outcome and instant, in order."""
    ends = events[events.kind == "pipeline_end"].sort_values("pipeline")
    attempts = events[events.kind == "api_attempt"]
    per_op = attempts.groupby(["service", "operation", "outcome"]).size().to_dict()
    return (
        list(zip(ends.pipeline, ends.outcome, ends.duration.round(6), strict=True)),
        per_op,
        sorted(attempts.mono_time.round(6)),
    )


def test_a_run_on_virtual_time_repeats_itself_call_for_call(simulator, tmp_path):
    scenario = replace(load_scenario("smoke"), time="virtual")  # aws-default: latency, jitter, quotas
    first_runner, first, first_events = virtual_run(simulator, tmp_path / "a", scenario, [3, 4])
    _, second, second_events = virtual_run(simulator, tmp_path / "b", scenario, [3, 4])
    assert first.failed == second.failed == 0 and first.pipelines == 7
    assert same_run_figures(first_events) == same_run_figures(second_events)
    assert first_runner.clock.wall_sleeps == []  # every wait of the built-in pipeline is on the clock
    assert nothing_in(simulator.endpoint_url)


def test_virtual_time_counts_no_machine_time_in_any_call(simulator, tmp_path):
    """Each attempt takes exactly the latency the profile gave it: the harness's and the
    simulator's own work add nothing, and the report says the run was on virtual time."""
    scenario = replace(load_scenario("smoke"), time="virtual")
    _, result, events = virtual_run(simulator, tmp_path, scenario, [3])
    attempts = events[events.kind == "api_attempt"]
    injected = attempts.detail.map(lambda d: __import__("json").loads(d)["injected"])
    assert (attempts.duration - injected).abs().max() < 1e-6
    metrics = run_metrics(events, load_meta(result.run_dir))
    assert metrics["time"] == "virtual"
    assert metrics["levels"][0]["overhead"]["aws_seconds_per_pipeline"] == pytest.approx(0, abs=1e-3)
    result.render()
    assert "on virtual time" in (result.run_dir / "summary.md").read_text().splitlines()[2]


def test_a_run_on_virtual_time_is_the_same_on_a_busy_machine(simulator, tmp_path):
    scenario = replace(load_scenario("smoke"), time="virtual")
    _, _, quiet = virtual_run(simulator, tmp_path / "quiet", scenario, [3])
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        _, _, busy = virtual_run(simulator, tmp_path / "busy", scenario, [3])
    finally:
        for hog in hogs:
            hog.kill()
    assert same_run_figures(quiet) == same_run_figures(busy)


def test_time_sleep_inside_a_pipeline_is_caught_and_slept_on_the_clock(simulator, tmp_path):
    scenario = replace(load_scenario("smoke"), time="virtual", pipelines={"pipelines_for_tests:dozes": 1.0})
    runner, result, events = virtual_run(simulator, tmp_path, scenario, [2])
    assert result.failed == 0
    assert len(runner.clock.wall_sleeps) == 2 and "time.sleep(0.5)" in runner.clock.wall_sleeps[0]
    stages = events[(events.kind == "stage_end") & (events.stage == "doze")]
    assert list(stages.duration) == [0.5, 0.5]  # AWS seconds on the run's clock
    result.render()
    summary = (result.run_dir / "summary.md").read_text()
    assert "2 time.sleep call(s) inside pipelines were caught on virtual time" in summary
    assert "pipelines_for_tests.py" in summary  # where the first one was


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (
            'target = "aws"\nregion = "eu-west-1"\n[account]\nrole_arn = "arn:aws:iam::111122223333:role/r"',
            "real AWS keeps its own time",
        ),
        ('workers = "processes"', 'workers = "processes"'),
        ('pipelines = "command:python -c pass"', "users' own code"),
        ('[limiter]\nredis_url = "redis://127.0.0.1:6379/0"', "Redis limiter"),
    ],
)
def test_virtual_time_says_where_it_cannot_run(extra, names):
    import tomllib

    data = tomllib.loads('time = "virtual"\nlevels = [2]\n' + extra)
    with pytest.raises(ConfigError) as refused:
        parse_scenario(data, "scenarios/mine.toml", "mine")
    assert "scenarios/mine.toml: time = 'virtual' is not allowed; expected wall" in str(refused.value)
    assert names in str(refused.value)


def test_a_running_simulator_on_the_wall_is_refused_for_a_virtual_run(simulator, tmp_path):
    scenario = replace(load_scenario("smoke"), time="virtual")
    simulator.reset(profile="calm")  # not manual time
    with pytest.raises(ConfigError, match="virtual time needs the run's own simulator"):
        Runner(scenario, tmp_path, [1], endpoint_url=simulator.endpoint_url).run()


def test_ctrl_c_stops_a_run_on_virtual_time_with_nothing_left_behind(simulator, tmp_path):
    """A terminal's Ctrl-C during a virtual run: sleeping workers wake at once, tear down what
    they made, and the run folder is complete, as on the wall."""
    import signal

    simulator.reset(profile="aws-default", seed=1, manual_time=True)
    process = run_in_terminal("smoke", tmp_path, simulator.endpoint_url, "-n", "8", "--time", "virtual")
    run_dir = run_dir_once_in_stage(tmp_path, "feature_set")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert load_meta(run_dir)["stopped_by"] == "SIGINT"
    ends = load_events(run_dir, ["pipeline_end"])
    assert "stopped" in set(ends.outcome) and set(ends.outcome) <= {"stopped", "ok"}
    assert nothing_in(simulator.endpoint_url)


def test_the_sdk_pipeline_and_a_cached_dashboard_run_on_virtual_time(simulator, tmp_path):
    """The SageMaker SDK polls with time.sleep: on virtual time those sleeps are caught and slept
    on the clock. Dashboard users sharing a cached answer wait on the clock too."""
    scenario = replace(load_scenario("smoke"), time="virtual", pipelines={"workbench-sdk": 1.0})
    scenario.dashboard.workers, scenario.dashboard.cached, scenario.dashboard.poll_seconds = 2, True, 10
    runner, result, events = virtual_run(simulator, tmp_path, scenario, [2])
    assert result.failed == 0 and result.pipelines == 2
    assert any("sagemaker" in where for where in runner.clock.wall_sleeps)  # the SDK's waits, caught
    dashboard = events[events.worker < 0]
    assert (dashboard.kind == "cache_hit").sum() >= 1 and (dashboard.kind == "cache_miss").sum() >= 3
    assert nothing_in(simulator.endpoint_url)
