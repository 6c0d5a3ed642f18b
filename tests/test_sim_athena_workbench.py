"""Athena on the simulator as the real Workbench package (0.8.506) uses it: a DataSource is a
Snappy Parquet table that awswrangler wrote (ParquetHiveSerDe), read through views, sampled with
TABLESAMPLE BERNOULLI and described with value counts made of two parenthesised UNION ALL
branches, each with its own ORDER BY and LIMIT. Every query here is one Workbench sent to the
simulator (the probe's log of issue #27), with its own table names.

The simulator runs on manual time: AWS time moves only when a test advances it."""

from __future__ import annotations

import io
import statistics

import pandas as pd
import pytest

from simhelpers import write_profile

PROFILE = """
jitter = 0.0
[lifecycle.athena_query]
queued_seconds = 1
count_seconds = 2
select_seconds = 3
aggregate_seconds = 5
ddl_seconds = 1
"""
BUCKET = "workbench-sim-bucket"
COLUMNS = ["sex", "length", "diameter", "height", "whole_weight", "shell_weight", "class_number_of_rings"]
SELECTED = ", ".join(f'"{c}"' for c in COLUMNS)


def abalone(rows: int = 400) -> pd.DataFrame:
    """An abalone-like frame, as Workbench's DataSource from the abalone CSV holds it."""
    return pd.DataFrame(
        {
            "sex": [("M", "M", "F", "I", "M", "F", "I")[i % 7] for i in range(rows)],
            "length": [0.3 + (i * 37 % 100) / 200 for i in range(rows)],
            "diameter": [0.2 + (i * 53 % 100) / 250 for i in range(rows)],
            "height": [None if i % 50 == 7 else 0.05 + (i * 11 % 40) / 400 for i in range(rows)],
            "whole_weight": [0.1 + (i * 29 % 100) / 50 for i in range(rows)],
            "shell_weight": [0.05 + (i * 17 % 100) / 200 for i in range(rows)],
            "class_number_of_rings": [3 + i * 7 % 20 for i in range(rows)],
        }
    )


def write_data_source(client, name: str, df: pd.DataFrame) -> None:
    """What wr.s3.to_parquet(df, path, dataset=True, database="workbench", table=name,
    filename_prefix=f"{name}_") leaves: Snappy Parquet under s3://bucket/data-sources/<name>, and
    a Glue table of awswrangler's own definition."""
    body = io.BytesIO()
    df.to_parquet(body, engine="pyarrow", compression="snappy", index=False)
    client("s3").put_object(
        Bucket=BUCKET, Key=f"data-sources/{name}/{name}_6f1d2c0e8b7a4e1f.snappy.parquet", Body=body.getvalue()
    )

    def glue_type(column: pd.Series) -> str:  # as awswrangler maps pandas' types
        if pd.api.types.is_integer_dtype(column):
            return "bigint"
        return "double" if pd.api.types.is_float_dtype(column) else "string"

    client("glue").create_table(
        DatabaseName="workbench",
        TableInput={
            "Name": name,
            "PartitionKeys": [],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "compressionType": "snappy", "typeOfData": "file"},
            "StorageDescriptor": {
                "Columns": [{"Name": c, "Type": glue_type(df[c])} for c in df.columns],
                "Location": f"s3://{BUCKET}/data-sources/{name}",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "Compressed": True,
                "NumberOfBuckets": -1,
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"},
                },
                "BucketColumns": [],
                "StoredAsSubDirectories": False,
                "SortColumns": [],
                "Parameters": {
                    "CrawlerSchemaDeserializerVersion": "1.0",
                    "classification": "parquet",
                    "compressionType": "snappy",
                    "typeOfData": "file",
                },
            },
        },
    )


def onboard(simulator, client, tmp_path, seed: int = 0) -> None:
    """A fresh account as Workbench's onboarding leaves it, holding the abalone_sim DataSource."""
    simulator.reset(profile=write_profile(tmp_path, PROFILE), seed=seed, manual_time=True)
    client("s3").create_bucket(Bucket=BUCKET)
    client("glue").create_database(DatabaseInput={"Name": "workbench"})
    client("athena").create_work_group(
        Name="workbench-workgroup",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/athena-results/"}},
    )
    write_data_source(client, "abalone_sim", abalone())


@pytest.fixture
def athena(simulator, client, tmp_path):
    onboard(simulator, client, tmp_path)
    return client("athena")


def run(athena, simulator, sql: str) -> list[list[str | None]]:
    """The query's rows, header first, once it finished (its status when it failed)."""
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "workbench"}, WorkGroup="workbench-workgroup"
    )["QueryExecutionId"]
    simulator.advance(10)
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "SUCCEEDED", status
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
    return [[d.get("VarCharValue") for d in row["Data"]] for page in pages for row in page["ResultSet"]["Rows"]]


def computation_view(athena, simulator, name: str = "abalone_sim") -> None:
    run(athena, simulator, f'CREATE OR REPLACE VIEW "{name}___computation" AS SELECT {SELECTED} FROM "{name}"')


def test_a_data_source_workbench_wrote_as_snappy_parquet_is_read_by_its_own_queries(athena, simulator):
    df = abalone()
    assert run(athena, simulator, 'select count(*) AS workbench_count from "workbench"."abalone_sim"') == [
        ["workbench_count"],
        ["400"],
    ]
    columns = run(
        athena,
        simulator,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'workbench' AND table_name = 'abalone_sim'",
    )
    assert [c for (c,) in columns[1:]] == COLUMNS
    computation_view(athena, simulator)
    answer = run(athena, simulator, f'SELECT {SELECTED} FROM "abalone_sim___computation"')
    assert answer[0] == COLUMNS
    first = df.iloc[0]
    assert answer[1] == [first["sex"]] + [repr(float(first[c])) for c in COLUMNS[1:-1]] + ["3"]
    assert answer[8][3] is None  # a null in the Parquet column is a null, not "nan" or ""
    outliers = run(
        athena,
        simulator,
        f'SELECT {SELECTED} FROM "abalone_sim___computation" WHERE (length < -0.263 OR length > 0.7) '
        "OR (diameter < -0.10199999999999998 OR diameter > 0.826)",
    )
    assert len(outliers) - 1 == int(((df["length"] > 0.7) | (df["diameter"] > 0.826)).sum())
    described = run(
        athena,
        simulator,
        'SELECT min("length") AS "length___min", approx_percentile("length", 0.5) AS "length___median", '
        'max("length") AS "length___max", avg("length") AS "length___mean", stddev("length") AS "length___stddev" '
        'FROM "abalone_sim___computation"',
    )
    low, median, high, mean, deviation = (float(v) for v in described[1])
    assert (low, high) == (df["length"].min(), df["length"].max())
    assert median == pytest.approx(df["length"].median(), abs=0.01)
    assert mean == pytest.approx(df["length"].mean()) and deviation == pytest.approx(df["length"].std())


def test_value_counts_are_two_parenthesised_union_all_branches_each_with_its_order_by_and_limit(athena, simulator):
    computation_view(athena, simulator)
    answer = run(
        athena,
        simulator,
        '(SELECT "sex", count(*) as workbench_count FROM "abalone_sim___computation" GROUP BY "sex" '
        "ORDER BY workbench_count DESC LIMIT 2) UNION ALL "
        '(SELECT "sex", count(*) as workbench_count FROM "abalone_sim___computation" GROUP BY "sex" '
        "ORDER BY workbench_count ASC LIMIT 2)",
    )
    counts = abalone()["sex"].value_counts()  # M 172, F 114, I 114
    assert answer[0] == ["sex", "workbench_count"]
    assert answer[1] == ["M", str(counts["M"])]  # the DESC branch's two, then the ASC branch's two
    assert [int(n) for _, n in answer[1:3]] == sorted(counts, reverse=True)[:2]
    assert [int(n) for _, n in answer[3:5]] == sorted(counts)[:2] and len(answer) == 5
    # Workbench's own LIMIT 20 on 3 values: each branch answers all three
    whole = run(
        athena,
        simulator,
        '(SELECT "sex", count(*) as workbench_count FROM "abalone_sim___computation" GROUP BY "sex" '
        "ORDER BY workbench_count DESC LIMIT 20) UNION ALL "
        '(SELECT "sex", count(*) as workbench_count FROM "abalone_sim___computation" GROUP BY "sex" '
        "ORDER BY workbench_count ASC LIMIT 20)",
    )
    assert len(whole) == 1 + 2 * 3
    newest = athena.list_query_executions(WorkGroup="workbench-workgroup")["QueryExecutionIds"][0]
    assert athena.get_query_execution(QueryExecutionId=newest)["QueryExecution"]["SubstatementType"] == "SELECT"


def sampled(athena, simulator, percentage: str = "55.0", method: str = "BERNOULLI") -> list[list[str | None]]:
    return run(
        athena, simulator, f'SELECT {SELECTED} FROM "abalone_sim___computation" TABLESAMPLE {method}({percentage})'
    )


def test_tablesample_bernoulli_keeps_each_row_with_its_probability_and_the_same_seed_keeps_the_same_rows(
    athena, simulator, client, tmp_path
):
    computation_view(athena, simulator)
    first = sampled(athena, simulator)
    assert first[0] == COLUMNS
    assert 170 <= len(first) - 1 <= 270  # 55% of 400 rows is 220, give or take 10
    rows = {tuple(r) for r in run(athena, simulator, f'SELECT {SELECTED} FROM "abalone_sim___computation"')[1:]}
    assert {tuple(r) for r in first[1:]} <= rows
    again = sampled(athena, simulator)  # the same query again: another sample, as Athena draws one
    assert again[1:] != first[1:]
    assert len(sampled(athena, simulator, "0")) == 1 and len(sampled(athena, simulator, "100")) == 401
    assert 20 <= len(sampled(athena, simulator, "10", method="SYSTEM")) - 1 <= 60  # rows here, as BERNOULLI

    onboard(simulator, client, tmp_path)  # the same seed: the same rows, query for query
    computation_view(athena, simulator)
    assert sampled(athena, simulator) == first and sampled(athena, simulator) == again
    onboard(simulator, client, tmp_path, seed=1)
    computation_view(athena, simulator)
    assert sampled(athena, simulator) != first


def test_a_sample_percentage_outside_0_to_100_fails_as_athenas_does(athena, simulator):
    computation_view(athena, simulator)
    query_id = athena.start_query_execution(
        QueryString='SELECT "sex" FROM "abalone_sim___computation" TABLESAMPLE BERNOULLI(155.0)',
        QueryExecutionContext={"Database": "workbench"},
        WorkGroup="workbench-workgroup",
    )["QueryExecutionId"]
    simulator.advance(10)
    status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"] == (
        "NUMERIC_VALUE_OUT_OF_RANGE: line 1:69: Sample percentage must be less than or equal to 100"
    )
    assert status["AthenaError"]["ErrorCategory"] == 2 and not status["AthenaError"]["Retryable"]


def test_a_data_source_reads_only_its_own_folder_not_a_sibling_that_shares_its_name(athena, simulator, client):
    """The table's Location s3://.../data-sources/abalone_sim is a folder: abalone_sim_big's
    objects, under a key that starts with the same letters, are another table's."""
    write_data_source(client, "abalone_sim_big", abalone(1000))
    assert run(athena, simulator, 'select count(*) AS workbench_count from "workbench"."abalone_sim"')[1] == ["400"]
    assert statistics.mean(
        float(v) for (v,) in run(athena, simulator, 'SELECT "length" FROM "abalone_sim_big"')[1:]
    ) == pytest.approx(abalone(1000)["length"].mean())
