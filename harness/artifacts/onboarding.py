"""Onboarding a table as Workbench does: queries that describe the data, run one at a time
through Athena, with its metadata kept in the Glue table's parameters.

Workbench onboards every DataSource, and every FeatureSet's offline-store table again: about
18 queries plus one value count per string or boolean column (information_schema checks, the
display and computation views, a sample, descriptive statistics, quartiles, column statistics,
correlations, outliers, the row count), one more started and never awaited, and between them
its artifact objects list the database (GetTables), read the table (GetTable) and write what
they learned back into its parameters (UpdateTable, read-modify-write).

`Onboarding` holds the counts (the pipeline's params set them); `onboard` runs them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from botocore.exceptions import ClientError

from harness.artifacts import athena
from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.datasource import VIEW_SUFFIXES
from harness.artifacts.waiting import error_code

NUMERIC = ("bigint", "int", "integer", "double", "float", "real", "smallint", "tinyint", "decimal")
# A writer beaten to a table backs off a random time up to base x 2^collisions (AWS seconds, at
# most the cap) before it reads again: retrying at once, 32 writers of one table livelocked and
# 12 gave up after ten attempts each. It gives up once it has tried for WRITE_PATIENCE.
WRITE_BACKOFF_BASE, WRITE_BACKOFF_CAP, WRITE_PATIENCE = 0.25, 10.0, 600.0


@dataclass(frozen=True)
class Onboarding:
    """Per onboarded table (defaults read from Workbench's code; docs/pipelines.md)."""

    queries: int = 18  # the describing queries, before one value count per string column
    listings: int = 17  # GetTables over the whole database (each paginated)
    reads: int = 25  # GetTable
    writes: int = 7  # UpdateTable: metadata into the table's parameters
    unawaited: int = 1  # queries started and never waited for
    s3_listings: int = 0  # ListObjectsV2 under the table's DataFrame cache (Workbench's DFStore)
    s3_writes: int = 0  # PutObject there: the sample, outlier and summary frames it caches


def queries_for(database: str, table: str, columns: list[tuple[str, str]], count: int) -> list[str]:
    """The describing queries for a table with these (name, Glue type) columns: `count` of them
    (the list repeats if more are asked), then one value count per string or boolean column."""
    numeric = [n for n, t in columns if t.lower() in NUMERIC]
    strings = [n for n, t in columns if t.lower() not in NUMERIC and t.lower() not in ("timestamp", "date")]
    t = f'"{database}"."{table}"'
    display, computation = (f'"{database}"."{table}{suffix}"' for suffix in VIEW_SUFFIXES)
    pick = ", ".join(f'"{n}"' for n, _ in columns)
    stats = (
        ", ".join(
            f'min("{n}") AS "{n}_min", max("{n}") AS "{n}_max", avg("{n}") AS "{n}_mean", stddev("{n}") AS "{n}_std"'
            for n in numeric
        )
        or "count(*) AS n"
    )
    quartiles = (
        ", ".join(f'approx_percentile("{n}", {q}) AS "{n}_q{int(q * 100)}"' for n in numeric for q in (0.25, 0.5, 0.75))
        or "count(*) AS n"
    )
    distinct = ", ".join(
        f'approx_distinct("{n}") AS "{n}_unique", count(*) - count("{n}") AS "{n}_nulls"' for n, _ in columns
    )
    pairs = [(a, b) for i, a in enumerate(numeric) for b in numeric[i + 1 :]]
    correlations = ", ".join(f'corr("{a}", "{b}") AS "{a}__{b}"' for a, b in pairs) or "count(*) AS n"
    first = numeric[0] if numeric else None
    outliers = (
        f'SELECT {pick} FROM {t} WHERE "{first}" > (SELECT avg("{first}") + 3 * stddev("{first}") FROM {t}) '
        f'OR "{first}" < (SELECT avg("{first}") - 3 * stddev("{first}") FROM {t}) LIMIT 100'
        if first
        else f"SELECT {pick} FROM {t} LIMIT 10"
    )
    where = f"table_schema = '{database}' AND table_name = '{table}'"
    base = [
        f"SELECT table_name FROM information_schema.tables WHERE {where}",
        f"SELECT column_name, data_type FROM information_schema.columns WHERE {where}",
        f"CREATE OR REPLACE VIEW {display} AS SELECT {pick} FROM {t}",
        f"CREATE OR REPLACE VIEW {computation} AS SELECT {pick} FROM {t}",
        f"SELECT COUNT(*) AS count FROM {t}",
        f"SELECT {pick} FROM {t} LIMIT 100",
        f"SELECT {stats} FROM {t}",
        f"SELECT {quartiles} FROM {t}",
        f"SELECT {distinct} FROM {t}",
        f"SELECT {correlations} FROM {t}",
        outliers,
        f"SELECT COUNT(*) AS count FROM {display}",
        f"SELECT {pick} FROM {display} LIMIT 100",
        f"SELECT {pick} FROM {computation} LIMIT 100",
        f"SELECT {stats} FROM {computation}",
        f'SELECT "{columns[0][0]}", count(*) AS n FROM {t} GROUP BY "{columns[0][0]}" HAVING count(*) > 1 LIMIT 100',
        f"SELECT COUNT(*) AS count FROM {computation}",
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = '{database}' "
        f"AND table_name = '{table}_display'",
    ]
    chosen = [base[i % len(base)] for i in range(count)]
    chosen += [f'SELECT "{n}", count(*) AS count FROM {t} GROUP BY "{n}" ORDER BY count DESC LIMIT 20' for n in strings]
    return chosen


def read_metadata(ctx: AwsContext, database: str, table: str) -> dict:
    """The table's parameters (Workbench keeps its artifact metadata there)."""
    return ctx.client("glue").get_table(DatabaseName=database, Name=table)["Table"].get("Parameters", {})


def write_metadata(ctx: AwsContext, database: str, table: str, changes: dict[str, str]) -> int:
    """Merge `changes` into the table's parameters: read, change, write at the version read. A
    writer that another beat to it (ConcurrentModificationException) records the contention,
    backs off (full jitter) and reads again. Returns the collisions met."""
    glue, clock, collisions = ctx.client("glue"), ctx.clock, 0
    keep = (
        "Name",
        "Description",
        "Owner",
        "Retention",
        "StorageDescriptor",
        "PartitionKeys",
        "ViewOriginalText",
        "ViewExpandedText",
        "TableType",
        "Parameters",
        "TargetTable",
    )
    started = clock.now()
    while True:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
        table_input = {k: v for k, v in current.items() if k in keep}
        table_input["Parameters"] = {**current.get("Parameters", {}), **changes}
        try:
            glue.update_table(DatabaseName=database, TableInput=table_input, VersionId=current["VersionId"])
            return collisions
        except ClientError as err:
            if error_code(err) != "ConcurrentModificationException" or clock.now() - started >= WRITE_PATIENCE:
                raise
            collisions += 1
            ctx.record(
                "contention",
                service="glue",
                operation="UpdateTable",
                error_code="ConcurrentModificationException",
                table=f"{database}.{table}",
                attempt=collisions,
            )
            ctx.sleep(random.uniform(0.0, min(WRITE_BACKOFF_CAP, WRITE_BACKOFF_BASE * 2**collisions)))


def onboard(ctx: AwsContext, database: str, table: str, plan: Onboarding = Onboarding()) -> dict:
    """Describe the table with Athena, spreading the catalog calls between the queries. Returns
    what was learned (row count, columns)."""
    glue = ctx.client("glue")
    spec = glue.get_table(DatabaseName=database, Name=table)["Table"]
    columns = [(c["Name"], c.get("Type", "string")) for c in spec.get("StorageDescriptor", {}).get("Columns", [])]
    sql = queries_for(database, table, columns, plan.queries)
    steps = max(1, len(sql))
    learned: dict = {"columns": [n for n, _ in columns]}
    for _ in range(plan.unawaited):
        athena.start_query(ctx, f'SELECT COUNT(*) AS count FROM "{database}"."{table}"', database)
    for i, statement in enumerate(sql):
        for _ in range(_share(plan.listings, i, steps)):
            for _page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
                pass
        for _ in range(_share(plan.reads, i, steps)):
            read_metadata(ctx, database, table)
        for _ in range(_share(plan.s3_listings, i, steps)):
            ctx.client("s3").list_objects_v2(Bucket=ctx.bucket, Prefix=frame_cache(ctx, table))
        for k in range(_share(plan.s3_writes, i, steps)):
            key = f"{frame_cache(ctx, table)}{i}-{k}.parquet"
            ctx.client("s3").put_object(Bucket=ctx.bucket, Key=key, Body=b"PAR1")
        frame = athena.query(ctx, statement, database)
        if statement.startswith("CREATE OR REPLACE VIEW") and ctx.run_id:
            # tagged like every table the run makes, so a run's cleanup finds its views
            view = statement.split('"')[3]
            write_metadata(ctx, database, view, {RUN_TAG: ctx.run_id})
        if "count" in frame.columns and statement.startswith("SELECT COUNT(*)") and len(frame):
            learned["rows"] = int(frame["count"].iloc[0])
        for _ in range(_share(plan.writes, i, steps)):
            write_metadata(ctx, database, table, {"workbench_meta": json.dumps({"step": i, **learned})[:2000]})
    return learned


def frame_cache(ctx: AwsContext, table: str) -> str:
    """Where onboarding caches a table's DataFrames in the run's bucket (Workbench's df_store)."""
    return f"{ctx.key_prefix}df_store/{table}/"


def _share(total: int, index: int, steps: int) -> int:
    """How many of `total` calls fall on step `index` of `steps`, spread evenly."""
    return total * (index + 1) // steps - total * index // steps
