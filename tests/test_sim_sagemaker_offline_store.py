"""A feature group's offline store, as Feature Store makes it: a Glue table of Parquet (its
Parameters, SerDe, input and output formats, its Location the resolved S3 URI, its dates), whose
rows Athena reads from the records put into the group.

The simulator runs on manual time: AWS time moves only when the test advances it."""

from __future__ import annotations

import pytest

from simhelpers import create_feature_group, write_profile

PROFILE = """
quota_table = "none"
jitter = 0.0
[lifecycle.feature_group]
create_seconds = 60
offline_store_seconds = 60
table_seconds = 60
rows_min_seconds = 300
rows_max_seconds = 300
[lifecycle.athena_query]
queued_seconds = 1
count_seconds = 1
select_seconds = 1
"""
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@pytest.fixture
def account(simulator, client, tmp_path):
    """A manual-time account with feature group fg-offline (id, event_time, x), its offline
    store's table made (180 AWS seconds on)."""
    simulator.reset(profile=write_profile(tmp_path, PROFILE), manual_time=True)
    sagemaker, s3 = client("sagemaker"), client("s3")
    create_feature_group(sagemaker, s3, "fg-offline")
    simulator.advance(180)
    return sagemaker


def offline_table(sagemaker, glue) -> dict:
    described = sagemaker.describe_feature_group(FeatureGroupName="fg-offline")
    catalog = described["OfflineStoreConfig"]["DataCatalogConfig"]
    return glue.get_table(DatabaseName=catalog["Database"], Name=catalog["TableName"])["Table"]


def test_the_offline_store_table_is_a_parquet_table_as_feature_store_makes_it(account, client):
    sagemaker, glue = account, client("glue")
    described = sagemaker.describe_feature_group(FeatureGroupName="fg-offline")
    table = offline_table(sagemaker, glue)

    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"] == {"EXTERNAL": "TRUE", "classification": "parquet"}
    storage = table["StorageDescriptor"]
    assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert storage["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert storage["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert storage["Location"] == described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
        ("id", "string"),
        ("event_time", "string"),
        ("x", "double"),
        ("write_time", "timestamp"),
        ("api_invocation_time", "timestamp"),
        ("is_deleted", "boolean"),
    ]
    assert table["UpdateTime"] == table["CreateTime"] >= described["CreationTime"]


def test_athena_reads_the_parquet_offline_table_from_the_records_put_not_from_s3(account, client, simulator):
    sagemaker, glue, athena = account, client("glue"), client("athena")
    runtime = client("sagemaker-featurestore-runtime")
    for i in range(3):
        runtime.put_record(
            FeatureGroupName="fg-offline",
            Record=[
                {"FeatureName": "id", "ValueAsString": str(i)},
                {"FeatureName": "event_time", "ValueAsString": "2026-11-26T00:00:00Z"},
                {"FeatureName": "x", "ValueAsString": str(i / 2)},
            ],
        )
    simulator.advance(300)  # the rows reach the offline store
    table = offline_table(sagemaker, glue)
    client("s3").create_bucket(Bucket="athena-results")
    query = athena.start_query_execution(
        QueryString=f'SELECT id, x FROM "{table["Name"]}" ORDER BY id',
        QueryExecutionContext={"Database": table["DatabaseName"]},
        ResultConfiguration={"OutputLocation": "s3://athena-results/q/"},
    )["QueryExecutionId"]
    simulator.advance(5)
    status = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]
    assert status["State"] == "SUCCEEDED", status
    rows = athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"]
    assert [[d.get("VarCharValue") for d in row["Data"]] for row in rows] == [
        ["id", "x"],
        ["0", "0.0"],
        ["1", "0.5"],
        ["2", "1.0"],
    ]


def test_metadata_written_to_the_offline_table_parameters_is_kept_and_dated(account, client, simulator):
    """Workbench keeps its metadata in the table's Parameters (awswrangler's
    upsert_table_parameters: GetTable, then UpdateTable with the parameters merged)."""
    sagemaker, glue = account, client("glue")
    table = offline_table(sagemaker, glue)
    simulator.advance(60)
    glue.update_table(
        DatabaseName=table["DatabaseName"],
        TableInput={
            "Name": table["Name"],
            "TableType": table["TableType"],
            "StorageDescriptor": table["StorageDescriptor"],
            "Parameters": {**table["Parameters"], "workbench_meta": '{"owner": "test"}'},
        },
        VersionId=table["VersionId"],
    )
    updated = offline_table(sagemaker, glue)
    assert updated["Parameters"]["classification"] == "parquet"
    assert updated["Parameters"]["workbench_meta"] == '{"owner": "test"}'
    assert (updated["UpdateTime"] - updated["CreateTime"]).total_seconds() == pytest.approx(60, abs=0.01)
