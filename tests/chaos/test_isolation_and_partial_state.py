"""Two runs sharing one simulator never touch each other; partial state that never resolves
fails only the pipelines it hits, in time, and leaves nothing behind."""

import subprocess
import sys

import pytest

from chaoshelpers import ROOT, harness, metrics_of, profile, scenario
from harness.events import load_events
from runhelpers import nothing_in


@pytest.mark.chaos
def test_two_runs_at_once_on_one_simulator_keep_to_themselves(simulator, tmp_path):
    simulator.reset(profile="aws-default", seed=1, time_scale=0.01)
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "run",
                "smoke",
                "-n",
                "3",
                "--reports",
                str(tmp_path / f"r{i}"),
                "--endpoint-url",
                simulator.endpoint_url,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [o[1][-2000:] for o in outputs]
    folders = [next((tmp_path / f"r{i}").iterdir()) for i in (1, 2)]
    assert folders[0].name != folders[1].name
    for folder in folders:
        events = load_events(folder)
        assert set(events.run_id) == {folder.name}  # only its own events
        prefix = "hx" + folder.name[4:8] + folder.name[9:15] + folder.name.split("-")[1]
        cleaned = events[events.kind == "cleanup"]
        assert all(prefix in detail for detail in cleaned.detail)  # only its own resources
        assert metrics_of(folder)["levels"][0]["completed"] == 3
    assert nothing_in(simulator.endpoint_url)


NEVER = """
quota_table = "default"
[lifecycle.feature_group]
create_seconds = 30
offline_store_seconds = 30
table_seconds = 60
never_fraction = 0.5
"""


@pytest.mark.chaos
def test_partial_state_that_never_resolves_fails_the_affected_pipelines_in_time(tmp_path):
    path = scenario(
        tmp_path,
        f"""
target = "sim"
profile = "{profile(tmp_path, NEVER)}"
time_scale = 0.01
seed = 1  # the simulator draws 3 of the 6 feature groups to never get a table
levels = [6]
[deadlines]
offline_store = 600
[params]
rows = 20
""",
    )
    done = harness("run", path, "--reports", str(tmp_path / "reports"))
    run_dir = next((tmp_path / "reports").iterdir())
    events = load_events(run_dir)
    ends = events[events.kind == "pipeline_end"]
    failed, ok = ends[ends.outcome == "failed"], ends[ends.outcome == "ok"]
    assert (len(failed), len(ok)) == (3, 3), ends[["pipeline", "outcome", "error_code"]]  # the same for every run
    assert set(failed.error_code) == {"partial_state"}
    assert done.returncode == 1  # a run with failed pipelines says so
    waits = events[events.kind == "partial_state_failed"].duration / 0.01
    assert ((waits >= 600) & (waits <= 660)).all(), waits.tolist()
    errors = events[events.kind == "worker_error"]
    assert all("PartialState" in d or "partly built" in d for d in errors.detail)
    assert "left behind" not in done.stderr
