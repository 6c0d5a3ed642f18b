"""Cleanup: delete what runs left behind (leftovers.py finds it), and only that.

Each resource is deleted on its own, in the order of leftovers.KINDS; every deletion is
idempotent (gone already counts as deleted) and recorded, and one that fails does not stop
the others.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from harness.artifacts import Endpoint, FeatureSet, Model
from harness.artifacts.context import AwsContext
from harness.artifacts.datasource import delete_prefix, delete_table
from harness.artifacts.waiting import error_code
from harness.runner.leftovers import KINDS, Resource, Storage, find_leftovers
from harness.runner.ownership import OneRun

Say = Callable[[str], None]


class NotEmpty(RuntimeError):
    """A Glue database that holds a table again (made after it was found empty): kept."""


def run_storage(ctx: AwsContext) -> Storage:
    """Where the run of this context keeps things (a context made by aws_context.scenario_context)."""
    return Storage(ctx.glue_database, ctx.bucket if ctx.key_prefix else None)


def find_run_resources(ctx: AwsContext, prefix: str, run_id: str) -> list[Resource]:
    """What the run of this context left: everything that costs or is in the way; its logs and
    its Glue database stay, to read (`harness cleanup` removes them)."""
    return find_leftovers(ctx, OneRun(run_id, prefix), run_storage(ctx), traces=False)


def cleanup_run(ctx: AwsContext, prefix: str, run_id: str, say: Say = lambda line: None) -> list[Resource]:
    """Delete what the run of this context left; return what was deleted."""
    return cleanup(ctx, find_run_resources(ctx, prefix, run_id), say)


def cleanup(ctx: AwsContext, resources: list[Resource], say: Say = lambda line: None) -> list[Resource]:
    """Delete these resources; return those deleted (or gone already)."""
    deleted = []
    for resource in sorted(resources, key=lambda r: KINDS.index(r.kind)):
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


def delete_resource(ctx: AwsContext, resource: Resource) -> None:
    kind, name = resource.kind, resource.name
    if kind in ("endpoint", "endpoint_config"):
        Endpoint(ctx, name).delete()
    elif kind in ("model", "model_package_group", "training_job_running"):
        Model(ctx, name).delete()
    elif kind == "feature_group":
        FeatureSet(ctx, name).delete()
    elif kind in ("glue_table", "offline_store_view", "offline_store_table"):
        database, _, table = name.partition(".")
        delete_table(ctx, database, table)  # its data is under the run's prefix or in its bucket: deleted with them
    elif kind == "glue_database":
        _delete_empty_database(ctx, name)
    elif kind == "log_group":
        _ignoring(ctx.client("logs").delete_log_group, "ResourceNotFoundException", logGroupName=name)
    elif kind == "log_stream":
        group, _, stream = name.partition(":")
        _ignoring(
            ctx.client("logs").delete_log_stream, "ResourceNotFoundException", logGroupName=group, logStreamName=stream
        )
    elif kind == "s3_prefix":
        bucket, _, prefix = name.partition("/")
        delete_prefix(ctx, bucket, prefix)
    elif kind == "s3_bucket":
        delete_prefix(ctx, name, "")
        _ignoring(ctx.client("s3").delete_bucket, "NoSuchBucket", Bucket=name)
    else:
        raise ValueError(f"no way to delete a {kind!r}")


def _delete_empty_database(ctx: AwsContext, name: str) -> None:
    """Glue deletes a database's tables with it: looked at again here, so a table made since it
    was found empty is never lost with it."""
    glue = ctx.client("glue")
    try:
        tables = [
            t["Name"]
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=name)
            for t in page.get("TableList", [])
        ]
    except ClientError as err:
        if error_code(err) == "EntityNotFoundException":
            return
        raise
    if tables:
        raise NotEmpty(f"it holds {len(tables)} tables again ({', '.join(tables[:3])}); kept")
    _ignoring(glue.delete_database, "EntityNotFoundException", Name=name)


def _ignoring(call: Callable[..., object], gone: str, **params: str) -> None:
    """Make the call; the error code that says the resource is gone already is no failure."""
    try:
        call(**params)
    except ClientError as err:
        if error_code(err) != gone:
            raise
