"""Athena query executions in AWS time, which moto answers at once with canned rows.

A query is QUEUED, then RUNNING, then SUCCEEDED, FAILED or CANCELLED, for durations the profile
gives per kind of statement (`[lifecycle.athena_query]`). Its answer is computed when it starts,
over the account's Glue tables and S3 data (`harness/sim/sql.py`), shown when it finishes, and
written to its output location then. The account's active DML queries (queued or running) are
limited by the quota table's `athena.StartQueryExecution` concurrency: one more is refused with
AWS's TooManyRequestsException, reason CONCURRENT_QUERY_LIMIT_EXCEEDED. DDL and utility
statements are not counted (AWS limits them apart, at a quota a pipeline's few DDL statements
do not reach). Workgroups are moto's.
"""

from __future__ import annotations

import csv
import io
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from harness.quotas import QuotaTable
from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.catalog import MotoCatalog
from harness.sim.paging import page, page_window
from harness.profiles import Profile
from harness.sim.replies import Reply
from harness.sim.sql import (
    Evaluator,
    QueryFailed,
    Result,
    Statement,
    classify,
    parse_create_view,
    parse_drop,
    split_name,
)

if TYPE_CHECKING:
    from moto.athena.models import AthenaBackend

ACTIVE = ("QUEUED", "RUNNING")
CONCURRENCY_MESSAGE = (
    "You have exceeded the limit for the number of queries you can run concurrently. "
    "Reduce the number of concurrent queries submitted by this account. "
    "Contact customer support to request a concurrent query limit increase."
)
NO_OUTPUT_MESSAGE = (
    "No output location provided. An output location is required either through the "
    "Workgroup result configuration setting or as an API input."
)
MAX_RESULTS = 1000
HISTORY = 5000  # query executions kept per account and region (AWS keeps 45 days; a run reads recent ones)
OPERATIONS = (
    "StartQueryExecution",
    "GetQueryExecution",
    "BatchGetQueryExecution",
    "ListQueryExecutions",
    "StopQueryExecution",
    "GetQueryResults",
    "GetWorkGroup",
    "CreateWorkGroup",
    "ListWorkGroups",
    "DeleteWorkGroup",
)


@dataclass
class Execution:
    id: str
    account: str
    region: str
    statement: Statement
    query: str
    workgroup: str
    database: str
    output: str  # s3://bucket/prefix/<id>.csv
    submitted: float  # AWS seconds
    started: float  # RUNNING from here
    ends: float  # finished from here
    result: Result | None = None
    failure: QueryFailed | None = None
    cancelled_at: float | None = None
    written: bool = False
    token: str | None = None
    number: int = 0  # its place in the account's submission order, from 1: what a list's NextToken names

    def state(self, now: float) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "CANCELLED"
        if now < self.started:
            return "QUEUED"
        if now < self.ends:
            return "RUNNING"
        return "FAILED" if self.failure is not None else "SUCCEEDED"

    def finished_at(self) -> float:
        return self.cancelled_at if self.cancelled_at is not None else self.ends


@dataclass
class _Account:
    executions: dict[str, Execution] = field(default_factory=dict)  # in submission order
    active: list[Execution] = field(default_factory=list)  # queued or running DML, pruned when asked
    tokens: dict[str, Execution] = field(default_factory=dict)
    submitted: int = 0  # queries started so far (numbers them)


class Athena:
    def __init__(
        self,
        profile: Profile,
        seed: int,
        now: Callable[[], float],
        epoch: float,
        catalog: Callable[[str, str], MotoCatalog],
        quotas: QuotaTable,
    ) -> None:
        self.profile, self.seed, self.now, self.epoch = profile, seed, now, epoch
        self.catalog, self.quotas = catalog, quotas
        self._accounts: dict[tuple[str, str], _Account] = {}
        self._draws: dict[str, random.Random] = {}
        self._ids = random.Random(f"{seed}:athena:ids")
        self._unwritten: list[Execution] = []  # results not yet in their output location
        self._created_at: dict[tuple[str, str, str], float] = {}
        self._sampled: dict[tuple[str, str, str], int] = {}  # (account, region, text) -> runs so far
        self._lock = threading.Lock()

    def handle(self, call: Call) -> Reply | None:
        """The answer to an Athena call this module owns, or None for moto's."""
        if call.operation not in OPERATIONS:
            return None
        return getattr(self, "_" + call.operation)(call, self._account(call), call.params)

    def _account(self, call: Call) -> _Account:
        return self._accounts.setdefault((call.account, call.region), _Account())

    def active(self, account: str, region: str) -> int:
        """Queued or running DML queries: what the active-query quota counts."""
        book = self._accounts.get((account, region))
        if book is None:
            return 0
        now = self.now()
        book.active = [e for e in book.active if e.state(now) in ACTIVE]
        return len(book.active)

    def settle(self) -> None:
        """Write the results of queries that have finished to their output locations."""
        now, waiting = self.now(), []
        for execution in self._unwritten:
            state = execution.state(now)
            if state == "SUCCEEDED" and not execution.written:
                self._write(execution)
            elif state in ACTIVE:
                waiting.append(execution)
        self._unwritten = waiting

    # --- draws ----------------------------------------------------------------------------
    def _fate(self, kind: str) -> random.Random:
        """The n-th query of a kind draws the same durations for a seed, whatever its text."""
        with self._lock:
            rng = self._draws.setdefault(kind, random.Random(f"{self.seed}:athena:{kind}"))
            return random.Random(rng.random())

    def _sample(self, execution: Execution) -> random.Random:
        """TABLESAMPLE's draws. The k-th run of a query's text on an account draws the same rows
        for a seed, whatever other queries ran meanwhile: concurrent pipelines start their queries
        in another order each run, and a draw by submission order would sample another set of
        rows for the same pipeline's query."""
        runs = 0
        if "tablesample" in execution.query.lower():
            key = (execution.account, execution.region, execution.query)
            with self._lock:
                runs = self._sampled[key] = self._sampled.get(key, 0) + 1
        return random.Random(f"{self.seed}:athena:tablesample:{runs}:{execution.query}")

    def _jittered(self, rng: random.Random, seconds: float) -> float:
        return seconds * rng.uniform(1 - self.profile.jitter, 1 + self.profile.jitter)

    # --- operations -----------------------------------------------------------------------
    def _StartQueryExecution(self, call: Call, book: _Account, params: dict) -> Reply:
        sql = params.get("QueryString") or ""
        if not sql.strip():
            return _invalid(call, "QueryString must not be empty")
        token = params.get("ClientRequestToken")
        if token and token in book.tokens:  # a retried call: the query it already started
            known = book.tokens[token]
            if known.query != sql:
                return _invalid(call, "Idempotent parameters do not match")
            return errors.ok({"QueryExecutionId": known.id})
        workgroup = params.get("WorkGroup") or "primary"
        group = self._workgroup(call, workgroup)
        if group is None:
            return _invalid(call, f"WorkGroup {workgroup} is not found.")
        if group.get("State") == "DISABLED":
            return _invalid(call, f"WorkGroup {workgroup} is disabled.")
        configuration = group.get("Configuration") or {}
        output = (params.get("ResultConfiguration") or {}).get("OutputLocation") or (
            configuration.get("ResultConfiguration") or {}
        ).get("OutputLocation")
        if configuration.get("EnforceWorkGroupConfiguration") and (configuration.get("ResultConfiguration") or {}).get(
            "OutputLocation"
        ):
            output = configuration["ResultConfiguration"]["OutputLocation"]
        if not output:
            return _invalid(call, NO_OUTPUT_MESSAGE)
        statement = classify(sql)
        if statement.statement_type == "DML":
            quota = self.quotas.lookup("athena", "StartQueryExecution")
            busy = self.active(call.account, call.region) + self.profile.athena_query.tenant_active_queries
            if quota is not None and quota.concurrency is not None and busy >= quota.concurrency:
                return errors.error(
                    call, 400, "TooManyRequestsException", CONCURRENCY_MESSAGE, Reason="CONCURRENT_QUERY_LIMIT_EXCEEDED"
                )
        context = params.get("QueryExecutionContext") or {}
        database = (context.get("Database") or "default").lower()
        rng, now, lifecycle = self._fate(statement.kind), self.now(), self.profile.athena_query
        started = now + self._jittered(rng, lifecycle.queued_seconds)
        ends = started + self._jittered(rng, lifecycle.run_seconds(statement.kind))
        query_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        book.submitted += 1
        execution = Execution(
            query_id,
            call.account,
            call.region,
            statement,
            sql,
            workgroup,
            database,
            output.rstrip("/") + f"/{query_id}." + ("csv" if statement.statement_type == "DML" else "txt"),
            now,
            started,
            ends,
            token=token,
            number=book.submitted,
        )
        if rng.random() < lifecycle.fail_fraction:
            execution.failure = QueryFailed("GENERIC_INTERNAL_ERROR", "simulated internal error", category=1)
        else:
            self._run(execution, call)
        book.executions[query_id] = execution
        if token:
            book.tokens[token] = execution
        while len(book.executions) > HISTORY:  # forget the oldest, with its token and its rows
            oldest = book.executions.pop(next(iter(book.executions)))
            if oldest.token:
                book.tokens.pop(oldest.token, None)
        if statement.statement_type == "DML":
            book.active.append(execution)
        if execution.failure is None:
            self._unwritten.append(execution)
        return errors.ok({"QueryExecutionId": query_id})

    def _run(self, execution: Execution, call: Call) -> None:
        """Compute the answer now (it is shown when the query finishes): DDL changes the catalog."""
        catalog = self.catalog(call.account, call.region)
        if not catalog.bucket_exists(execution.output):
            bucket = execution.output.removeprefix("s3://").partition("/")[0]
            execution.failure = QueryFailed("PERMISSION_DENIED", f"Unable to verify/create output bucket {bucket}")
            return
        evaluator = Evaluator(catalog.table, sample=self._sample(execution))
        try:
            if execution.statement.statement_type != "DML":
                execution.result = self._ddl(execution, catalog, evaluator)
            else:
                if not catalog.database_exists(execution.database):
                    raise QueryFailed("SCHEMA_NOT_FOUND", f"line 1:1: Schema '{execution.database}' does not exist")
                execution.result = evaluator.run(execution.statement.sql, execution.database)
        except QueryFailed as failed:
            execution.failure = failed
        except Exception as err:  # noqa: BLE001 - a simulator gap: say so in the query, not as HTTP 500
            execution.failure = QueryFailed("NOT_SUPPORTED", f"the simulator could not run this query: {err}")

    def _ddl(self, execution: Execution, catalog: MotoCatalog, evaluator: Evaluator) -> Result:
        sql, database = execution.statement.sql, execution.database
        view = parse_create_view(sql)
        if view is not None:
            replace, name, select = view
            view_db, view_name = split_name(name, database)
            if not catalog.database_exists(view_db):
                raise QueryFailed("SCHEMA_NOT_FOUND", f"line 1:1: Schema '{view_db}' does not exist")
            columns = evaluator.columns_of(select, view_db)
            if not catalog.create_view(view_db, view_name, select, columns, replace):
                raise QueryFailed(
                    "ALREADY_EXISTS", f"line 1:1: View 'awsdatacatalog.{view_db}.{view_name}' already exists"
                )
            return Result([])
        drop = parse_drop(sql)
        if drop is not None:
            what, if_exists, name = drop
            drop_db, drop_name = split_name(name, database)
            if not catalog.drop(drop_db, drop_name) and not if_exists:
                raise QueryFailed(
                    "TABLE_NOT_FOUND" if what == "table" else "VIEW_NOT_FOUND",
                    f"line 1:1: {what.title()} 'awsdatacatalog.{drop_db}.{drop_name}' does not exist",
                )
            return Result([])
        raise QueryFailed(
            "NOT_SUPPORTED",
            f"the simulator runs CREATE [OR REPLACE] VIEW and DROP TABLE|VIEW; not this statement: {sql[:80]}",
        )

    def _GetQueryExecution(self, call: Call, book: _Account, params: dict) -> Reply:
        execution = book.executions.get(params.get("QueryExecutionId") or "")
        if execution is None:
            return _not_found(call, params.get("QueryExecutionId"))
        return errors.ok({"QueryExecution": self._describe(execution)})

    def _BatchGetQueryExecution(self, call: Call, book: _Account, params: dict) -> Reply:
        ids = params.get("QueryExecutionIds") or []
        if not 1 <= len(ids) <= 50:
            return _invalid(call, "QueryExecutionIds must hold 1 to 50 ids")
        found = [book.executions[i] for i in ids if i in book.executions]
        missing = [
            {"QueryExecutionId": i, "ErrorCode": "INVALID_INPUT", "ErrorMessage": f"QueryExecution {i} was not found"}
            for i in ids
            if i not in book.executions
        ]
        return errors.ok(
            {"QueryExecutions": [self._describe(e) for e in found], "UnprocessedQueryExecutionIds": missing}
        )

    def _ListQueryExecutions(self, call: Call, book: _Account, params: dict) -> Reply:
        """Newest first. The NextToken names the next query to list by its place in submission
        order (not an offset from the newest), so queries started between two pages move nothing:
        no id repeats on the next page and none is skipped."""
        workgroup = params.get("WorkGroup") or "primary"
        if self._workgroup(call, workgroup) is None:
            return _invalid(call, f"WorkGroup {workgroup} is not found.")
        if params.get("MaxResults") == 0:  # the model allows 0; a page of none would never end
            params = {**params, "MaxResults": 50}
        try:
            _, size = page_window(params, 50, 0, 50)  # (a bad token or page size is the caller's error)
        except ValueError as err:
            return _invalid(call, str(err))
        first = int(params["NextToken"]) if params.get("NextToken") else book.submitted
        listed = [e for e in reversed(book.executions.values()) if e.workgroup == workgroup and e.number <= first]
        answer: dict = {"QueryExecutionIds": [e.id for e in listed[:size]]}
        if len(listed) > size:
            answer["NextToken"] = str(listed[size].number)
        return errors.ok(answer)

    def _StopQueryExecution(self, call: Call, book: _Account, params: dict) -> Reply:
        execution = book.executions.get(params.get("QueryExecutionId") or "")
        if execution is None:
            return _not_found(call, params.get("QueryExecutionId"))
        now = self.now()
        if execution.state(now) in ACTIVE:
            execution.cancelled_at = now
        return errors.ok({})

    def _GetQueryResults(self, call: Call, book: _Account, params: dict) -> Reply:
        execution = book.executions.get(params.get("QueryExecutionId") or "")
        if execution is None:
            return _not_found(call, params.get("QueryExecutionId"))
        state = execution.state(self.now())
        if state in ACTIVE:
            return _invalid(call, f"Query has not yet finished. Current state: {state}")
        if state != "SUCCEEDED":
            return _invalid(call, f"Query did not finish successfully. Final query state: {state}")
        result = execution.result or Result([])
        rows = [[{"VarCharValue": v} if v is not None else {} for v in row] for row in result.rows]
        if execution.statement.statement_type == "DML":  # a SELECT's first row is its header
            rows.insert(0, [{"VarCharValue": name} for name, _ in result.columns])
        try:
            start, size = page_window(params, MAX_RESULTS, 1, MAX_RESULTS)
        except ValueError as err:
            return _invalid(call, str(err))
        columns = [
            {
                "CatalogName": "hive",
                "SchemaName": "",
                "TableName": "",
                "Name": name,
                "Label": name,
                "Type": kind,
                "Precision": 19 if kind == "bigint" else 17 if kind == "double" else 2147483647,
                "Scale": 0,
                "Nullable": "UNKNOWN",
                "CaseSensitive": kind == "varchar",
            }
            for name, kind in result.columns
        ]
        answer: dict = {
            "ResultSet": {
                "Rows": [{"Data": r} for r in rows[start : start + size]],
                "ResultSetMetadata": {"ColumnInfo": columns},
            }
        }
        if execution.statement.statement_type == "DML":
            answer["UpdateCount"] = 0
        if start + size < len(rows):
            answer["NextToken"] = str(start + size)
        if not execution.written:
            self._write(execution)
        return errors.ok(answer)

    def _GetWorkGroup(self, call: Call, book: _Account, params: dict) -> Reply:
        name = params.get("WorkGroup") or ""
        group = self._workgroup(call, name)
        if group is None:
            return _invalid(call, f"WorkGroup {name} is not found.")
        return errors.ok({"WorkGroup": {**group, "CreationTime": self._created(call, name)}})

    def _CreateWorkGroup(self, call: Call, book: _Account, params: dict) -> Reply:
        name = params.get("Name") or ""
        made = self._workgroups(call).create_work_group(
            name, dict(params.get("Configuration") or {}), params.get("Description") or "", params.get("Tags") or []
        )
        if made is None:
            return _invalid(call, f"WorkGroup {name} is already created")
        self._created(call, name)
        return errors.ok({})

    def _ListWorkGroups(self, call: Call, book: _Account, params: dict) -> Reply:
        groups = [
            {**g, "CreationTime": self._created(call, g["Name"])} for g in self._workgroups(call).list_work_groups()
        ]
        return _page(call, sorted(groups, key=lambda g: g["Name"]), params, "WorkGroups", maximum=50)

    def _DeleteWorkGroup(self, call: Call, book: _Account, params: dict) -> Reply:
        name = params.get("WorkGroup") or ""
        if name == "primary":
            return _invalid(call, "The primary workgroup cannot be deleted.")
        if self._workgroup(call, name) is None:
            return _invalid(call, f"WorkGroup {name} is not found.")
        self._workgroups(call).delete_work_group(name)
        return errors.ok({})

    # --- helpers --------------------------------------------------------------------------
    @staticmethod
    def _workgroups(call: Call) -> AthenaBackend:
        from moto.athena.models import athena_backends

        return athena_backends[call.account][call.region]

    def _workgroup(self, call: Call, name: str) -> dict | None:
        return self._workgroups(call).get_work_group(name)

    def _created(self, call: Call, name: str) -> float:
        """When the workgroup was made (moto answers the time of asking): the first time this asks."""
        return self._created_at.setdefault((call.account, call.region, name), self.epoch + self.now())

    def _describe(self, execution: Execution) -> dict:
        now = self.now()
        state = execution.state(now)
        status: dict = {"State": state, "SubmissionDateTime": self.epoch + execution.submitted}
        finished = state not in ACTIVE
        if finished:
            status["CompletionDateTime"] = self.epoch + execution.finished_at()
        if state == "FAILED" and execution.failure is not None:
            status["StateChangeReason"] = str(execution.failure)
            status["AthenaError"] = {
                "ErrorCategory": execution.failure.category,
                "ErrorType": 1000 if execution.failure.category == 2 else 401,
                "Retryable": execution.failure.category == 1,
                "ErrorMessage": str(execution.failure),
            }
        if state == "CANCELLED":
            status["StateChangeReason"] = "Query cancelled by user"
        # queued until it ran, or until it was cancelled if that came first
        queued_until = min(now, execution.started, execution.finished_at())
        queued_ms = int(1000 * (queued_until - execution.submitted))
        engine_ms = int(1000 * max(0.0, min(now, execution.finished_at()) - execution.started))
        statistics = {
            "EngineExecutionTimeInMillis": engine_ms,
            "QueryQueueTimeInMillis": queued_ms,
            "TotalExecutionTimeInMillis": queued_ms + engine_ms,
            "DataScannedInBytes": (execution.result.scanned_bytes if execution.result and finished else 0),
        }
        if finished:
            statistics["ServiceProcessingTimeInMillis"] = 0
        return {
            "QueryExecutionId": execution.id,
            "Query": execution.query,
            "StatementType": execution.statement.statement_type,
            "ResultConfiguration": {"OutputLocation": execution.output},
            "QueryExecutionContext": {"Database": execution.database, "Catalog": "awsdatacatalog"},
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": execution.workgroup,
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
            "SubstatementType": execution.statement.substatement_type,
        }

    def _write(self, execution: Execution) -> None:
        execution.written = True
        result = execution.result or Result([])
        body = io.StringIO()
        if execution.statement.statement_type == "DML":
            writer = csv.writer(body, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow([name for name, _ in result.columns])
            writer.writerows([["" if v is None else v for v in row] for row in result.rows])
        self.catalog(execution.account, execution.region).write(execution.output, body.getvalue().encode())


def _invalid(call: Call, message: str) -> Reply:
    return errors.error(call, 400, "InvalidRequestException", message, AthenaErrorCode="INVALID_INPUT")


def _not_found(call: Call, query_id) -> Reply:
    return _invalid(call, f"QueryExecution {query_id} was not found")


def _page(call: Call, items: list, params: dict, key: str, maximum: int) -> Reply:
    try:
        start, size = page_window(params, maximum, 0, maximum)
    except ValueError as err:
        return _invalid(call, str(err))
    return errors.ok(page(items, start, size, key))
