"""Cleanup: delete what a run left behind, and only that.

A resource is the run's when its name starts with the run's prefix AND it carries the run's
tag (Glue tables: a table parameter; S3: a bucket tag). A look-alike with the prefix but no
tag, or another run's tag, is never touched. Every deletion is idempotent and recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from harness.artifacts import DataSource, Endpoint, FeatureSet, Model
from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.datasource import delete_prefix, delete_table
from harness.artifacts.featureset import OFFLINE_DATABASE
from harness.artifacts.waiting import error_code


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str


HARNESS_PREFIX = "hx"  # every run's prefix starts with this (see runner.run.run_prefix)

Owns = Callable[[str | None], bool]  # given a resource's run tag (or None), is it ours?


def run_started(run_id: str) -> float | None:
    """The epoch time a run id was made (20261126T060512Z-3fa9), or None if it is not one."""
    try:
        return datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def owned_by(run_id: str) -> Owns:
    return lambda tag: tag == run_id


def older_than(seconds: float, now: float | None = None) -> Owns:
    """Runs that started more than `seconds` ago (by the time in their run id)."""
    cutoff = (now if now is not None else time.time()) - seconds
    return lambda tag: tag is not None and (run_started(tag) or float("inf")) < cutoff


def _run_tag(ctx: AwsContext, arn: str) -> str | None:
    try:
        tags = ctx.client("sagemaker").list_tags(ResourceArn=arn).get("Tags", [])
    except ClientError as err:
        if error_code(err) in ("ValidationException", "ResourceNotFound"):
            return None
        raise
    return next((t.get("Value") for t in tags if t.get("Key") == RUN_TAG), None)


def _listed(
    ctx: AwsContext, operation: str, key: str, name_field: str, arn_field: str, prefix: str
) -> Iterator[tuple[str, str]]:
    paginator = ctx.client("sagemaker").get_paginator(operation)
    for page in paginator.paginate(NameContains=prefix):
        for item in page.get(key, []):
            if item[name_field].startswith(prefix):
                yield item[name_field], item[arn_field]


def find_run_resources(ctx: AwsContext, prefix: str, run_id: str) -> list[Resource]:
    """Every resource of every kind that belongs to this run."""
    return find_resources(ctx, prefix, owned_by(run_id))


def find_resources(ctx: AwsContext, prefix: str, owns: Owns) -> list[Resource]:
    """Every resource of every kind whose name starts with `prefix` and whose run tag `owns`."""
    found: list[Resource] = []
    sagemaker_kinds = [
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
    ]
    for kind, operation, key, name_field, arn_field in sagemaker_kinds:
        for name, arn in _listed(ctx, operation, key, name_field, arn_field, prefix):
            if kind == "training_job_running":
                job = ctx.client("sagemaker").describe_training_job(TrainingJobName=name)
                if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
                    continue  # AWS keeps finished training jobs; nothing to delete
            if owns(_run_tag(ctx, arn)):
                found.append(Resource(kind, name))
    glue = ctx.client("glue")
    # the run's own database, and the feature store's, where the views of offline stores live
    for database, kind in ((ctx.glue_database, "glue_table"), (OFFLINE_DATABASE, "offline_store_view")):
        try:
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
                for table in page.get("TableList", []):
                    if table["Name"].startswith(prefix) and owns(table.get("Parameters", {}).get(RUN_TAG)):
                        found.append(Resource(kind, table["Name"]))
        except ClientError as err:
            if error_code(err) != "EntityNotFoundException":
                raise
    s3 = ctx.client("s3")
    if ctx.key_prefix:  # a bucket the run does not own: what it wrote lives under its prefix
        listed = s3.list_objects_v2(Bucket=ctx.bucket, Prefix=ctx.key_prefix, MaxKeys=1)
        if listed.get("KeyCount"):
            found.append(Resource("s3_prefix", f"{ctx.bucket}/{ctx.key_prefix}"))
    for bucket in s3.list_buckets().get("Buckets", []):
        if not bucket["Name"].startswith(prefix):
            continue
        try:
            tags = s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet", [])
        except ClientError:
            continue
        if owns(next((t["Value"] for t in tags if t["Key"] == RUN_TAG), None)):
            found.append(Resource("s3_bucket", bucket["Name"]))
    return found


def delete_resource(ctx: AwsContext, resource: Resource) -> None:
    kind, name = resource.kind, resource.name
    if kind in ("endpoint", "endpoint_config"):
        Endpoint(ctx, name).delete()
    elif kind in ("model", "model_package_group", "training_job_running"):
        Model(ctx, name).delete()
    elif kind == "feature_group":
        FeatureSet(ctx, name).delete()
    elif kind == "glue_table":
        DataSource(ctx, name).delete()
    elif kind == "offline_store_view":
        delete_table(ctx, OFFLINE_DATABASE, name)
    elif kind == "s3_prefix":
        bucket, _, prefix = name.partition("/")
        delete_prefix(ctx, bucket, prefix)
    elif kind == "s3_bucket":
        delete_prefix(ctx, name, "")
        try:
            ctx.client("s3").delete_bucket(Bucket=name)
        except ClientError as err:
            if error_code(err) != "NoSuchBucket":
                raise


def cleanup_run(
    ctx: AwsContext, prefix: str, run_id: str, say: Callable[[str], None] = lambda line: None
) -> list[Resource]:
    """Delete every resource of the run (S3 buckets last); return what was deleted."""
    return cleanup(ctx, find_run_resources(ctx, prefix, run_id), say)


def cleanup(
    ctx: AwsContext, resources: list[Resource], say: Callable[[str], None] = lambda line: None
) -> list[Resource]:
    """Delete these resources (S3 buckets last); return what was deleted."""
    resources = list(resources)
    resources.sort(key=lambda r: r.kind == "s3_bucket")
    deleted = []
    for resource in resources:
        try:
            delete_resource(ctx, resource)
            deleted.append(resource)
            ctx.record("cleanup", outcome="deleted", resource_kind=resource.kind, name=resource.name)
            say(f"deleted {resource.kind} {resource.name}")
        except Exception as err:  # noqa: BLE001 - keep going; report what could not be deleted
            ctx.record(
                "cleanup", outcome="failed", resource_kind=resource.kind, name=resource.name, error=str(err)[:300]
            )
            say(f"could not delete {resource.kind} {resource.name}: {err}")
    return deleted
