"""Bad command lines, typed as a person would: each is refused with exit code 2 and one line that
names the flag (or the file and field), the value and what is allowed; no traceback, no run.

Every command runs in an empty folder, so the default `reports/` would appear there if a run
started."""
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
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(TESTS)})


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


@pytest.mark.parametrize("command", [
    "run smoke -n -3",
    "run smoke -n 0",
    "run smoke -n 5000",
    "run smoke -n many",
    "run smoke --levels 4,2000",
    "sweep smoke --up-to -1",
    "sweep smoke --levels 0,4",
    "plan smoke -n -5",
    "shootout smoke --levels -4",
])
def test_a_level_outside_1_to_1024_names_the_flag_the_value_and_the_range(tmp_path, command):
    *_, flag, value = command.split()
    line = refused(harness(tmp_path, *command.split()))
    assert f"argument {flag}: {value!r} is not allowed" in line and "from 1 to 1024" in line
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("command", ["run smoke --profile nosuch", "sweep smoke --up-to 8 --profile nosuch",
                                     "run smoke --profile nosuch.toml", "sim --profile nosuch"])
def test_an_unknown_profile_lists_the_profiles_and_makes_no_run_folder(tmp_path, command):
    line = refused(harness(tmp_path, *command.split()))
    assert "argument --profile: 'nosuch" in line
    assert all(name in line for name in available_profiles())
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
    assert line == (f"error: {scenario}: params.rowz = 10 is not allowed; expected a parameter of workbench-light: "
                    "rows, ingest_rows, inference_batches, batch_rows, instance_type")


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
        parse_scenario({**user, "pipelines": {"pipelines_for_tests:flaky": 1, "workbench-light": 1}}, "user.toml",
                       "user")


def test_a_user_pipeline_that_fails_its_dry_run_on_a_bad_param_says_why_in_one_line(tmp_path):
    scenario = tmp_path / "user.toml"
    scenario.write_text('pipelines = "pipelines_for_tests:flaky"\n[params]\nrows = "x"\n')
    line = refused(harness(tmp_path, "plan", str(scenario)))
    assert "the dry run of pipeline pipelines_for_tests:flaky failed: invalid literal for int()" in line


def test_version_prints_the_package_version(tmp_path):
    done = harness(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout == f"harness {version('ml-pipeline-stress-harness')}\n"
