"""Athena queries as awswrangler runs them for Workbench: GetWorkGroup, StartQueryExecution,
GetQueryExecution every second (AWS time) until the query is done, GetQueryResults for the
column types, then the result CSV from S3 (HeadObject, GetObject).

Active DML queries are an account quota (20 or 25 by region). Under the harness policy a query
holds a limiter slot for `athena.StartQueryExecution` from its start until it is done; if AWS
still refuses it (the quota table is wrong, or another tenant's queries fill the account) it
waits a poll interval and starts again, recorded as a quota wait. Without a limiter the refusal
is botocore's retry mode's to handle, and past it the pipeline fails, as Workbench's does.
"""

from __future__ import annotations

import io

import pandas as pd
from botocore.exceptions import ClientError

from harness import stopping
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
                QueryString=sql,
                WorkGroup=ctx.athena_workgroup,
                QueryExecutionContext={"Database": database or ctx.glue_database},
                ResultConfiguration={"OutputLocation": ctx.athena_output},
            )["QueryExecutionId"]
        except ClientError as err:
            if ctx.limiter is None or not _concurrency_refused(err):
                raise
            waited = clock.now() - started
            if waited >= ctx.deadlines.athena_query:
                raise NotReady(
                    f"no room for an Athena query after {waited:.0f} s (AWS time): the account's "
                    "active queries stayed full"
                ) from err
            ctx.record(
                "quota_wait",
                service="athena",
                operation="StartQueryExecution",
                duration=clock.wall(ctx.deadlines.poll),
                error_code="TooManyRequestsException",
            )
            ctx.sleep(ctx.deadlines.poll)


def query(ctx: AwsContext, sql: str, database: str | None = None) -> pd.DataFrame:
    """Run `sql` and return its rows; QueryFailed if Athena fails it, NotReady past the deadline.

    The query's `quota_hold` (and its `query` event) run from the start AWS accepted to its end:
    starts AWS refused held no active-query slot (they are quota waits), and a hold that
    covered them would count the refused query among those in progress when it was refused.
    A query whose wait fails for any reason (the deadline, an error, the run stopping) is
    stopped before its slot goes back, so the account's slot is freed as the harness stops
    counting it."""
    athena, clock = ctx.client("athena"), ctx.clock
    slot = take_slot(ctx, "StartQueryExecution", service="athena")
    tried, started, query_id, execution, outcome = clock.now(), None, None, None, "error"
    try:
        query_id = start_query(ctx, sql, database)
        started = clock.now()
        execution = _wait(ctx, athena, query_id, tried)
        outcome = execution["Status"]["State"]
    except BaseException as err:
        outcome = type(err).__name__
        if query_id is not None and execution is None:
            _stop(athena, query_id)
        raise
    finally:
        if slot is not None:
            slot.release()
        held = clock.wall(clock.now() - (tried if started is None else started))
        if started is not None:  # on AWS it held an active-query slot from start to end, under every policy
            ctx.record("quota_hold", service="athena", operation="StartQueryExecution", duration=held)
        statistics = (execution or {}).get("Statistics", {})
        ctx.record(
            "query",
            service="athena",
            operation="StartQueryExecution",
            outcome=outcome,
            duration=held,
            query_id=query_id,
            statement=(execution or {}).get("SubstatementType"),
            statement_type=(execution or {}).get("StatementType"),  # DDL, DML or UTILITY: Athena bills DML
            queued_ms=statistics.get("QueryQueueTimeInMillis"),
            engine_ms=statistics.get("EngineExecutionTimeInMillis"),
            scanned_bytes=statistics.get("DataScannedInBytes"),  # what Athena bills (the cost guard)
        )
    status = execution["Status"]
    if status["State"] != "SUCCEEDED":
        raise QueryFailed(
            f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', '')} ({sql[:120]})"
        )
    if execution.get("StatementType") != "DML":
        return pd.DataFrame()
    return _results(ctx, athena, query_id, execution["ResultConfiguration"]["OutputLocation"])


def _wait(ctx: AwsContext, athena, query_id: str, tried: float) -> dict:
    """The query's execution once it is done; NotReady once the query deadline (from the first
    try to start it) has passed."""
    clock = ctx.clock
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in FINAL:
            return execution
        waited = clock.now() - tried
        if waited >= ctx.deadlines.athena_query:
            raise NotReady(f"Athena query {query_id} not done after {waited:.0f} s (AWS time)")
        ctx.sleep(ctx.deadlines.athena_poll)


def _stop(athena, query_id: str) -> None:
    """Stop a query the harness no longer waits for. It is the query's teardown, so it goes out
    even when the run is stopping (one call); if it fails, the failure that ended the wait is
    the one raised, and the query runs until it ends on its own."""
    with stopping.stop_on(None):
        try:
            athena.stop_query_execution(QueryExecutionId=query_id)
        except Exception:  # noqa: BLE001 - best effort: the caller raises what ended the wait
            pass


def _results(ctx: AwsContext, athena, query_id: str, location: str) -> pd.DataFrame:
    """The column types from GetQueryResults (one row), the rows from the CSV in S3."""
    metadata = athena.get_query_results(QueryExecutionId=query_id, MaxResults=1)["ResultSet"]["ResultSetMetadata"]
    types = {c["Name"]: c["Type"] for c in metadata.get("ColumnInfo", [])}
    bucket, _, key = location.removeprefix("s3://").partition("/")
    s3 = ctx.client("s3")
    s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    frame = (
        pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[""])
        if body.strip()
        else pd.DataFrame(columns=list(types))
    )
    for name, kind in types.items():
        if name in frame and kind in ("bigint", "integer", "double", "real", "float", "decimal"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame
