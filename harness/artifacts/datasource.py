"""DataSource: a dataset in S3 plus the Glue table that describes it."""

from __future__ import annotations

import io

import pandas as pd
from botocore.exceptions import ClientError

from harness.artifacts.base import Artifact
from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.waiting import error_code

VIEW_SUFFIXES = ("_display", "_computation")  # the views onboarding makes of a table
GLUE_TYPES = {"i": "bigint", "u": "bigint", "f": "double", "b": "boolean"}
# How Athena reads the CSV a DataSource writes: Hive's LazySimpleSerDe over text, as awswrangler's
# catalog.create_csv_table describes it. Athena fails a query on a table whose SerDe, input or
# output format is empty ("HIVE_UNKNOWN_ERROR: Unable to create input format", AWS Knowledge
# Center: athena-unable-to-create-input-format).
CSV_STORAGE = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ",", "escape.delim": "\\"},
    },
}


def glue_columns(df: pd.DataFrame) -> list[dict]:
    return [{"Name": str(c), "Type": GLUE_TYPES.get(df[c].dtype.kind, "string")} for c in df.columns]


class DataSource(Artifact):
    """Constructing one reads nothing; every question asks AWS (no hidden caching)."""

    def __init__(self, ctx: AwsContext, name: str):
        self.ctx, self.name = ctx, name
        self.prefix = f"{ctx.key_prefix}data_sources/{name}/"

    @property
    def location(self) -> str:
        return f"s3://{self.ctx.bucket}/{self.prefix}"

    def create(self, df: pd.DataFrame) -> "DataSource":
        s3, glue = self.ctx.client("s3"), self.ctx.client("glue")
        body = io.StringIO()
        df.to_csv(body, index=False)
        s3.put_object(Bucket=self.ctx.bucket, Key=self.prefix + "data.csv", Body=body.getvalue().encode())
        ensure_database(self.ctx)
        parameters = {"classification": "csv", "delimiter": ",", "skip.header.line.count": "1"}
        if self.ctx.run_id:
            parameters[RUN_TAG] = self.ctx.run_id
        try:
            glue.create_table(
                DatabaseName=self.ctx.glue_database,
                TableInput={
                    "Name": self.name,
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": parameters,
                    "StorageDescriptor": {"Columns": glue_columns(df), "Location": self.location, **CSV_STORAGE},
                },
            )
        except ClientError as err:
            if error_code(err) != "AlreadyExistsException":
                raise
        return self

    def describe(self) -> dict | None:
        try:
            return self.ctx.client("glue").get_table(DatabaseName=self.ctx.glue_database, Name=self.name)["Table"]
        except ClientError as err:
            if error_code(err) == "EntityNotFoundException":
                return None
            raise

    def health_check(self) -> list[str]:
        if self.describe() is None:
            return ["glue_table_missing"]
        listed = self.ctx.client("s3").list_objects_v2(Bucket=self.ctx.bucket, Prefix=self.prefix, MaxKeys=1)
        return [] if listed.get("KeyCount", 0) else ["s3_data_missing"]

    def read(self) -> pd.DataFrame:
        body = self.ctx.client("s3").get_object(Bucket=self.ctx.bucket, Key=self.prefix + "data.csv")["Body"]
        return pd.read_csv(body)

    def delete(self) -> None:
        """Idempotent: every object where the table says the data is, then the table."""
        table = self.describe()
        location = (table or {}).get("StorageDescriptor", {}).get("Location", "") or self.location
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if bucket:
            delete_prefix(self.ctx, bucket, prefix)
        drop_views(self.ctx, self.ctx.glue_database, self.name)  # what onboarding made of it
        delete_table(self.ctx, self.ctx.glue_database, self.name)


def ensure_database(ctx: AwsContext, name: str | None = None) -> None:
    """The database, made if missing; the run that makes it tags it (a parameter, as its tables
    are), so `harness cleanup` knows the harness made it and may delete it once it is empty."""
    database: dict = {"Name": name or ctx.glue_database}
    if ctx.run_id:
        database["Parameters"] = {RUN_TAG: ctx.run_id}
    try:
        ctx.client("glue").create_database(DatabaseInput=database)
    except ClientError as err:
        if error_code(err) != "AlreadyExistsException":
            raise


def delete_prefix(ctx: AwsContext, bucket: str, prefix: str) -> int:
    s3, deleted = ctx.client("s3"), 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    except ClientError as err:
        if error_code(err) != "NoSuchBucket":
            raise
    return deleted


def delete_table(ctx: AwsContext, database: str, name: str) -> None:
    """Delete a Glue table or view (idempotent)."""
    try:
        ctx.client("glue").delete_table(DatabaseName=database, Name=name)
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise


def drop_views(ctx: AwsContext, database: str, table: str) -> None:
    """Delete the views onboarding made of `table` (idempotent)."""
    for suffix in VIEW_SUFFIXES:
        delete_table(ctx, database, table + suffix)
