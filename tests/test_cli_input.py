"""Bad command lines, typed as a person would: each is refused with exit code 2 and one line that
names the flag (or the file and field), the value and what is allowed; no traceback, no run.

Every command runs in an empty folder, so the default `reports/` would appear there if a run
started."""

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from harness.config import ConfigError
from harness.runner.scenario import SCENARIO_DIR, parse_scenario
from harness.sim import available_profiles

TESTS = Path(__file__).resolve().parent


def harness(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )


def refused(done: subprocess.CompletedProcess) -> str:
    """The one line of a refusal."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def smoke_with(folder: Path, old: str, new: str) -> str:
    """The smoke scenario with one line changed, as a user's own file."""
    text = (SCENARIO_DIR / "smoke.toml").read_text()
    assert old in text
    path = folder / "mine.toml"
    path.write_text(text.replace(old, new))
    return str(path)


@pytest.mark.parametrize(
    "command",
    [
        "run smoke -n -3",
        "run smoke -n 0",
        "run smoke -n 5000",
        "run smoke -n many",
        "run smoke --levels 4,2000",
        "sweep smoke --up-to -1",
        "sweep smoke --levels 0,4",
        "plan smoke -n -5",
        "shootout smoke --levels -4",
    ],
)
def test_a_level_outside_1_to_1024_names_the_flag_the_value_and_the_range(tmp_path, command):
    *_, flag, value = command.split()
    line = refused(harness(tmp_path, *command.split()))
    assert f"argument {flag}: {value!r} is not allowed" in line and "from 1 to 1024" in line
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    "command",
    [
        "run smoke --profile nosuch",
        "sweep smoke --up-to 8 --profile nosuch",
        "run smoke --profile nosuch.toml",
        "sim --profile nosuch",
    ],
)
def test_an_unknown_profile_lists_the_profiles_and_makes_no_run_folder(tmp_path, command):
    line = refused(harness(tmp_path, *command.split()))
    assert "argument --profile: 'nosuch" in line
    assert all(name in line for name in available_profiles())
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    "command",
    [
        "run smoke --role-arn arn:aws:iam::12:role/short-account",
        "doctor aws-nightly --role-arn harness-nightly-sagemaker",
    ],
)
def test_a_role_arn_that_is_not_one_names_the_flag_the_value_and_the_form(tmp_path, command):
    *_, value = command.split()
    line = refused(harness(tmp_path, *command.split()))
    assert f"argument --role-arn: --role-arn {value!r}: expected an IAM role ARN like arn:aws:iam::" in line
    assert not (tmp_path / "reports").exists()


def test_a_profile_file_that_does_not_load_names_that_file_and_its_key(tmp_path):
    profile = tmp_path / "mine-profile.toml"
    profile.write_text("latncy = 1\n")
    line = refused(harness(tmp_path, "run", "smoke", "--profile", str(profile)))
    assert f"argument --profile: {profile}: latncy = 1 is not allowed" in line
    assert not (tmp_path / "reports").exists()


def test_a_scenario_whose_profile_file_is_not_there_names_the_scenario_and_the_path(tmp_path):
    scenario = smoke_with(tmp_path, 'profile = "aws-default"', 'profile = "gone.toml"')
    line = refused(harness(tmp_path, "run", scenario))
    assert line.startswith(f"error: {scenario}: profile = 'gone.toml' is not allowed; expected one of aws-default")
    assert not (tmp_path / "reports").exists()


def test_a_misspelt_param_names_the_file_the_field_and_the_pipelines_parameters(tmp_path):
    scenario = smoke_with(tmp_path, "rows = 40", "rowz = 10")
    line = refused(harness(tmp_path, "plan", scenario))
    assert line == (
        f"error: {scenario}: params.rowz = 10 is not allowed; expected a parameter of workbench-light: "
        "rows, ingest_rows, inference_batches, batch_rows, instance_type"
    )


def test_a_param_of_the_wrong_type_names_the_field_the_type_and_the_value(tmp_path):
    scenario = smoke_with(tmp_path, "rows = 40", 'rows = "many"')
    line = refused(harness(tmp_path, "run", scenario, "-n", "1"))
    assert f"{scenario}: params.rows = 'many' is not allowed; expected an integer" in line
    assert not (tmp_path / "reports").exists()


def test_params_are_checked_against_every_builtin_pipeline_of_a_mix():
    mix = {"pipelines": {"workbench": 1, "workbench-light": 1}}
    assert parse_scenario({**mix, "params": {"glue_reads": 2, "ingest_rows": 4}}, "mix.toml", "mix").params
    with pytest.raises(ConfigError, match=r"params.shared_data_source = 1 .* expected true or false"):
        parse_scenario({**mix, "params": {"shared_data_source": 1}}, "mix.toml", "mix")
    with pytest.raises(ConfigError, match="a parameter of workbench or workbench-light: rows, "):
        parse_scenario({**mix, "params": {"rowz": 1}}, "mix.toml", "mix")


def test_a_user_pipeline_declares_no_params_so_any_key_is_its_own():
    """A module:function pipeline may read any key: only the built-ins' keys are checked."""
    user = {"pipelines": "pipelines_for_tests:flaky", "params": {"anything": "goes", "rows": "x"}}
    assert parse_scenario(user, "user.toml", "user").params == user["params"]
    with pytest.raises(ConfigError, match=r"params.rows = 'x' .* expected an integer \(workbench-light"):
        parse_scenario(
            {**user, "pipelines": {"pipelines_for_tests:flaky": 1, "workbench-light": 1}}, "user.toml", "user"
        )


def test_a_user_pipeline_that_fails_its_dry_run_on_a_bad_param_says_why_in_one_line(tmp_path):
    scenario = tmp_path / "user.toml"
    scenario.write_text('pipelines = "pipelines_for_tests:flaky"\n[params]\nrows = "x"\n')
    line = refused(harness(tmp_path, "plan", str(scenario)))
    assert "the dry run of pipeline pipelines_for_tests:flaky failed: invalid literal for int()" in line


def test_version_prints_the_package_version(tmp_path):
    done = harness(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout == f"harness {version('ml-pipeline-stress-harness')}\n"


def whatif_run(folder: Path) -> Path:
    """A run folder as `harness whatif` reads it (metrics.json; no scenario.toml: the shipped
    quota table): 8 pipelines of 30 AWS minutes, each holding a CreateEndpoint slot for 10
    minutes and calling DescribeEndpoint and ListObjectsV2."""
    level = {
        "level": 8,
        "completed": 8,
        "pipelines": 8,
        "failed": 0,
        "throughput_per_hour": 12.0,
        "throughput_method": "batch",
        "pipeline_seconds": {"mean": 1800.0},
        "pipeline_seconds_without_quota_waits": {"mean": 1800.0},
        "api": {
            "by_operation": {
                "sagemaker.DescribeEndpoint": {"attempts": 400, "throttled": 0},
                "s3.ListObjectsV2": {"attempts": 80, "throttled": 0},
            }
        },
        "waits": {"quota_hold_seconds": {"sagemaker.CreateEndpoint": {"mean": 600.0, "holds_per_pipeline": 1}}},
        "enforced": {},
    }
    run = folder / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"scenario": "smoke", "time_scale": 1.0, "levels": [level]}))
    return run


CONCURRENCY = "a concurrency limit: a whole number of resources, 1 or more (only a rate may be fractional)"
RATE = "a rate: calls per AWS second, a number > 0 (fractions allowed, e.g. 0.5)"


@pytest.mark.parametrize(
    "change, allowed",
    [
        ("sagemaker.CreateEndpoint.concurrency=0.5", CONCURRENCY),  # was a ZeroDivisionError traceback (int(0.5))
        ("sagemaker.CreateEndpoint.concurrency=2.7", CONCURRENCY),  # was planned as 2
        ("sagemaker.CreateEndpoint.concurrency=2.0", CONCURRENCY),  # an integer, as a quota table row has it
        ("sagemaker.CreateEndpoint.concurrency=0", CONCURRENCY),
        ("sagemaker.DescribeEndpoint.rate=0", RATE),
        ("sagemaker.DescribeEndpoint.rate=fast", RATE),
        ("sagemaker.DescribeEndpoint.rate=1e400", RATE),
        ("sagemaker.DescribeEndpoint.burst=0.5", "a burst: the bucket size in calls, a number of 1 or more"),
        (
            "sagemaker.CreateEndpoint.slots=4",
            "service.Operation.field=value with field rate, burst or concurrency, "
            "e.g. sagemaker.CreateEndpoint.concurrency=40",
        ),
    ],
)
def test_a_whatif_quota_outside_what_its_field_takes_names_the_flag_the_value_and_what_is_allowed(
    tmp_path, change, allowed
):
    line = refused(harness(tmp_path, "whatif", str(whatif_run(tmp_path)), "--quota", change))
    assert line == (
        f"harness whatif: error: argument --quota: {change!r} is not allowed; expected {allowed} "
        "(see harness whatif --help)"
    )
    assert not (tmp_path / "reports").exists()


def test_a_whatif_takes_a_fractional_rate_and_a_whole_concurrency(tmp_path):
    done = harness(
        tmp_path,
        "whatif",
        str(whatif_run(tmp_path)),
        "--quota",
        "sagemaker.CreateEndpoint.concurrency=3",
        "--quota",
        "s3.ListObjectsV2.rate=0.5",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "reports" / "whatif-run" / "whatif.json").read_text())
    assert result["changes"] == ["sagemaker.CreateEndpoint.concurrency=3", "s3.ListObjectsV2.rate=0.5"]
    assert result["after"]["binding"] == "sagemaker.CreateEndpoint concurrency" and result["after"]["limit"] == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            ["sagemaker.CreateEndpont.concurrency=4"],  # misspelt: was 'no change'
            "error: --quota 'sagemaker.CreateEndpont.concurrency=4' is not allowed: the run held no slots of "
            "sagemaker.CreateEndpont, so it measured no demand on it (did you mean sagemaker.CreateEndpoint?); "
            "expected a "
            "concurrency on one of the calls whose slots it held: sagemaker.CreateEndpoint",
        ),
        (
            ["sagemaker.DescribeEndpoint.concurrency=4"],  # a Describe call holds nothing
            "error: --quota 'sagemaker.DescribeEndpoint.concurrency=4' is not allowed: the run held no slots of "
            ""
            "sagemaker.DescribeEndpoint, so it measured no demand on it (did you mean sagemaker.CreateEndpoint?); "
            "expected "
            "a concurrency on one of the calls whose slots it held: sagemaker.CreateEndpoint",
        ),
        (
            ["athena.StartQueryExecution.rate=2"],
            "error: --quota 'athena.StartQueryExecution.rate=2' is not allowed: the run made no call to "
            "athena.StartQueryExecution, so it measured no demand on it; expected a rate on one of the calls it made: "
            "s3.ListObjectsV2, sagemaker.DescribeEndpoint",
        ),
        (
            ["sagemaker.CreateEndpoint.concurrency=4", "sagemaker.CreateEndpoint.concurrency=8"],  # was: the last won
            "error: --quota 'sagemaker.CreateEndpoint.concurrency=8' is not allowed: "
            "sagemaker.CreateEndpoint.concurrency is given twice (sagemaker.CreateEndpoint.concurrency=4 and "
            "sagemaker.CreateEndpoint.concurrency=8); expected each quota once",
        ),
    ],
)
def test_a_whatif_quota_the_run_measured_no_demand_on_is_refused_not_planned_as_no_change(tmp_path, changes, message):
    args = [arg for change in changes for arg in ("--quota", change)]
    line = refused(harness(tmp_path, "whatif", str(whatif_run(tmp_path)), *args))
    assert line == message
    assert not (tmp_path / "reports").exists()


def test_whatif_scenario_without_verify_is_refused(tmp_path):
    line = refused(
        harness(
            tmp_path,
            "whatif",
            str(whatif_run(tmp_path)),
            "--quota",
            "sagemaker.CreateEndpoint.concurrency=4",
            "--scenario",
            "smoke",
        )
    )
    assert line == (
        "error: --scenario 'smoke' is not allowed without --verify; expected --verify with it (it names "
        "the scenario --verify reruns)"
    )


def _commands():
    from harness.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices


def test_every_option_of_every_command_says_what_it_is_for():
    silent = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in _commands().items()
        for action in command._actions
        if action.dest != "help" and not action.help
    ]
    assert silent == []


def test_every_command_that_reaches_an_account_takes_the_same_flags():
    account = {"--endpoint-url", "--region", "--aws-profile", "--allow-account"}
    for name in ("run", "sweep", "shootout", "doctor", "cleanup", "quotas"):
        flags = {flag for action in _commands()[name]._actions for flag in action.option_strings}
        assert account <= flags, (name, account - flags)
    for name in ("run", "sweep", "shootout", "doctor"):  # they read a scenario: its SageMaker role too
        flags = {flag for action in _commands()[name]._actions for flag in action.option_strings}
        assert "--role-arn" in flags, name
    overrides = {"--profile", "--seed", "--time-scale", "--redis-url", "--reports"}
    for name in ("run", "sweep", "shootout"):
        flags = {flag for action in _commands()[name]._actions for flag in action.option_strings}
        assert overrides <= flags, (name, overrides - flags)


def test_scenarios_written_with_the_older_key_names_still_run_as_before():
    """`backend` is now `target`, and an arrival stage's `target` (k6's word) is `end_rate`: a
    scenario written before reads the same; one that gives both names is refused."""
    older = {"backend": "sim", "arrival_stages": [{"target": 60, "duration_seconds": 600}]}
    newer = {"target": "sim", "arrival_stages": [{"end_rate": 60, "duration_seconds": 600}]}
    assert parse_scenario(older, "older.toml", "older") == parse_scenario(newer, "older.toml", "older")
    with pytest.raises(ConfigError, match="older.toml: backend .*nothing beside target"):
        parse_scenario({"backend": "sim", "target": "aws"}, "older.toml", "older")


def test_a_poll_interval_must_be_above_zero():
    """0 would never move virtual time on; the scenario says so before the run."""
    scenario = {"pipelines": "workbench", "params": {"endpoint_poll_seconds": 0}}
    with pytest.raises(ConfigError, match=r"params.endpoint_poll_seconds = 0 .* expected a number above 0"):
        parse_scenario(scenario, "polls.toml", "polls")
    assert parse_scenario({**scenario, "params": {"endpoint_poll_seconds": 2.5}}, "polls.toml", "polls").params
