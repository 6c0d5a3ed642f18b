"""What a run writes into its folder besides the events: scenario.toml before anything exists,
the run's facts at its start, and its outcome at its end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import dumps_toml
from harness.events import Recorder, finalize
from harness.runner.scenario import Scenario

if TYPE_CHECKING:
    from harness.sim import Simulator


def prepare(run_dir: Path, resolved: dict[str, Any]) -> None:
    """Made and written before any resource exists, so an unusable folder costs nothing."""
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "scenario.toml").write_text(dumps_toml(resolved))
    except OSError as err:
        raise OSError(f"run folder {run_dir} is not writable: {err.strerror or err}") from None


def record_start(
    recorder: Recorder, run_id: str, prefix: str, scenario: Scenario, levels: list[int], predicted_rate: float | None
) -> None:
    recorder.set_meta(
        run_id=run_id,
        scenario=scenario.name,
        levels=levels,
        time_scale=scenario.time_scale,
        time=scenario.time,
        target=scenario.target,
        profile=scenario.profile,
        policy=scenario.policy,
        prefix=prefix,
        started=time.time(),
        complete=False,
        seed=scenario.seed,
        pipelines=scenario.pipelines,
    )
    if predicted_rate:
        recorder.set_meta(predicted_sustainable_per_hour=predicted_rate)


def record_end(recorder: Recorder, run_dir: Path, stopped_by: str | None, simulator: Simulator | None) -> None:
    """The run's outcome, and what the simulator itself still holds, by its own count."""
    end: dict[str, Any] = {"outcome": stopped_by or "complete"}
    if simulator is not None:
        try:
            end["sim"] = simulator.stats()
        except OSError:
            pass
    recorder.record("run_end", **end)
    recorder.set_meta(complete=stopped_by is None, stopped_by=stopped_by, ended=time.time())
    recorder.close()
    finalize(run_dir / "events.db")


def time_scales_text(scenario: Scenario, levels: list[int]) -> str:
    if scenario.time == "virtual":
        return "virtual time (AWS time moves only when every worker waits)"
    scales = {n: scenario.time_scale_at(n) for n in levels}
    if len(set(scales.values())) == 1:
        return f"time scale {scenario.time_scale:g}"
    return "time scales " + ", ".join(f"{scale:g} at N={n}" for n, scale in scales.items())
