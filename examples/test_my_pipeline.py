"""A team's own test suite, checking its pipeline on the AWS simulator with the harness's pytest
plugin (installed with the harness; nothing to import): the `aws_sim` fixture, the `aws_sim`
marker and `aws_sim.run_at_once`. The pipeline is plain boto3, as it runs in production."""

import boto3
import pytest
from botocore.exceptions import ClientError

DATABASE = "sales"


def land_and_catalog(name: str, rows: int = 20) -> None:
    """The team's pipeline: land a CSV in a bucket of its own, catalog it as a Glue table, read it
    back through the table's location, and clean up. `name` is unique per run."""
    s3, glue = boto3.client("s3"), boto3.client("glue")
    body = "id,amount\n" + "".join(f"{i},{i * 2.5}\n" for i in range(rows))
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="orders/part-0.csv", Body=body.encode())
    try:
        glue.create_database(DatabaseInput={"Name": DATABASE})
    except ClientError as err:  # another run made it first
        if err.response["Error"]["Code"] != "AlreadyExistsException":
            raise
    table = name.replace("-", "_")  # Athena wants no hyphens
    glue.create_table(
        DatabaseName=DATABASE,
        TableInput={
            "Name": table,
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "int"}, {"Name": "amount", "Type": "double"}],
                "Location": f"s3://{name}/orders/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    location = glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]["StorageDescriptor"]["Location"]
    key = location.removeprefix(f"s3://{name}/") + "part-0.csv"
    if s3.get_object(Bucket=name, Key=key)["Body"].read().decode() != body:
        raise RuntimeError(f"{key} does not read back as written")
    glue.delete_table(DatabaseName=DATABASE, Name=table)
    s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)


def test_the_pipeline_leaves_nothing_behind(aws_sim):
    land_and_catalog("orders-test")
    assert aws_sim.client("s3").list_buckets()["Buckets"] == []
    assert aws_sim.client("glue").get_tables(DatabaseName=DATABASE)["TableList"] == []


def test_eight_at_once_none_fails_and_p95_stays_under_30_seconds(aws_sim):
    result = aws_sim.run_at_once(land_and_catalog, n=8, params={"rows": 50})
    assert result.failed == 0, result
    assert result.completed == 8
    assert result.p95_seconds < 30, result  # AWS seconds


# The account allows 2 CreateTable calls a second (burst 1): 8 at once must take turns. At time
# scale 0.5 a wall second is 2 AWS seconds, so the turns take half the wall time.
@pytest.mark.aws_sim(quotas={"glue.CreateTable.rate": 2, "glue.CreateTable.burst": 1}, time_scale=0.5)
def test_past_the_create_table_quota_the_harness_queues_where_botocore_is_throttled(aws_sim):
    queued = aws_sim.run_at_once(land_and_catalog, n=8)
    assert queued.failed == 0, queued
    assert queued.queued_seconds > 0  # paced by the harness's limiter, which knows the quota

    retried = aws_sim.run_at_once(land_and_catalog, n=8, policy="botocore-standard")
    assert retried.throttled > 0  # the same code with botocore's own retries
