"""The built-in `workbench` pipeline: a Workbench ML pipeline with the calls it really makes.

DataSource (onboarded with Athena queries, metadata in Glue table parameters; shared by the
run's pipelines, as Workbench's stress test shares one) -> FeatureSet (created, tagged, ingested
by PutRecord from many threads, its offline-store rows counted with Athena every 30 s until they
arrive, then onboarded too) -> Model (training view, train, register, tags) -> Endpoint (deploy,
tags) -> Inference (one Athena query, batched invokes). Teardown deletes what it made.

The counts come from Workbench's public code (docs/pipelines.md); `params` override each.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from harness.artifacts import ArtifactError, DataSource, Endpoint, FeatureSet, Model
from harness.artifacts.athena import query
from harness.artifacts.base import Artifact
from harness.artifacts.context import RUN_TAG
from harness.artifacts.datasource import delete_prefix, delete_table, drop_views
from harness.artifacts.onboarding import Onboarding, frame_cache, onboard, write_metadata
from harness.artifacts.tags import tag_traffic
from harness.pipelines.base import Param, Pipeline, PipelineRun, Stage, delete_all

# Per-onboarding and per-stage counts as the real package 0.8.506 makes them (measured side by
# side with it: docs/pipelines.md, "The real package against the model"; 2026-12-06).
PARAMS = (
    Param("rows", 100, "rows in the dataset; every one is ingested with PutRecord"),
    Param("string_columns", 2, "string columns: one value-count query each per onboarding"),
    Param("onboarding_queries", 14, "describing queries per onboarding, before the value counts"),
    Param("glue_listings", 4, "GetTables per onboarding (Workbench lists the database where it deletes views)"),
    Param("glue_reads", 49, "GetTable per onboarding (every metadata read and upsert)"),
    Param("glue_writes", 7, "UpdateTable per onboarding"),
    Param("unawaited_queries", 1, "queries per onboarding started and never waited for"),
    Param("s3_listings", 19, "ListObjectsV2 per onboarding (its DataFrame cache in S3)"),
    Param("s3_writes", 4, "PutObject per onboarding (the DataFrames it caches)"),
    Param("putrecord_threads", 32, "threads calling PutRecord"),
    Param("offline_poll_seconds", 30.0, "count(*) on the offline store this often until rows arrive", positive=True),
    Param("pause_after_ingest_seconds", 30.0, "AWS seconds between ingesting and polling the offline store"),
    Param("tag_reads", 42, "ListTags per SageMaker stage (three stages): every artifact object reads its tags"),
    Param("tag_writes", 8, "AddTags per SageMaker stage (three stages)"),
    Param("training_uploads", 17, "PutObject of the training job's source and data before it starts"),
    Param("endpoint_poll_seconds", 5.0, "DescribeEndpoint this often, creating or deleting (the SDK's)", positive=True),
    Param("feature_group_poll_seconds", 5.0, "DescribeFeatureGroup this often while it is created", positive=True),
    Param("feature_group_delete_poll_seconds", 1.0, "DescribeFeatureGroup this often while deleted", positive=True),
    Param("shared_data_source", True, "one data source shared by the run's pipelines"),
    Param("inference_batches", 5, "InvokeEndpoint calls"),
    Param("batch_rows", 100, "rows per InvokeEndpoint"),
    Param("instance_type", "ml.m5.large", "training and endpoint instance type"),
)
DEFAULTS = {p.name: p.default for p in PARAMS}


def param(run: PipelineRun, key: str):
    value = run.params.get(key, DEFAULTS[key])
    return type(DEFAULTS[key])(value) if not isinstance(DEFAULTS[key], bool) else bool(value)


def onboarding(run: PipelineRun) -> Onboarding:
    return Onboarding(
        param(run, "onboarding_queries"),
        param(run, "glue_listings"),
        param(run, "glue_reads"),
        param(run, "glue_writes"),
        param(run, "unawaited_queries"),
        param(run, "s3_listings"),
        param(run, "s3_writes"),
    )


def make_dataset(run: PipelineRun, seed_name: str) -> pd.DataFrame:
    """Numeric features, a target and `string_columns` categorical columns; the same rows for
    every pipeline that shares the data source (drawn from its name)."""
    import random

    rows, strings = param(run, "rows"), param(run, "string_columns")
    rng = random.Random(seed_name)
    xs = [[round(rng.gauss(0, 1), 4) for _ in range(3)] for _ in range(rows)]
    frame = {
        "id": [f"r{i}" for i in range(rows)],
        "event_time": ["2026-11-26T00:00:00Z"] * rows,
        "x1": [x[0] for x in xs],
        "x2": [x[1] for x in xs],
        "x3": [x[2] for x in xs],
        "target": [round(2 * x[0] - x[1] + 0.5 * x[2] + rng.gauss(0, 0.1), 4) for x in xs],
    }
    for k in range(strings):
        frame[f"category_{k}"] = [rng.choice(("red", "green", "blue", "amber")) for _ in range(rows)]
    return pd.DataFrame(frame)


def described(artifact: Artifact, what: str) -> dict:
    """The describe answer of an artifact this pipeline has just made: it is there unless something
    else deleted it since."""
    answer = artifact.describe()
    if answer is None:
        raise ArtifactError(f"{what} is gone: it was deleted after this pipeline made it")
    return answer


def data_source(run: PipelineRun) -> None:
    ctx = run.ctx
    shared = param(run, "shared_data_source")
    # base names are <run prefix>-n<level>w<worker>i<iteration>: the run's pipelines share one name
    name = (run.base_name.rsplit("-", 1)[0] + "-shared" if shared else run.base_name).replace("-", "_")
    df = make_dataset(run, name)
    run.made["dataset"] = df
    source = DataSource(ctx, name).create(df)
    if not shared:
        run.made["data_source"] = source  # teardown deletes it; a shared one goes with the run's cleanup
    run.made["source"] = source
    onboard(ctx, ctx.glue_database, name, onboarding(run))


def feature_set(run: PipelineRun) -> None:
    ctx, df = run.ctx, run.made["dataset"]
    features = FeatureSet(
        ctx,
        run.base_name,
        poll=param(run, "feature_group_poll_seconds"),
        delete_poll=param(run, "feature_group_delete_poll_seconds"),
    )
    run.made["feature_set"] = features
    features.create(df, "id", "event_time")
    arn = described(features, f"feature group {features.name}")["FeatureGroupArn"]
    tag_traffic(ctx, arn, param(run, "tag_reads"), param(run, "tag_writes"))
    features.ingest(df, threads=param(run, "putrecord_threads"))
    ctx.sleep(param(run, "pause_after_ingest_seconds"))
    features.wait_for_offline_store()
    features.wait_for_offline_rows(len(df), poll=param(run, "offline_poll_seconds"))
    offline = features.offline_table()
    if offline is None:  # the wait for the offline store found its table: only a deleted group has none
        raise ArtifactError(f"feature group {features.name} is gone: it was deleted after this pipeline made it")
    database, table = offline
    run.made["frames"] = frame_cache(ctx, table)  # teardown deletes it even once the group is gone
    onboard(ctx, database, table, onboarding(run))


def model(run: PipelineRun) -> None:
    ctx = run.ctx
    database, table = run.made["feature_set"].offline_table()
    view = f"{run.base_name.replace('-', '_')}_training"
    run.made["training_view"] = (database, view)  # before: a query that times out may still have made it
    query(ctx, f'CREATE OR REPLACE VIEW "{database}"."{view}" AS SELECT * FROM "{database}"."{table}"', database)
    if ctx.run_id:
        write_metadata(ctx, database, view, {RUN_TAG: ctx.run_id})  # for the run's cleanup
    trained = Model(ctx, run.base_name)
    run.made["model"] = trained
    run.made["uploads"] = uploads = f"{ctx.key_prefix}models/{run.base_name}/source/"
    # the SDK uploads the script folder, then the data (Model.train: the last of the uploads)
    for i in range(max(0, param(run, "training_uploads") - 1)):
        ctx.client("s3").put_object(Bucket=ctx.bucket, Key=f"{uploads}{i}", Body=b"#")
    trained.train(run.made["dataset"], "target", param(run, "instance_type"))
    trained.register()
    described = trained.describe() or trained.training_job() or {}
    arn = described.get("ModelArn") or described.get("TrainingJobArn")
    if arn:
        tag_traffic(ctx, arn, param(run, "tag_reads"), param(run, "tag_writes"))


def endpoint(run: PipelineRun) -> None:
    ctx = run.ctx
    deployed = Endpoint(ctx, run.base_name, poll=param(run, "endpoint_poll_seconds"))
    run.made["endpoint"] = deployed
    deployed.deploy(run.base_name, param(run, "instance_type"))
    arn = described(deployed, f"endpoint {deployed.name}")["EndpointArn"]
    tag_traffic(ctx, arn, param(run, "tag_reads"), param(run, "tag_writes"))


def inference(run: PipelineRun) -> None:
    database, table = run.made["feature_set"].offline_table()
    size = param(run, "batch_rows")
    rows = query(
        run.ctx,
        f'SELECT "x1", "x2", "x3" FROM "{database}"."{table}" LIMIT {size * param(run, "inference_batches")}',
        database,
    )
    rows = rows if len(rows) else run.made["dataset"][["x1", "x2", "x3"]]
    for batch in range(param(run, "inference_batches")):
        chunk = rows.iloc[batch * size : (batch + 1) * size].values.tolist() or rows.head(size).values.tolist()
        scores = run.made["endpoint"].invoke(chunk)
        if len(scores) != len(chunk):
            raise RuntimeError(f"endpoint answered {len(scores)} scores for {len(chunk)} rows")


def teardown(run: PipelineRun) -> None:
    """Delete what this pipeline made, newest first; every step is idempotent. (A shared data
    source is not this pipeline's: the run's cleanup deletes it.)"""
    ctx, made, steps = run.ctx, run.made, []
    if made.get("training_view"):
        steps.append(("training view", lambda: delete_table(ctx, *made["training_view"])))

    def drop_offline_views() -> None:
        table = made["feature_set"].offline_table()  # None once the group is gone
        if table:
            drop_views(ctx, *table)

    if made.get("feature_set") is not None:
        steps.append(("offline-store views", drop_offline_views))

    def drop_prefix(prefix: str) -> None:
        delete_prefix(ctx, ctx.bucket, prefix)

    for key, what in (("frames", "cached frames"), ("uploads", "training uploads")):
        if made.get(key):
            steps.append((what, partial(drop_prefix, made[key])))
    steps += [
        (key, made[key].delete)
        for key in ("endpoint", "model", "feature_set", "data_source")
        if made.get(key) is not None
    ]
    delete_all(steps)


def workbench_pipeline() -> Pipeline:
    return Pipeline(
        "workbench",
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
