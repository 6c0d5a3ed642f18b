"""Athena queries as awswrangler runs them for Workbench: GetWorkGroup, StartQueryExecution,
GetQueryExecution every second (AWS time) until the query is done, GetQueryResults for the
column types, then the result CSV from S3 (HeadObject, GetObject).

Active DML queries are an account quota (20 or 25 by region). Under the harness policy a query
holds a limiter permit for `athena.StartQueryExecution` from its start until it is done; if AWS
still refuses it (the quota table is wrong, or another tenant's queries fill the account) it
waits a poll interval and starts again, recorded as a quota wait. Without a limiter the refusal
is botocore's retry mode's to handle, and past it the pipeline fails, as Workbench's does.
"""
from __future__ import annotations

import io

import pandas as pd
from botocore.exceptions import ClientError

from harness.artifacts.context import AwsContext
from harness.artifacts.errors import ArtifactFailed, NotReady
from harness.artifacts.waiting import error_code, take_slot

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class QueryFailed(ArtifactFailed):
    """The query ended FAILED or CANCELLED; the message carries Athena's reason."""


def _concurrency_refused(err: Exception) -> bool:
    response = getattr(err, "response", {}) or {}
    return error_code(err) == "TooManyRequestsException" and response.get("Reason") == "CONCURRENT_QUERY_LIMIT_EXCEEDED"


def start_query(ctx: AwsContext, sql: str, database: str | None = None) -> str:
    """Start a query and return its id without waiting for it to finish (Workbench starts one
    so). Under the harness policy a start refused because the account's active queries are full
    (the table said there was room: another tenant's queries) is a quota wait, then another try,
    up to the query deadline; under the botocore policies the refusal was botocore's to retry,
    and is final here."""
    athena, clock = ctx.client("athena"), ctx.clock
    started = clock.now()
    while True:
        athena.get_work_group(WorkGroup=ctx.athena_workgroup)
        try:
            return athena.start_query_execution(
                QueryString=sql, WorkGroup=ctx.athena_workgroup,
                QueryExecutionContext={"Database": database or ctx.glue_database},
                ResultConfiguration={"OutputLocation": ctx.athena_output})["QueryExecutionId"]
        except ClientError as err:
            if ctx.limiter is None or not _concurrency_refused(err):
                raise
            waited = clock.now() - started
            if waited >= ctx.deadlines.athena_query:
                raise NotReady(f"no room for an Athena query after {waited:.0f} s (AWS time): the account's "
                               "active queries stayed full") from err
            ctx.record("quota_wait", service="athena", operation="StartQueryExecution",
                       duration=clock.wall(ctx.deadlines.poll), error_code="TooManyRequestsException")
            ctx.sleep(ctx.deadlines.poll)


def query(ctx: AwsContext, sql: str, database: str | None = None) -> pd.DataFrame:
    """Run `sql` and return its rows; QueryFailed if Athena fails it, NotReady past the deadline."""
    athena, clock = ctx.client("athena"), ctx.clock
    permit = take_slot(ctx, "StartQueryExecution", service="athena")
    started, query_id, execution, outcome = clock.now(), None, None, "error"
    try:
        query_id = start_query(ctx, sql, database)
        execution = _wait(ctx, athena, query_id, started)
        outcome = execution["Status"]["State"]
    except BaseException as err:
        outcome = type(err).__name__
        raise
    finally:
        if permit is not None:
            permit.release()
        held = clock.wall(clock.now() - started)
        if query_id is not None:  # on AWS it held an active-query slot from start to end, under every policy
            ctx.record("quota_hold", service="athena", operation="StartQueryExecution", duration=held)
        statistics = (execution or {}).get("Statistics", {})
        ctx.record("query", service="athena", operation="StartQueryExecution", outcome=outcome, duration=held,
                   query_id=query_id, statement=(execution or {}).get("SubstatementType"),
                   queued_ms=statistics.get("QueryQueueTimeInMillis"),
                   engine_ms=statistics.get("EngineExecutionTimeInMillis"))
    status = execution["Status"]
    if status["State"] != "SUCCEEDED":
        raise QueryFailed(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', '')} "
                          f"({sql[:120]})")
    if execution.get("StatementType") != "DML":
        return pd.DataFrame()
    return _results(ctx, athena, query_id, execution["ResultConfiguration"]["OutputLocation"])


def _wait(ctx: AwsContext, athena, query_id: str, started: float) -> dict:
    clock = ctx.clock
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL:
            return execution
        waited = clock.now() - started
        if waited >= ctx.deadlines.athena_query:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise NotReady(f"Athena query {query_id} not done after {waited:.0f} s (AWS time)")
        ctx.sleep(ctx.deadlines.athena_poll)


def _results(ctx: AwsContext, athena, query_id: str, location: str) -> pd.DataFrame:
    """The column types from GetQueryResults (one row), the rows from the CSV in S3."""
    metadata = athena.get_query_results(QueryExecutionId=query_id, MaxResults=1)["ResultSet"]["ResultSetMetadata"]
    types = {c["Name"]: c["Type"] for c in metadata.get("ColumnInfo", [])}
    bucket, _, key = location.removeprefix("s3://").partition("/")
    s3 = ctx.client("s3")
    s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[""]) if body.strip() else pd.DataFrame(columns=list(types))
    for name, kind in types.items():
        if name in frame and kind in ("bigint", "integer", "double", "real", "float", "decimal"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame
