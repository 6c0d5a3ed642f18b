"""`whatif --verify`: the run's scenario rerun on the simulator with the changed quotas, at the
run's levels and time scale, for the measured throughput beside the predicted one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.runner.result import RunResult
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario
from harness.runner.session import run_and_report

if TYPE_CHECKING:
    from harness.quotas import Quota


def rerun_with(
    metrics: dict[str, Any], rows: list[Quota], scenario_name: str | None, reports: str | Path, out: Path
) -> tuple[RunResult, dict[int, float | None]]:
    """The rerun's result and its throughput per level (pipelines per AWS hour). rows: the changed
    quota rows, for both the account (a profile written into `out`) and the harness's table."""
    from harness.report import whatif

    scenario = load_scenario(scenario_name or metrics["scenario"])
    if scenario.target != "sim":
        raise ValueError(f"--verify reruns on the simulator; scenario {scenario.name} has target = {scenario.target!r}")
    out.mkdir(parents=True, exist_ok=True)
    scenario.profile = whatif.verify_profile(scenario.profile, rows, out)
    scenario.quota_overrides = list(scenario.quota_overrides) + rows
    scenario.time_scale = metrics["time_scale"]
    rerun = run_and_report(Runner(scenario, reports, [level["level"] for level in metrics["levels"]]))
    if rerun.stopped_by:
        return rerun, {}
    measured = json.loads((rerun.run_dir / "metrics.json").read_text())
    return rerun, {level["level"]: level["throughput_per_hour"] for level in measured["levels"]}
