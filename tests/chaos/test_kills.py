"""Killing the runner or the simulator mid-run: nothing recorded is lost, nothing hangs,
nothing is left behind."""

import signal
import subprocess
import sys
import threading
import time

import pytest

from chaoshelpers import ROOT, harness, metrics_of
from harness.events import load_events, load_meta
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario
from harness.sim import Simulator
from runhelpers import everything_in, nothing_in


@pytest.mark.chaos
def test_a_runner_killed_with_sigkill_leaves_a_readable_run_and_cleanup_finishes_the_job(simulator, tmp_path):
    simulator.reset(profile="aws-default", seed=1, time_scale=0.01)
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "sweep",
            "smoke",
            "--levels",
            "2,2",
            "--reports",
            str(tmp_path),
            "--endpoint-url",
            simulator.endpoint_url,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(tmp_path.glob("*/events.db"))
        if found and (load_events(found[0], ["stage_start"]).stage == "endpoint").any():
            break
        time.sleep(0.2)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    run_dir = found[0].parent
    assert any(everything_in(simulator.endpoint_url).values())  # the kill left resources behind

    assert load_meta(run_dir)["complete"] is False
    report = harness("report", str(run_dir))
    assert report.returncode == 0, report.stderr
    assert metrics_of(run_dir)["complete"] is False
    assert "INCOMPLETE RUN" in (run_dir / "summary.md").read_text()

    cleanup = harness("cleanup", "--run-id", run_dir.name, "--endpoint-url", simulator.endpoint_url, "--yes")
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert nothing_in(simulator.endpoint_url)


@pytest.mark.chaos
def test_a_simulator_restart_mid_run_ends_in_bounded_time_with_clear_reasons(tmp_path):
    scenario = load_scenario("smoke")
    first = Simulator("aws-default", seed=1, time_scale=0.01).start()
    port = first.port
    runner = Runner(scenario, tmp_path, [3], endpoint_url=first.endpoint_url)
    finished = []
    thread = threading.Thread(target=lambda: finished.append(runner.run()), daemon=True)
    started = time.monotonic()
    thread.start()
    time.sleep(6)  # well into the pipelines (about 10 AWS minutes)
    first.stop()
    time.sleep(1.5)
    second = Simulator("aws-default", seed=1, time_scale=0.01, port=port).start()
    try:
        thread.join(180)
        assert not thread.is_alive(), "the run hung after the simulator restarted"
        elapsed = time.monotonic() - started
        events = load_events(finished[0].run_dir)
        unreachable = events[(events.kind == "api_attempt") & (events.outcome == "exception")]
        assert len(unreachable) > 0  # the outage was recorded, attempt by attempt
        assert set(unreachable.error_code) <= {
            "EndpointConnectionError",
            "ConnectionClosedError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
        }
        ends = events[events.kind == "pipeline_end"]
        assert len(ends) == 3
        for row in ends.itertuples():  # each pipeline either finished or says why it did not
            assert row.outcome == "ok" or (row.outcome == "failed" and row.error_code)
        assert elapsed < 150
        assert nothing_in(second.endpoint_url)
    finally:
        second.stop()
