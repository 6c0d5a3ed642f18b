"""The real Workbench package (examples/workbench: 0.8.506 from its own lock and environment),
unmodified, two pipelines at once on the simulator: DataSource, FeatureSet, Model, Endpoint and
inference in each, every call recorded against its pipeline. `make test` installs the
environment first (`make examples/workbench/.venv/.installed`)."""

from dataclasses import replace
from pathlib import Path

import pytest

from harness.events import load_events
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
WORKBENCH_PYTHON = REPO / "examples" / "workbench" / ".venv" / "bin" / "python"


@pytest.mark.xdist_group("workbench")  # about 1 GB per pipeline process (a group of its own)
def test_the_real_workbench_package_runs_two_pipelines_at_once_unmodified(tmp_path, monkeypatch):
    assert WORKBENCH_PYTHON.exists(), "make examples/workbench/.venv/.installed (make test does)"
    monkeypatch.chdir(REPO)  # the scenario names the program and its environment from the repository
    scenario = load_scenario("workbench-real")
    scenario = replace(scenario, params={**scenario.params, "rows": 60})
    result = Runner(scenario, tmp_path / "runs", [2]).run().render()

    logs = {p.name: p.read_text()[-3000:] for p in (result.run_dir / "commands").iterdir()}
    assert result.failed == 0, logs
    events = load_events(result.run_dir / "events.db")
    attempts = events[(events.kind == "api_attempt")].dropna(subset=["pipeline"])
    assert set(attempts.pipeline) == {"n2-w00-001", "n2-w01-001"}
    per_pipeline = attempts.groupby(["pipeline", "service"]).size().unstack(fill_value=0)
    # what Workbench does, seen from the calls: Athena queries, Glue tables, a feature group
    # written row by row, a training job, an endpoint, and inference
    assert (per_pipeline[["athena", "glue", "s3", "sagemaker", "sagemaker-featurestore-runtime"]] > 0).all().all()
    operations = set(attempts.operation)
    assert {
        "StartQueryExecution",
        "CreateFeatureGroup",
        "PutRecord",
        "CreateTrainingJob",
        "CreateEndpoint",
    } <= operations
    assert "InvokeEndpoint" in operations
    assert (attempts.stage == "pipeline").all()
    setup = events[(events.kind == "api_attempt") & (events.stage == "setup")]
    assert {"CreateRole", "CreateWorkGroup"} <= set(setup.operation)
