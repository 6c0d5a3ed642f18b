"""Ctrl-C from a terminal: SIGINT to the whole foreground process group, as a terminal sends it.

The harness runs in its own session here (as it would as a terminal's foreground job) with the
embedded simulator, and the test signals the process group, not just the runner's pid. The
promise: in-flight pipelines tear down, the tagged cleanup runs, the run folder is complete
with its report, nothing is left in the simulator (by the simulator's own count), exit code 130.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from chaoshelpers import ROOT, scenario
from harness.events import load_events, load_meta

SMOKE = (ROOT / "scenarios" / "smoke.toml").read_text()


def start_as_a_terminal_job(*args) -> subprocess.Popen:
    """`harness ...` as the foreground job of a terminal: the leader of its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ctrl_c_once_pipelines_are_in(process, reports, stage="model", patience=120):
    """Wait until a pipeline has reached `stage` (its feature group and data exist), then send
    SIGINT to the process group. Returns the run folder."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        found = sorted(reports.glob("*/events.db"))
        if found and (load_events(found[0], ["stage_start"]).stage == stage).any():
            os.killpg(process.pid, signal.SIGINT)
            return found[0].parent
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"no pipeline reached {stage} within {patience}s: {process.communicate()}")


def assert_kept_its_promise(process, run_dir):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "Connection refused" not in err and "could not finish" not in err, err
    assert f"run folder: {run_dir}" in out
    meta = load_meta(run_dir)
    assert meta["complete"] is False and meta["stopped_by"] == "SIGINT"
    for name in ("scenario.toml", "events.db", "report.html", "summary.md", "metrics.json"):
        assert (run_dir / name).exists(), name
    assert not list(run_dir.glob("events.db-*")), "the run's database was not closed (-wal or -shm left)"
    events = load_events(run_dir)
    assert events.kind.iloc[-1] == "run_end"
    ends = events[events.kind == "pipeline_end"]
    assert "stopped" in set(ends.outcome) and set(ends.outcome) <= {"stopped", "ok"}
    teardowns = events[(events.kind == "stage_end") & (events.stage == "teardown")]
    assert len(teardowns) == len(ends) and set(teardowns.outcome) == {"ok"}  # every pipeline tore down
    left = json.loads(events.detail.iloc[-1])["sim"]["resources"]  # the simulator's own inventory
    assert not any(left.values()), left
    assert "Nothing left behind" in (run_dir / "summary.md").read_text()
    # every attempt the simulator counted is recorded, and none it never saw (a call stopped
    # before it was sent is not an attempt)
    assert json.loads((run_dir / "metrics.json").read_text())["integrity"]["all_match"] is True


@pytest.mark.chaos
def test_ctrl_c_on_a_run_with_the_embedded_simulator_keeps_the_promise(tmp_path):
    process = start_as_a_terminal_job("run", "smoke", "-n", "4", "--reports", str(tmp_path))
    run_dir = ctrl_c_once_pipelines_are_in(process, tmp_path)
    assert_kept_its_promise(process, run_dir)


@pytest.mark.chaos
def test_ctrl_c_reaches_worker_processes_only_through_the_runner(tmp_path):
    path = scenario(tmp_path, SMOKE.replace("[params]", 'workers = "processes"\nprocesses = 2\n\n[params]'))
    process = start_as_a_terminal_job("run", path, "-n", "4", "--reports", str(tmp_path / "reports"))
    run_dir = ctrl_c_once_pipelines_are_in(process, tmp_path / "reports")
    assert_kept_its_promise(process, run_dir)


@pytest.mark.chaos
@pytest.mark.xdist_group("ray")  # one Ray cluster at a time on this machine (tests/test_ray_workers.py too)
def test_ctrl_c_reaches_ray_workers_only_through_the_runner(tmp_path, redis_server, ray_cluster):
    """On a cluster started apart (`ray start` on each host; here cluster_utils), in-flight
    pipelines on every node tear down and their events reach the run folder."""
    assert_ray_run_keeps_the_promise(tmp_path, redis_server, f'ray_address = "{ray_cluster.address}"\n')


@pytest.mark.chaos
@pytest.mark.xdist_group("ray")
def test_ctrl_c_on_a_ray_cluster_the_run_started_itself(tmp_path, redis_server):
    """Without ray_address the run starts a cluster on this machine: its processes are the
    runner's children, and the terminal's Ctrl-C must still reach the workers through the runner."""
    assert_ray_run_keeps_the_promise(tmp_path, redis_server, "")


def assert_ray_run_keeps_the_promise(tmp_path, redis_server, address: str) -> None:
    path = scenario(tmp_path, SMOKE.replace("[params]", f'workers = "ray"\n{address}processes = 2\n\n[params]'))
    process = start_as_a_terminal_job(
        "run", path, "-n", "4", "--reports", str(tmp_path / "reports"), "--redis-url", redis_server.url
    )
    run_dir = ctrl_c_once_pipelines_are_in(process, tmp_path / "reports")
    assert_kept_its_promise(process, run_dir)
    events = load_events(run_dir)
    assert len(events[events.kind == "worker_process"]) == 2


@pytest.mark.chaos
def test_ctrl_c_during_a_shootout_finishes_the_current_run_and_runs_no_other(tmp_path):
    process = start_as_a_terminal_job(
        "shootout", "smoke", "--levels", "4", "--policies", "harness,botocore-standard", "--reports", str(tmp_path)
    )
    run_dir = ctrl_c_once_pipelines_are_in(process, tmp_path)
    assert_kept_its_promise(process, run_dir)
    assert [p.name for p in tmp_path.iterdir()] == [run_dir.name]  # the second policy never started
