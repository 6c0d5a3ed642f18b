"""What runs left in an account, found without changing anything: each resource of every kind a
run makes, or AWS makes for it, that is in a cleanup's scope (ownership.py says whose is whose)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.datasource import VIEW_SUFFIXES
from harness.artifacts.featureset import OFFLINE_DATABASE
from harness.artifacts.waiting import error_code
from harness.runner.ownership import RunsByPrefix, Scope, bucket_run_tag, sagemaker_run_tag
from harness.runner.run_ids import run_prefix_of

# Where SageMaker writes the logs of training jobs and endpoints: one group for every training
# job, a stream per instance named "<job>/algo-<n>-<epoch>"; a group per endpoint, a stream per
# variant and instance. https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html
TRAINING_JOB_LOGS = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOGS = "/aws/sagemaker/Endpoints/"

# Every kind, in the order a cleanup deletes them: what uses a thing before the thing (an
# endpoint before its config and model), the Glue database once its tables are gone, a bucket
# once its objects are.
KINDS = (
    "endpoint",
    "endpoint_config",
    "model",
    "model_package_group",
    "feature_group",
    "training_job_running",
    "glue_table",
    "offline_store_view",
    "offline_store_table",
    "log_group",
    "log_stream",
    "s3_prefix",
    "glue_database",
    "s3_bucket",
)


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str  # Glue tables: "database.table"; log streams: "group:stream"; S3 prefixes: "bucket/prefix/"


@dataclass(frozen=True)
class Storage:
    """Where runs keep things in the account (the scenario's [account])."""

    glue_database: str = "harness"
    shared_bucket: str | None = None  # an existing bucket, each run under its prefix; None: a bucket per run

    def run_uri(self, prefix: str) -> str:
        """Where the run with this prefix keeps its objects (aws_context.scenario_context)."""
        return f"s3://{self.shared_bucket}/{prefix}/" if self.shared_bucket else f"s3://{prefix}-data/"


SAGEMAKER_KINDS = (  # kind, list operation, its list key, name field, ARN field
    ("endpoint", "list_endpoints", "Endpoints", "EndpointName", "EndpointArn"),
    ("endpoint_config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"),
    ("model", "list_models", "Models", "ModelName", "ModelArn"),
    (
        "model_package_group",
        "list_model_package_groups",
        "ModelPackageGroupSummaryList",
        "ModelPackageGroupName",
        "ModelPackageGroupArn",
    ),
    ("feature_group", "list_feature_groups", "FeatureGroupSummaries", "FeatureGroupName", "FeatureGroupArn"),
    ("training_job_running", "list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "TrainingJobArn"),
)


def find_leftovers(ctx: AwsContext, scope: Scope, storage: Storage, traces: bool = True) -> list[Resource]:
    """Every resource in scope. traces: also what the run leaves that costs nothing but clutters
    (SageMaker's logs, the Glue database once empty); a run's own cleanup keeps them, to read."""
    runs = RunsByPrefix(ctx)
    found = list(_sagemaker(ctx, scope, runs))
    tables = list(_glue_tables(ctx, scope, runs, storage))
    found += tables
    if traces:
        found += _logs(ctx, scope, runs)
    found += _s3(ctx, scope, runs, storage)
    if traces:
        found += _glue_database(ctx, scope, storage.glue_database, tables)
    return sorted(found, key=lambda r: KINDS.index(r.kind))


def _sagemaker(ctx: AwsContext, scope: Scope, runs: RunsByPrefix) -> Iterator[Resource]:
    sagemaker = ctx.client("sagemaker")
    for kind, operation, key, name_field, arn_field in SAGEMAKER_KINDS:
        for page in sagemaker.get_paginator(operation).paginate(NameContains=scope.prefix):
            for item in page.get(key, []):
                name = item[name_field]
                if not name.startswith(scope.prefix):
                    continue
                if kind == "training_job_running" and item.get("TrainingJobStatus") not in ("InProgress", "Stopping"):
                    continue  # AWS keeps finished training jobs; nothing to delete
                tag = sagemaker_run_tag(ctx, item[arn_field])
                runs.saw(name, tag)
                if scope.owns(tag):
                    yield Resource(kind, name)


def _tables(ctx: AwsContext, database: str) -> list[dict[str, Any]]:
    try:
        pages = ctx.client("glue").get_paginator("get_tables").paginate(DatabaseName=database)
        return [table for page in pages for table in page.get("TableList", [])]
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return []


def _glue_tables(ctx: AwsContext, scope: Scope, runs: RunsByPrefix, storage: Storage) -> Iterator[Resource]:
    """The run's tables in its database; in the feature store's, its views and the offline-store
    tables Feature Store made for its groups; in both, the views onboarding made of them."""
    for database, kind in ((storage.glue_database, "glue_table"), (OFFLINE_DATABASE, "offline_store_view")):
        tables = [t for t in _tables(ctx, database) if t["Name"].startswith(scope.prefix)]
        tagged: list[str] = []
        for table in tables:
            tag = table.get("Parameters", {}).get(RUN_TAG)
            runs.saw(table["Name"], tag)
            if scope.owns(tag):
                tagged.append(table["Name"])
        made_by_aws = []
        if database == OFFLINE_DATABASE:
            untagged = [t for t in tables if t["Name"] not in tagged]
            made_by_aws = list(_offline_store_tables(scope, runs, storage, untagged))
        names = {t["Name"] for t in tables}
        # a view onboarding made but had not tagged yet when the run was stopped: its table's
        views = [name + suffix for name in tagged + made_by_aws for suffix in VIEW_SUFFIXES if name + suffix in names]
        for name in dict.fromkeys(tagged + views):
            yield Resource(kind, f"{database}.{name}")
        for name in made_by_aws:
            yield Resource("offline_store_table", f"{database}.{name}")


def _offline_store_tables(
    scope: Scope, runs: RunsByPrefix, storage: Storage, tables: list[dict[str, Any]]
) -> Iterator[str]:
    """Feature Store names a group's table after it and points it at the group's offline store:
    a table named with a run's prefix whose data is that run's is the run's, left when the run
    stopped between deleting the group and its table (FeatureSet.delete)."""
    for table in tables:
        prefix = run_prefix_of(table["Name"])
        location = table.get("StorageDescriptor", {}).get("Location", "")
        if prefix and location.startswith(storage.run_uri(prefix)) and scope.owns_run(prefix, runs.named_run):
            yield table["Name"]


def _logs(ctx: AwsContext, scope: Scope, runs: RunsByPrefix) -> Iterator[Resource]:
    """SageMaker's logs of the run's endpoints (a group each) and training jobs (their streams in
    the group every training job shares, which stays)."""
    logs = ctx.client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=ENDPOINT_LOGS + scope.prefix):
        for group in page.get("logGroups", []):
            prefix = run_prefix_of(group["logGroupName"].removeprefix(ENDPOINT_LOGS))
            if prefix and scope.owns_run(prefix, runs.named_run):
                yield Resource("log_group", group["logGroupName"])
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=TRAINING_JOB_LOGS, logStreamNamePrefix=scope.prefix
        )
        streams = [stream["logStreamName"] for page in pages for stream in page.get("logStreams", [])]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":  # no training job ever logged here
            raise
        streams = []
    for stream in streams:
        prefix = run_prefix_of(stream)
        if prefix and scope.owns_run(prefix, runs.named_run):
            yield Resource("log_stream", f"{TRAINING_JOB_LOGS}:{stream}")


def _s3(ctx: AwsContext, scope: Scope, runs: RunsByPrefix, storage: Storage) -> Iterator[Resource]:
    """The run's objects in the shared bucket (under its prefix), and buckets of its own (tagged)."""
    s3 = ctx.client("s3")
    if storage.shared_bucket:
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=storage.shared_bucket, Prefix=scope.prefix, Delimiter="/"
            )
            folders = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
        except ClientError as err:
            if error_code(err) != "NoSuchBucket":
                raise
            folders = []
        for folder in folders:
            prefix = run_prefix_of(folder)
            if prefix and folder == f"{prefix}/" and scope.owns_run(prefix, runs.named_run):
                yield Resource("s3_prefix", f"{storage.shared_bucket}/{folder}")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        if name.startswith(scope.prefix) and name != storage.shared_bucket:
            tag = bucket_run_tag(ctx, name)
            runs.saw(name, tag)
            if scope.owns(tag):
                yield Resource("s3_bucket", name)


def _glue_database(ctx: AwsContext, scope: Scope, database: str, tables: list[Resource]) -> Iterator[Resource]:
    """The database a run in scope made (DataSource tags it), once the tables found are gone:
    never one that holds a table of anyone else (another run's, or the account's own)."""
    try:
        made_by = ctx.client("glue").get_database(Name=database)["Database"].get("Parameters", {}).get(RUN_TAG)
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return
    going = {r.name for r in tables}
    if scope.owns(made_by) and all(f"{database}.{t['Name']}" in going for t in _tables(ctx, database)):
        yield Resource("glue_database", database)
