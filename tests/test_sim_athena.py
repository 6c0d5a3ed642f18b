"""Athena on the simulator, driven with boto3 as a pipeline would: a query lives in AWS time
(QUEUED, RUNNING, then SUCCEEDED, FAILED or CANCELLED), its answer is computed from the Glue
table and the S3 data, and the account's active DML queries are limited as AWS limits them.

The simulator runs on manual time here: AWS time moves only when the test advances it, so every
state is checked at an exact AWS second, however busy the machine is."""

from __future__ import annotations

import csv
import io

import pytest
from botocore.exceptions import ClientError

from simhelpers import write_profile

PROFILE = """
jitter = 0.0
[[quota]]
service = "athena"
operation = "StartQueryExecution"
concurrency = 3
[lifecycle.athena_query]
queued_seconds = 1
count_seconds = 2
select_seconds = 3
aggregate_seconds = 5
ddl_seconds = 1
"""
OUTPUT = {"OutputLocation": "s3://athena-results/queries/"}
CSV = {  # comma-separated text, as awswrangler's create_csv_table describes it
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
}
DB = {"Database": "lake"}


@pytest.fixture
def athena(simulator, client, tmp_path):
    """An Athena client on a manual-time account holding lake.sales (4 rows of CSV in S3)."""
    simulator.reset(profile=write_profile(tmp_path, PROFILE), manual_time=True)
    s3, glue = client("s3"), client("glue")
    s3.create_bucket(Bucket="athena-results")
    s3.create_bucket(Bucket="lake-data")
    s3.put_object(Bucket="lake-data", Key="sales/part-0.csv", Body=b"id,price,region\n1,2.5,eu\n2,3.5,us\n3,,eu\n")
    s3.put_object(Bucket="lake-data", Key="sales/part-1.csv", Body=b"id,price,region\n4,10.0,eu\n")
    s3.put_object(Bucket="lake-data", Key="sales/_SUCCESS", Body=b"")  # hidden: Athena skips it
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(
        DatabaseName="lake",
        TableInput={
            "Name": "sales",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"skip.header.line.count": "1"},
            "StorageDescriptor": {
                "Location": "s3://lake-data/sales/",
                "Columns": [
                    {"Name": "id", "Type": "bigint"},
                    {"Name": "price", "Type": "double"},
                    {"Name": "region", "Type": "string"},
                ],
                **CSV,
            },
        },
    )
    return client("athena")


def start(athena, sql: str) -> str:
    return athena.start_query_execution(QueryString=sql, QueryExecutionContext=DB, ResultConfiguration=OUTPUT)[
        "QueryExecutionId"
    ]


def state(athena, query_id: str) -> str:
    return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]


def rows(athena, query_id: str) -> list[list[str | None]]:
    answer = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]
    return [[d.get("VarCharValue") for d in row["Data"]] for row in answer["Rows"]]


def test_a_query_is_queued_then_runs_for_its_kinds_duration(athena, simulator):
    count, stats = start(athena, 'SELECT COUNT(*) FROM "lake"."sales"'), start(athena, "SELECT avg(price) FROM sales")
    assert state(athena, count) == state(athena, stats) == "QUEUED"
    simulator.advance(1.5)
    assert state(athena, count) == state(athena, stats) == "RUNNING"
    with pytest.raises(ClientError, match="Query has not yet finished. Current state: RUNNING"):
        athena.get_query_results(QueryExecutionId=count)
    simulator.advance(1.5)  # 3 s: a count runs 2 s after 1 s queued
    assert (state(athena, count), state(athena, stats)) == ("SUCCEEDED", "RUNNING")
    simulator.advance(3)  # 6 s: an aggregate runs 5 s
    described = athena.get_query_execution(QueryExecutionId=stats)["QueryExecution"]
    assert described["Status"]["State"] == "SUCCEEDED" and described["StatementType"] == "DML"
    assert described["Statistics"]["QueryQueueTimeInMillis"] == 1000
    assert described["Statistics"]["EngineExecutionTimeInMillis"] == 5000


def test_results_are_computed_from_the_glue_table_and_its_s3_data(athena, simulator, client):
    queries = {
        "count": start(athena, 'SELECT COUNT(*) FROM "lake"."sales"'),
        "sample": start(athena, "SELECT id, region FROM lake.sales ORDER BY id LIMIT 2"),
        "stats": start(
            athena, "SELECT region, count(*) AS n, max(price) AS top FROM sales GROUP BY region ORDER BY region"
        ),
    }
    simulator.advance(10)
    assert rows(athena, queries["count"]) == [["_col0"], ["4"]]  # header first, as Athena answers
    assert rows(athena, queries["sample"]) == [["id", "region"], ["1", "eu"], ["2", "us"]]
    assert rows(athena, queries["stats"]) == [["region", "n", "top"], ["eu", "3", "10.0"], ["us", "1", "3.5"]]
    metadata = athena.get_query_results(QueryExecutionId=queries["stats"])["ResultSet"]["ResultSetMetadata"]
    assert [(c["Name"], c["Type"]) for c in metadata["ColumnInfo"]] == [
        ("region", "varchar"),
        ("n", "bigint"),
        ("top", "double"),
    ]
    # the result is in the output location too, where awswrangler reads it
    body = client("s3").get_object(Bucket="athena-results", Key=f"queries/{queries['count']}.csv")["Body"].read()
    assert list(csv.reader(io.StringIO(body.decode()))) == [["_col0"], ["4"]]


def test_results_page_with_next_token(athena, simulator):
    query = start(athena, "SELECT id FROM sales ORDER BY id")
    simulator.advance(10)
    first = athena.get_query_results(QueryExecutionId=query, MaxResults=3)
    second = athena.get_query_results(QueryExecutionId=query, MaxResults=3, NextToken=first["NextToken"])
    values = [r["Data"][0].get("VarCharValue") for page in (first, second) for r in page["ResultSet"]["Rows"]]
    assert values == ["id", "1", "2", "3", "4"] and "NextToken" not in second


def test_a_view_is_a_glue_table_and_queries_read_through_it(athena, simulator, client):
    view = start(athena, "CREATE OR REPLACE VIEW eu_sales AS SELECT id, price FROM sales WHERE region = 'eu'")
    simulator.advance(3)
    assert state(athena, view) == "SUCCEEDED"
    table = client("glue").get_table(DatabaseName="lake", Name="eu_sales")["Table"]
    assert table["TableType"] == "VIRTUAL_VIEW" and table["ViewOriginalText"].startswith("/* Presto View: ")
    count = start(athena, "SELECT count(*) AS n FROM eu_sales")
    simulator.advance(5)
    assert rows(athena, count) == [["n"], ["3"]]
    again = start(athena, "CREATE VIEW eu_sales AS SELECT id FROM sales")
    drop = start(athena, "DROP VIEW eu_sales")
    simulator.advance(3)
    failed = athena.get_query_execution(QueryExecutionId=again)["QueryExecution"]["Status"]
    assert failed["State"] == "FAILED" and failed["StateChangeReason"].startswith("ALREADY_EXISTS")
    assert state(athena, drop) == "SUCCEEDED"
    assert [t["Name"] for t in client("glue").get_tables(DatabaseName="lake")["TableList"]] == ["sales"]


def test_a_query_over_a_missing_table_or_column_fails_as_athenas_would(athena, simulator):
    table, column = start(athena, "SELECT * FROM nowhere"), start(athena, "SELECT colour FROM sales")
    simulator.advance(10)
    reasons = {q: athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Status"] for q in (table, column)}
    assert reasons[table]["State"] == "FAILED"
    assert (
        reasons[table]["StateChangeReason"].startswith("TABLE_NOT_FOUND")
        and "lake.nowhere" in reasons[table]["StateChangeReason"]
    )
    assert reasons[column]["StateChangeReason"].startswith("COLUMN_NOT_FOUND")
    assert reasons[column]["AthenaError"]["ErrorCategory"] == 2  # the user's error, not retryable
    with pytest.raises(ClientError, match="Final query state: FAILED"):
        athena.get_query_results(QueryExecutionId=table)


def test_active_dml_queries_are_limited_with_awss_error(athena, simulator):
    running = [start(athena, "SELECT count(*) FROM sales") for _ in range(3)]
    with pytest.raises(ClientError) as refused:
        start(athena, "SELECT count(*) FROM sales")
    error = refused.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    assert "exceeded the limit for the number of queries you can run concurrently" in error["Error"]["Message"]
    start(athena, "CREATE OR REPLACE VIEW v AS SELECT id FROM sales")  # DDL is not counted
    athena.stop_query_execution(QueryExecutionId=running[0])  # a cancelled query frees its place
    assert state(athena, running[0]) == "CANCELLED"
    start(athena, "SELECT count(*) FROM sales")
    simulator.advance(10)  # all finished: the account has room again
    start(athena, "SELECT count(*) FROM sales")
    limited = simulator.stats()["operations"]["athena.StartQueryExecution"]["limited"]
    assert limited == 1


def test_a_retried_start_with_the_same_token_starts_one_query(athena):
    first = athena.start_query_execution(
        QueryString="SELECT 1 AS one", ClientRequestToken="t" * 32, QueryExecutionContext=DB, ResultConfiguration=OUTPUT
    )
    again = athena.start_query_execution(
        QueryString="SELECT 1 AS one", ClientRequestToken="t" * 32, QueryExecutionContext=DB, ResultConfiguration=OUTPUT
    )
    assert first["QueryExecutionId"] == again["QueryExecutionId"]
    with pytest.raises(ClientError, match="Idempotent parameters do not match"):
        athena.start_query_execution(
            QueryString="SELECT 2", ClientRequestToken="t" * 32, QueryExecutionContext=DB, ResultConfiguration=OUTPUT
        )


def test_bad_requests_get_invalid_request_exception_not_a_500(athena):
    for call in (
        lambda: athena.get_query_execution(QueryExecutionId="no-such-query"),
        lambda: athena.get_query_results(QueryExecutionId="no-such-query"),
        lambda: athena.start_query_execution(QueryString="SELECT 1"),  # no output location
        lambda: athena.start_query_execution(QueryString="SELECT 1", WorkGroup="nope", ResultConfiguration=OUTPUT),
        lambda: athena.get_work_group(WorkGroup="nope"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["Name"] == "primary"


def test_queries_list_newest_first_and_batch_get_names_the_unknown(athena, simulator):
    ids = [start(athena, f"SELECT {i} AS n") for i in range(3)]
    listed = athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"]
    assert listed == ids[::-1]
    batch = athena.batch_get_query_execution(QueryExecutionIds=[ids[0], "nope"])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [ids[0]]
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "nope"


def test_only_names_outside_string_literals_are_tables_and_t_dot_column_resolves():
    """The simulator's SQL reads FROM and -- only outside literals; a name after FROM that is
    no table (a WITH query) is SQLite's to resolve; t.x names the table t."""
    from harness.sim.sql import Evaluator, QueryFailed, Table

    tables = {
        ("db", "t"): Table(
            "db", "t", [("id", "bigint"), ("note", "string")], rows=lambda: [["1", "moved from stock"], ["2", "a--b"]]
        )
    }
    evaluator = Evaluator(lambda database, name: tables.get((database, name)))
    assert evaluator.run("SELECT count(*) FROM t WHERE note = 'moved from stock'", "db").rows == [["1"]]
    assert evaluator.run("SELECT note FROM t WHERE note = 'a--b'", "db").rows == [["a--b"]]
    assert evaluator.run("WITH r AS (SELECT id FROM t) SELECT count(*) FROM r", "db").rows == [["2"]]
    assert evaluator.run('SELECT t.id FROM "db"."t" ORDER BY 1', "db").rows == [["1"], ["2"]]
    with pytest.raises(QueryFailed, match="TABLE_NOT_FOUND.*db.nowhere"):
        evaluator.run("SELECT * FROM nowhere", "db")
    with pytest.raises(QueryFailed, match="NOT_SUPPORTED"):  # Presto's, not SQLite's: said plainly
        evaluator.run("SELECT extract(year FROM note) FROM t", "db")


def test_other_tenants_queries_count_against_the_active_query_limit(simulator, client, tmp_path):
    """A profile that extends aws-default (its quotas, latency, lifecycles) and adds other
    teams' queries holding 18 of the account's 20 active slots: the 3rd query is refused."""
    simulator.reset(
        profile=write_profile(
            tmp_path, 'extends = "aws-default"\n[lifecycle.athena_query]\ntenant_active_queries = 18\n'
        ),
        manual_time=True,
    )
    client("s3").create_bucket(Bucket="athena-results")
    athena = client("athena")
    for _ in range(2):
        start(athena, "SELECT 1 AS one")
    with pytest.raises(ClientError) as refused:
        start(athena, "SELECT 1 AS one")
    assert refused.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    simulator.advance(60)  # ours finished; the tenants' stay
    start(athena, "SELECT 1 AS one")
    assert simulator.stats()["profile"] == "test-profile"


def test_comment_marks_inside_string_literals_and_quoted_names_are_text(athena, simulator):
    """-- and /* */ start a comment only outside quotes; a quote inside a comment starts no
    string. (The statement was once stripped of them whole, and 'a--b' failed as NOT_SUPPORTED.)"""
    queries = {}
    for name, sql in {
        "dashes": "SELECT 'a--b' AS s, count(*) AS n FROM sales WHERE region <> 'x--y' -- a comment",
        "block": "SELECT '/* kept */' AS s /* dropped */ FROM sales LIMIT 1",
        "quote in a comment": "SELECT count(*) AS n -- it's a comment\nFROM sales",
        "quoted name": 'SELECT "a--b" FROM (SELECT 1 AS "a--b")',
    }.items():
        queries[name] = start(athena, sql)
        simulator.advance(10)  # done: the account runs 3 at once
    for name, query_id in queries.items():
        assert state(athena, query_id) == "SUCCEEDED", (
            name,
            athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"],
        )
    assert rows(athena, queries["dashes"]) == [["s", "n"], ["a--b", "4"]]
    assert rows(athena, queries["block"]) == [["s"], ["/* kept */"]]
    assert rows(athena, queries["quote in a comment"]) == [["n"], ["4"]]
    assert rows(athena, queries["quoted name"])[1:] == [["1"]]


def test_list_query_executions_pages_stay_put_while_new_queries_start(athena, simulator):
    """A NextToken marks a place in the list, not an offset from its newest end: queries started
    between two pages neither repeat an id on the next page nor hide one."""

    def started(i: int) -> str:
        query_id = start(athena, f"SELECT {i} AS n")
        simulator.advance(10)  # done: the account runs 3 at once
        return query_id

    ids = [started(i) for i in range(5)]
    first = athena.list_query_executions(WorkGroup="primary", MaxResults=2)
    assert first["QueryExecutionIds"] == [ids[4], ids[3]]
    newer = [started(i) for i in range(5, 8)]
    second = athena.list_query_executions(WorkGroup="primary", MaxResults=2, NextToken=first["NextToken"])
    assert second["QueryExecutionIds"] == [ids[2], ids[1]]
    rest = athena.list_query_executions(WorkGroup="primary", NextToken=second["NextToken"])
    assert rest["QueryExecutionIds"] == [ids[0]] and "NextToken" not in rest
    every = [
        i
        for page in athena.get_paginator("list_query_executions").paginate(
            WorkGroup="primary", PaginationConfig={"PageSize": 3}
        )
        for i in page["QueryExecutionIds"]
    ]
    assert every == newer[::-1] + ids[::-1]
    with pytest.raises(ClientError) as bad:
        athena.list_query_executions(WorkGroup="primary", NextToken="not-a-token")
    assert bad.value.response["Error"]["Code"] == "InvalidRequestException"


def test_a_query_cancelled_while_queued_stops_counting_queue_time(athena, simulator):
    """Statistics of a query stopped before it ran: its queue time ends when it was cancelled,
    and it never ran."""
    profile_queue = 1.0  # PROFILE's queued_seconds
    query = start(athena, "SELECT count(*) FROM sales")
    simulator.advance(profile_queue / 4)
    athena.stop_query_execution(QueryExecutionId=query)
    simulator.advance(30)
    described = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]
    assert described["Status"]["State"] == "CANCELLED"
    statistics = described["Statistics"]
    assert statistics["QueryQueueTimeInMillis"] == 250
    assert statistics["EngineExecutionTimeInMillis"] == 0
    assert statistics["TotalExecutionTimeInMillis"] == 250
    completed = described["Status"]["CompletionDateTime"] - described["Status"]["SubmissionDateTime"]
    assert completed.total_seconds() == pytest.approx(0.25, abs=1e-3)


# --- table formats: what the StorageDescriptor names is how the objects are read ---------------
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
TEXT = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}


def glue_table(client, name: str, columns: dict[str, str], storage: dict, **table) -> None:
    client("glue").create_table(
        DatabaseName="lake",
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Location": f"s3://lake-data/{name}/",
                "Columns": [{"Name": c, "Type": t} for c, t in columns.items()],
                **storage,
            },
            **table,
        },
    )


def parquet(df) -> bytes:
    body = io.BytesIO()
    df.to_parquet(body, engine="pyarrow", compression="snappy", index=False)
    return body.getvalue()


def finished(athena, simulator, sql: str) -> dict:
    """The query's status once it finished."""
    query_id = start(athena, sql)
    simulator.advance(10)
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    return {**status, "rows": rows(athena, query_id) if status["State"] == "SUCCEEDED" else None}


def test_parquet_values_read_as_athena_shows_them(athena, simulator, client):
    """Columns are matched by name whatever their case; booleans, timestamps, nullable integers
    and decimals read as Athena prints them; a column the file lacks is NULL."""
    import datetime
    import decimal

    import pandas as pd

    frame = pd.DataFrame(
        {
            "ID": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "seen": pd.to_datetime(["2024-01-31 12:00:00", "2024-02-01 00:00:01.5", None], format="ISO8601"),
            "price": [decimal.Decimal("2.50"), decimal.Decimal("10.05"), None],
            "day": [datetime.date(2024, 1, 31), None, datetime.date(2024, 3, 1)],
        }
    )
    client("s3").put_object(Bucket="lake-data", Key="typed/part-0.snappy.parquet", Body=parquet(frame))
    columns = {"id": "bigint", "flag": "boolean", "seen": "timestamp", "price": "decimal(10,2)", "day": "date"}
    glue_table(client, "typed", {**columns, "missing": "string"}, PARQUET)
    answer = finished(athena, simulator, "SELECT * FROM typed")
    assert answer["rows"] == [
        ["id", "flag", "seen", "price", "day", "missing"],
        ["1", "true", "2024-01-31 12:00:00.000", "2.50", "2024-01-31", None],
        [None, "false", "2024-02-01 00:00:01.500", "10.05", None, None],
        ["3", "true", None, None, "2024-03-01", None],
    ]
    assert finished(athena, simulator, "SELECT count(*) AS n FROM typed WHERE flag = true")["rows"] == [["n"], ["2"]]


def test_text_tables_are_read_with_the_delimiter_quote_and_header_their_serde_names(athena, simulator, client):
    """awswrangler's CSV table (LazySimpleSerDe, field.delim, escape.delim, a header line), a
    crawler's (serialization.format only), OpenCSVSerde's quoted fields and JSON lines (gzipped)."""
    import gzip

    s3 = client("s3")
    s3.put_object(Bucket="lake-data", Key="piped/a.csv", Body=b"id|name|score\n1|a\\|b|2.5\n2||\n")
    glue_table(
        client,
        "piped",
        {"id": "bigint", "name": "string", "score": "double"},
        {
            **TEXT,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": "|", "escape.delim": "\\"},
            },
        },
        Parameters={"classification": "csv", "skip.header.line.count": "1"},
    )
    s3.put_object(Bucket="lake-data", Key="tabbed/a.tsv", Body=b"1\tx\n2\t\\N\n")
    glue_table(
        client,
        "tabbed",
        {"id": "bigint", "name": "string"},
        {
            **TEXT,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"serialization.format": "\t"},
            },
        },
    )
    s3.put_object(Bucket="lake-data", Key="quoted/a.csv", Body=b'id;note\n1;"semi; colon"\n2;"say ""hi"""\n')
    glue_table(
        client,
        "quoted",
        {"id": "string", "note": "string"},
        {
            **TEXT,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                "Parameters": {"separatorChar": ";", "quoteChar": '"'},
            },
        },
        Parameters={"skip.header.line.count": "1"},
    )
    lines = b'{"Id": 1, "tags": ["a", "b"], "ok": true}\n\n{"id": 2, "extra": 0}\n'
    s3.put_object(Bucket="lake-data", Key="events/2024/a.json.gz", Body=gzip.compress(lines))
    glue_table(
        client,
        "events",
        {"id": "bigint", "tags": "array<string>", "ok": "boolean"},
        {**TEXT, "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}},
    )
    assert finished(athena, simulator, "SELECT * FROM piped ORDER BY id")["rows"] == [
        ["id", "name", "score"],
        ["1", "a|b", "2.5"],
        ["2", "", None],  # an empty field: an empty string, but NULL in a double column
    ]
    assert finished(athena, simulator, "SELECT * FROM tabbed")["rows"] == [["id", "name"], ["1", "x"], ["2", None]]
    assert finished(athena, simulator, "SELECT * FROM quoted")["rows"] == [
        ["id", "note"],
        ["1", "semi; colon"],
        ["2", 'say "hi"'],
    ]
    assert finished(athena, simulator, "SELECT * FROM events ORDER BY id")["rows"] == [
        ["id", "tags", "ok"],
        ["1", "[a, b]", "true"],  # an array as Athena prints it
        ["2", None, None],
    ]


def test_a_table_the_simulator_cannot_read_fails_the_query_as_athena_fails_it(athena, simulator, client):
    """Never rows read in the wrong format: a table that names no SerDe fails as Athena's does; a
    SerDe the simulator lacks is NOT_SUPPORTED, named; an object that is not what the table says
    fails as Athena's split would."""
    s3 = client("s3")
    s3.put_object(Bucket="lake-data", Key="orc/part-0.orc", Body=b"ORC\x00not really")
    glue_table(
        client,
        "orc",
        {"id": "bigint"},
        {
            "InputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.orc.OrcSerde"},
        },
    )
    s3.put_object(Bucket="lake-data", Key="mislabelled/part-0.snappy.parquet", Body=b"id,price\n1,2.5\n")
    glue_table(client, "mislabelled", {"id": "bigint", "price": "double"}, PARQUET)
    s3.put_object(Bucket="lake-data", Key="broken/a.json", Body=b'{"id": 1}\n{"id": \n')
    json_serde = {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"}
    glue_table(client, "broken", {"id": "bigint"}, {**TEXT, "SerdeInfo": json_serde})
    s3.put_object(Bucket="lake-data", Key="lenient/a.json", Body=b'{"id": 1}\n{"id": \n')
    lenient = {**json_serde, "Parameters": {"ignore.malformed.json": "true"}}
    glue_table(client, "lenient", {"id": "bigint"}, {**TEXT, "SerdeInfo": lenient})
    s3.put_object(Bucket="lake-data", Key="bare/a.csv", Body=b"id\n1\n")
    glue_table(client, "bare", {"id": "bigint"}, {}, Parameters={"classification": "csv"})

    # made through the Glue API with no SerDe and no formats: Athena cannot make an input format
    bare = finished(athena, simulator, "SELECT count(*) FROM bare")
    assert (bare["State"], bare["StateChangeReason"]) == ("FAILED", "HIVE_UNKNOWN_ERROR: Unable to create input format")
    orc = finished(athena, simulator, "SELECT count(*) FROM orc")
    assert orc["State"] == "FAILED"
    assert orc["StateChangeReason"].startswith("NOT_SUPPORTED: ") and "OrcSerde" in orc["StateChangeReason"]
    assert orc["AthenaError"]["ErrorCategory"] == 2 and orc["AthenaError"]["Retryable"] is False
    mislabelled = finished(athena, simulator, "SELECT * FROM mislabelled")
    assert mislabelled["State"] == "FAILED"
    assert mislabelled["StateChangeReason"].startswith(
        "HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split s3://lake-data/mislabelled/part-0.snappy.parquet"
    )
    broken = finished(athena, simulator, "SELECT * FROM broken")
    assert broken["StateChangeReason"].startswith("HIVE_CURSOR_ERROR: Row is not a valid JSON Object")
    assert finished(athena, simulator, "SELECT * FROM lenient")["rows"] == [["id"], ["1"], [None]]


def test_a_partitioned_parquet_table_reads_the_partitions_glue_holds_with_their_values(athena, simulator, client):
    """As wr.s3.to_parquet(partition_cols=["region"]) leaves it: a folder per value, each a
    partition in Glue. A folder Glue holds no partition for is not read, as Athena's is not."""
    import pandas as pd

    s3 = client("s3")
    for region, ids in {"eu": [1, 2], "us": [3], "xx": [9]}.items():
        body = parquet(pd.DataFrame({"id": ids, "price": [1.5] * len(ids)}))
        s3.put_object(Bucket="lake-data", Key=f"orders/region={region}/part-0.snappy.parquet", Body=body)
    glue_table(
        client,
        "orders",
        {"id": "bigint", "price": "double"},
        PARQUET,
        PartitionKeys=[{"Name": "region", "Type": "string"}],
    )
    for region in ("eu", "us"):
        client("glue").create_partition(
            DatabaseName="lake",
            TableName="orders",
            PartitionInput={
                "Values": [region],
                "StorageDescriptor": {"Location": f"s3://lake-data/orders/region={region}/", **PARQUET},
            },
        )
    answer = finished(
        athena, simulator, "SELECT region, count(*) AS n, sum(id) AS ids FROM orders GROUP BY region ORDER BY region"
    )
    assert answer["rows"] == [["region", "n", "ids"], ["eu", "2", "3"], ["us", "1", "3"]]


def test_presto_forms_are_rewritten_only_where_they_are_presto_syntax():
    """A parenthesised compound member is one only where a query may stand (not a scalar
    subquery's or a function's parentheses, not inside a literal); TABLESAMPLE is read after a
    table's name, and said plainly to be unsupported anywhere else."""
    from harness.sim.sql import Evaluator, QueryFailed, Table

    tables = {
        ("db", "t"): Table("db", "t", [("id", "bigint"), ("note", "string")], rows=lambda: [["1", "a"], ["2", "b"]])
    }
    evaluator = Evaluator(lambda database, name: tables.get((database, name)))
    assert evaluator.run("SELECT '(SELECT 1) UNION ALL (SELECT 2)' AS s FROM t LIMIT 1", "db").rows == [
        ["(SELECT 1) UNION ALL (SELECT 2)"]
    ]
    assert evaluator.run(
        "SELECT count(*) AS n FROM ((SELECT id FROM t ORDER BY id LIMIT 1) UNION ALL (SELECT id FROM t)) u", "db"
    ).rows == [["3"]]
    assert evaluator.run(
        "((SELECT id FROM t ORDER BY id DESC LIMIT 1) UNION ALL (SELECT 7)) ORDER BY 1", "db"
    ).rows == [
        ["2"],
        ["7"],
    ]
    assert evaluator.run("(SELECT id FROM t ORDER BY id DESC LIMIT 1)", "db").rows == [["2"]]
    assert evaluator.run("SELECT coalesce((SELECT max(id) FROM t), 0) + (1) AS m", "db").rows == [["3"]]
    assert evaluator.run('SELECT s.note FROM "db"."t" AS s TABLESAMPLE SYSTEM (100) WHERE s.id = 2', "db").rows == [
        ["b"]
    ]
    with pytest.raises(QueryFailed, match="NOT_SUPPORTED.*TABLESAMPLE"):
        evaluator.run("SELECT * FROM (SELECT id FROM t) u TABLESAMPLE BERNOULLI (50)", "db")
