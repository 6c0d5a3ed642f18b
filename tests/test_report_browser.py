"""A real run's report opens in headless Chromium with every plot shown and no console errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from browser import CHROMIUM, needs_chromium, open_report
from harness.events import load_events
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


@needs_chromium
def test_the_smoke_run_report_opens_with_every_plot(simulator, tmp_path):
    scenario = load_scenario("smoke")
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [2, 4], endpoint_url=simulator.endpoint_url).run().render()
    seen = open_report(result.run_dir / "report.html", tmp_path / "report.png", tmp_path / "chromium")
    assert seen["plots_loaded"] == "5/5"
    assert seen["console"] == []
    assert seen["screenshot_bytes"] > 50_000


@pytest.mark.stress
def test_make_stress_n32_end_to_end(tmp_path):
    """What `make stress N=32` does, with the acceptance checks of the runner issue."""
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "sweep", "stress", "--up-to", "32", "--reports", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "left behind" not in done.stderr  # the final cleanup listed every kind and found nothing
    run_dir = next(tmp_path.iterdir())
    events = load_events(run_dir)
    assert sorted(events[events.kind == "level_end"].level.unique()) == [4, 8, 16, 32]
    ends = events[events.kind == "pipeline_end"]
    assert (ends.error_code == "throttling").sum() == 0
    if CHROMIUM:
        seen = open_report(run_dir / "report.html", tmp_path / "report.png", tmp_path / "chromium")
        assert seen["plots_loaded"] == "5/5" and seen["console"] == []
