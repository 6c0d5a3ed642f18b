"""The faithful workbench pipeline's parts on the simulator: Athena queries through the artifacts
layer (a concurrency slot under the harness policy), onboarding's calls, metadata writes that
collide and retry, offline-store rows that arrive late, and the whole pipeline at N=2."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from harness.artifacts import DataSource
from harness.artifacts.athena import QueryFailed, query
from harness.artifacts.onboarding import Onboarding, onboard, queries_for, write_metadata
from harness.events import load_events
from simhelpers import write_profile

FAST_ATHENA = """
jitter = 0.0
[lifecycle.athena_query]
queued_seconds = 0.2
ddl_seconds = 0.5
count_seconds = 0.5
select_seconds = 0.5
aggregate_seconds = 1.0
[lifecycle.feature_group]
create_seconds = 5
offline_store_seconds = 5
table_seconds = 5
rows_min_seconds = 60
rows_max_seconds = 120
[lifecycle.training_job]
run_seconds = 30
[lifecycle.endpoint]
create_seconds = 30
delete_seconds = 5
"""


def frame(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(rows)],
            "x": [float(i) for i in range(rows)],
            "colour": [("red", "blue", "amber")[i % 3] for i in range(rows)],
        }
    )


def attempts(ctx, operation: str) -> int:
    """Calls made of an operation: first attempts only, so a retried throttle on a busy machine
    does not change the count."""
    ctx.recorder.flush()
    events = load_events(ctx.events_path / "events.db", ["api_attempt"])
    return int(((events.operation == operation) & (events.attempt == 1)).sum())


@pytest.fixture
def ctx(aws_ctx, tmp_path):
    return aws_ctx.reset(profile=write_profile(tmp_path, FAST_ATHENA), time_scale=0.01)


def test_a_query_returns_typed_rows_and_a_failed_one_says_why(ctx):
    DataSource(ctx, "sales").create(frame())
    counted = query(ctx, 'SELECT COUNT(*) AS count, avg("x") AS mean FROM "harness"."sales"')
    assert counted["count"].iloc[0] == 12 and counted["mean"].iloc[0] == pytest.approx(5.5)
    with pytest.raises(QueryFailed, match="COLUMN_NOT_FOUND"):
        query(ctx, 'SELECT "nope" FROM "harness"."sales"')
    # awswrangler's calls per query: GetWorkGroup, StartQueryExecution, polls, one result page, S3
    assert attempts(ctx, "GetWorkGroup") == attempts(ctx, "StartQueryExecution") == 2
    assert attempts(ctx, "GetQueryResults") == 1 and attempts(ctx, "GetQueryExecution") >= 2


def test_under_the_harness_policy_a_query_holds_an_active_query_slot(ctx):
    DataSource(ctx, "sales").create(frame())
    held = []
    real = ctx.limiter.slot

    def watching(service, operation, timeout=None):
        slot = real(service, operation, timeout)
        held.append((service, operation, slot is not None))
        return slot

    ctx.limiter.slot = watching
    query(ctx, 'SELECT COUNT(*) AS count FROM "harness"."sales"')
    assert held == [("athena", "StartQueryExecution", True)]
    assert ctx.limiter.store.waiters("slot:athena.StartQueryExecution") == 0


def test_onboarding_makes_the_calls_its_plan_says(ctx):
    DataSource(ctx, "sales").create(frame())
    plan = Onboarding(queries=6, listings=3, reads=4, writes=2, unawaited=1)
    learned = onboard(ctx, "harness", "sales", plan)
    assert learned["rows"] == 12
    value_counts = 2  # one per string column: id and colour
    assert attempts(ctx, "StartQueryExecution") == plan.queries + value_counts + plan.unawaited
    assert attempts(ctx, "GetTables") == plan.listings
    views = 2  # the display and computation views are created in the first six queries
    assert attempts(ctx, "UpdateTable") == plan.writes + views
    tables = ctx.client("glue").get_tables(DatabaseName="harness")["TableList"]
    tagged = {t["Name"]: t.get("Parameters", {}).get("harness:run-id") for t in tables}
    assert tagged == {"sales": "test-run", "sales_display": "test-run", "sales_computation": "test-run"}
    DataSource(ctx, "sales").delete()  # with the views onboarding made of it
    assert ctx.client("glue").get_tables(DatabaseName="harness")["TableList"] == []


def test_the_describing_queries_cover_each_string_column():
    sql = queries_for("db", "t", [("id", "string"), ("x", "double"), ("c", "string"), ("when", "timestamp")], 18)
    assert len(sql) == 18 + 2
    assert sql[-2:] == [
        'SELECT "id", count(*) AS count FROM "db"."t" GROUP BY "id" ORDER BY count DESC LIMIT 20',
        'SELECT "c", count(*) AS count FROM "db"."t" GROUP BY "c" ORDER BY count DESC LIMIT 20',
    ]


def test_concurrent_metadata_writers_collide_retry_and_lose_nothing(ctx, monkeypatch):
    DataSource(ctx, "shared").create(frame())
    writers = 6
    barrier = threading.Barrier(writers)
    glue = ctx.client("glue")
    first_read = threading.local()
    real_get = glue.get_table

    def get_table(**kwargs):
        answer = real_get(**kwargs)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait(timeout=30)  # everyone has read the same version before anyone writes
        return answer

    monkeypatch.setattr(glue, "get_table", get_table)
    collisions = []

    def write(i: int) -> None:
        collisions.append(write_metadata(ctx, "harness", "shared", {f"writer_{i}": str(i)}))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    parameters = real_get(DatabaseName="harness", Name="shared")["Table"]["Parameters"]
    assert {f"writer_{i}" for i in range(writers)} <= set(parameters)  # no update lost
    assert sum(collisions) >= writers - 1  # all but the first write collided at least once
    ctx.recorder.flush()
    events = load_events(ctx.events_path / "events.db", ["contention"])
    assert len(events) == sum(collisions) and set(events.operation) == {"UpdateTable"}


def test_offline_rows_arrive_late_and_the_wait_records_partial_state(aws_ctx, simulator, tmp_path):
    """On virtual time: the harness's clock moves the simulator's, so AWS time passes only when
    the harness waits, however slow the machine (rows arrive 60-120 AWS s after their put)."""
    from harness.artifacts import FeatureSet
    from harness.runner.plan import SimulatorTime

    ctx = aws_ctx.reset(
        profile=write_profile(tmp_path, FAST_ATHENA), time_scale=0.01, clock=SimulatorTime(simulator), manual_time=True
    )
    df = frame(8).assign(event_time="2026-11-26T00:00:00Z")
    features = FeatureSet(ctx, "late-rows")
    features.create(df, "id", "event_time")
    features.ingest(df, threads=4)
    features.wait_for_offline_store()
    assert features.offline_rows() == 0  # the table is there; no row has reached it yet
    waited = features.wait_for_offline_rows(8, poll=10)
    # the last row arrives 60-120 s after its put; the wait began a few seconds after the puts
    # and looks every 10 s
    assert 40 <= waited <= 130
    ctx.recorder.flush()
    kinds = list(load_events(ctx.events_path / "events.db", ["partial_state_detected", "partial_state_resolved"]).kind)
    assert kinds[-2:] == ["partial_state_detected", "partial_state_resolved"]
    features.delete()


def test_the_workbench_pipeline_runs_end_to_end_at_n2_and_leaves_nothing(simulator, tmp_path):
    from harness.runner.run import Runner
    from harness.runner.scenario import load_scenario
    from runhelpers import nothing_in

    scenario = load_scenario("smoke")
    scenario.pipelines = {"workbench": 1.0}
    scenario.profile = write_profile(tmp_path, FAST_ATHENA)
    scenario.params = {
        "rows": 20,
        "onboarding_queries": 4,
        "glue_listings": 2,
        "glue_reads": 2,
        "glue_writes": 2,
        "putrecord_threads": 4,
        "tag_reads": 2,
        "tag_writes": 1,
        "inference_batches": 2,
        "batch_rows": 5,
    }
    simulator.reset(profile=scenario.profile, seed=1, time_scale=0.01)
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url).run()
    events = load_events(result.run_dir)
    ends = events[events.kind == "pipeline_end"]
    assert list(ends.outcome) == ["ok", "ok"], events[events.kind == "worker_error"].detail.tolist()
    calls = events[events.kind == "api_attempt"]
    assert (calls.operation == "StartQueryExecution").sum() >= 2 * (2 * (4 + 2 + 1) + 2)
    assert ((calls.operation == "PutRecord") & (calls.attempt == 1)).sum() == 2 * 20
    assert nothing_in(simulator.endpoint_url)
    # the report counts the queries, and weighs the active-query quota by their slot-seconds
    from harness.report import render
    import json

    metrics = json.loads(render(result.run_dir)["metrics"].read_text())
    level = metrics["levels"][0]
    assert level["queries"]["count"] == (events.kind == "query").sum() > 0 and level["queries"]["failed"] == 0
    athena_row = next(
        q for q in metrics["bottleneck"]["quotas"] if q["quota"] == "athena.StartQueryExecution concurrency"
    )
    assert athena_row["demand_per_pipeline"] == pytest.approx(
        events[(events.kind == "quota_hold") & (events.service == "athena")].duration.sum() / 0.01 / 2, rel=0.01
    )
    assert "Athena queries/pipeline" in (result.run_dir / "summary.md").read_text()


def test_a_start_refused_for_the_active_query_limit_is_not_retried_as_a_throttle(ctx, tmp_path):
    """A full active-query quota is not a rate to slow down for: the harness policy's hooks do
    not retry it (nor cut the rate); without a slot to wait for, the start fails with AWS's
    error. (The query() path waits for a slot instead.)"""
    ctx = ctx.reset(
        profile=write_profile(
            tmp_path,
            """
[[quota]]
service = "athena"
operation = "StartQueryExecution"
concurrency = 1
[lifecycle.athena_query]
count_seconds = 3600
""",
            name="one-query",
        ),
        time_scale=1.0,
    )  # the first query runs an hour, in wall time too
    DataSource(ctx, "sales").create(frame())
    from harness.artifacts.athena import start_query

    start_query(ctx, 'SELECT COUNT(*) FROM "harness"."sales"')
    ctx.limiter = None
    with pytest.raises(ClientError) as refused:
        start_query(ctx, 'SELECT COUNT(*) FROM "harness"."sales"')
    assert refused.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    ctx.recorder.flush()
    events = load_events(ctx.events_path / "events.db", ["api_attempt"])
    starts = events[events.operation == "StartQueryExecution"]
    assert len(starts) == 2  # one attempt each: the refusal was not retried
    refusal = starts.iloc[-1]
    assert (refusal.outcome, refusal.error_code) == ("error", "TooManyRequestsException")


def test_under_the_harness_policy_a_query_waits_out_another_tenants_queries(aws_ctx, simulator, tmp_path):
    """The account allows one active query and another tenant holds it; the harness's table says
    20, so its slot comes at once and AWS refuses the start. The query waits a poll interval
    (a quota wait) and starts again until the tenant's query is done. On virtual time, so the
    waits are exact."""
    import boto3

    from harness.aws import Limiter
    from harness.quotas import Quota, QuotaTable
    from harness.runner.plan import SimulatorTime

    profile = write_profile(
        tmp_path,
        FAST_ATHENA.replace("count_seconds = 0.5", "count_seconds = 40")
        + """
[[quota]]
service = "athena"
operation = "StartQueryExecution"
concurrency = 1
""",
        name="one-active-query",
    )
    ctx = aws_ctx.reset(profile=profile, time_scale=0.01, clock=SimulatorTime(simulator), manual_time=True)
    ctx.limiter = Limiter(QuotaTable([Quota("athena", "StartQueryExecution", concurrency=20)]), clock=ctx.clock)
    DataSource(ctx, "sales").create(frame())
    tenant = boto3.client("athena", endpoint_url=simulator.endpoint_url, region_name="us-east-1")
    tenant.start_query_execution(
        QueryString='SELECT COUNT(*) FROM "harness"."sales"',
        QueryExecutionContext={"Database": "harness"},
        ResultConfiguration={"OutputLocation": "s3://harness-test/tenant/"},
    )
    counted = query(ctx, 'SELECT COUNT(*) AS count FROM "harness"."sales"')
    assert counted["count"].iloc[0] == 12
    ctx.recorder.flush()
    waits = load_events(ctx.events_path / "events.db", ["quota_wait"])
    assert list(waits.error_code) == ["TooManyRequestsException"] * 3  # at 0, 15 and 30 s; free at 40
    assert attempts(ctx, "StartQueryExecution") == 4


def test_the_runs_cleanup_finds_its_views_of_offline_stores(ctx):
    """Views of an offline store live in the feature store's database, not the run's: a run
    killed before its teardown leaves them there, and its cleanup must find them by tag."""
    from harness.artifacts.featureset import OFFLINE_DATABASE
    from harness.runner.cleanup import cleanup_run, find_run_resources

    glue = ctx.client("glue")
    glue.create_database(DatabaseInput={"Name": OFFLINE_DATABASE})
    for name, run in (("hxrun_fg_display", "test-run"), ("hxrun_other", "another-run"), ("hxrun_untagged", None)):
        glue.create_table(
            DatabaseName=OFFLINE_DATABASE,
            TableInput={
                "Name": name,
                "TableType": "VIRTUAL_VIEW",
                "Parameters": {"harness:run-id": run} if run else {},
                "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}]},
            },
        )
    assert [(r.kind, r.name) for r in find_run_resources(ctx, "hxrun", "test-run")] == [
        ("offline_store_view", f"{OFFLINE_DATABASE}.hxrun_fg_display")
    ]
    cleanup_run(ctx, "hxrun", "test-run")
    left = [t["Name"] for t in glue.get_tables(DatabaseName=OFFLINE_DATABASE)["TableList"]]
    assert left == ["hxrun_other", "hxrun_untagged"]  # another run's, and an untagged look-alike
