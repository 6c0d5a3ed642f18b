"""The built-in `workbench-light` pipeline, the shape of a Workbench ML pipeline without its
weight (no Athena, no metadata traffic; about 100 API calls), for fast tests:

DataSource -> FeatureSet (ingest, wait for the offline store) -> Model (train, register)
-> Endpoint (deploy, wait InService) -> Inference (batched invokes); teardown deletes it all.
"""

from __future__ import annotations

import pandas as pd

from harness.artifacts import DataSource, Endpoint, FeatureSet, Model
from harness.pipelines.base import Param, Pipeline, PipelineRun, Stage, delete_all

PARAMS = (
    Param("rows", 100, "rows in the dataset"),
    Param("ingest_rows", 20, "of those, rows ingested with PutRecord"),
    Param("inference_batches", 5, "InvokeEndpoint calls"),
    Param("batch_rows", 10, "rows per InvokeEndpoint"),
    Param("instance_type", "ml.m5.large", "training and endpoint instance type"),
)
DEFAULTS = {p.name: p.default for p in PARAMS}


def make_dataset(run: PipelineRun) -> pd.DataFrame:
    rows = int(run.params.get("rows", DEFAULTS["rows"]))
    rng = run.rng
    xs = [[round(rng.gauss(0, 1), 4) for _ in range(3)] for _ in range(rows)]
    return pd.DataFrame(
        {
            "id": [f"{run.pipeline_id}-{i}" for i in range(rows)],
            "event_time": ["2026-11-26T00:00:00Z"] * rows,
            "x1": [x[0] for x in xs],
            "x2": [x[1] for x in xs],
            "x3": [x[2] for x in xs],
            "target": [round(2 * x[0] - x[1] + 0.5 * x[2] + rng.gauss(0, 0.1), 4) for x in xs],
        }
    )


def data_source(run: PipelineRun) -> None:
    df = make_dataset(run)
    run.made["dataset"] = df
    run.made["data_source"] = DataSource(run.ctx, run.base_name.replace("-", "_")).create(df)


def feature_set(run: PipelineRun) -> None:
    df = run.made["dataset"]
    features = FeatureSet(run.ctx, run.base_name)
    run.made["feature_set"] = features
    features.create(df, "id", "event_time")
    features.ingest(df.head(int(run.params.get("ingest_rows", DEFAULTS["ingest_rows"]))))
    features.wait_for_offline_store()


def model(run: PipelineRun) -> None:
    trained = Model(run.ctx, run.base_name)
    run.made["model"] = trained
    trained.train(run.made["dataset"], "target", run.params.get("instance_type", DEFAULTS["instance_type"]))
    trained.register()


def endpoint(run: PipelineRun) -> None:
    deployed = Endpoint(run.ctx, run.base_name)
    run.made["endpoint"] = deployed
    deployed.deploy(run.base_name, run.params.get("instance_type", DEFAULTS["instance_type"]))


def inference(run: PipelineRun) -> None:
    df = run.made["dataset"][["x1", "x2", "x3"]]
    size = int(run.params.get("batch_rows", DEFAULTS["batch_rows"]))
    for batch in range(int(run.params.get("inference_batches", DEFAULTS["inference_batches"]))):
        rows = df.iloc[batch * size : (batch + 1) * size].values.tolist() or df.head(size).values.tolist()
        scores = run.made["endpoint"].invoke(rows)
        if len(scores) != len(rows):
            raise RuntimeError(f"endpoint answered {len(scores)} scores for {len(rows)} rows")


def teardown(run: PipelineRun) -> None:
    """Delete what this pipeline made, newest first; every step is idempotent."""
    delete_all(
        (key, run.made[key].delete)
        for key in ("endpoint", "model", "feature_set", "data_source")
        if run.made.get(key) is not None
    )


def workbench_light_pipeline() -> Pipeline:
    return Pipeline(
        "workbench-light",
        (
            Stage("data_source", data_source),
            Stage("feature_set", feature_set),
            Stage("model", model),
            Stage("endpoint", endpoint),
            Stage("inference", inference),
        ),
        teardown,
        __doc__.strip().splitlines()[0],
        PARAMS,
    )
