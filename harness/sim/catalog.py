"""The simulated account's data as Athena sees it: Glue tables in moto's catalog, their rows in
moto's S3 (CSV under each table's Location), and tables whose rows come from elsewhere (a feature
group's offline store, filled from the records ingested into it)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Callable

from harness.sim.sql import Table, presto_view_text

if TYPE_CHECKING:
    from moto.glue.models import GlueBackend
    from moto.s3.models import S3Backend

RowSource = Callable[[], list[list[str | None]]]


class MotoCatalog:
    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        # (database, table) -> rows: tables moto holds no data for (offline stores)
        self.sources: dict[tuple[str, str], RowSource] = {}

    def _glue(self) -> GlueBackend:
        from moto.glue.models import glue_backends

        return glue_backends[self.account][self.region]

    def _s3(self) -> S3Backend:
        from moto.s3.models import s3_backends

        return s3_backends[self.account]["aws"]

    def database_exists(self, database: str) -> bool:
        return database == "information_schema" or database in self._glue().databases

    def table(self, database: str, name: str) -> Table | None:
        if database == "information_schema":
            return self._information_schema(name)
        glue = self._glue()
        db = glue.databases.get(database)
        found = None if db is None else db.tables.get(name)
        if found is None:
            return None
        spec = found.as_dict()
        columns = [(c["Name"], c.get("Type", "string")) for c in spec.get("StorageDescriptor", {}).get("Columns", [])]
        columns += [(c["Name"], c.get("Type", "string")) for c in spec.get("PartitionKeys", []) or []]
        if spec.get("TableType") == "VIRTUAL_VIEW":
            return Table(database, name, columns, view_sql=spec.get("ViewOriginalText", ""))
        source = self.sources.get((database, name))
        if source is not None:
            return Table(database, name, columns, rows=source)
        location = spec.get("StorageDescriptor", {}).get("Location", "")
        skip = int((spec.get("Parameters") or {}).get("skip.header.line.count", "0") or 0)
        return Table(database, name, columns, rows=lambda: self._csv_rows(location, skip))

    def _information_schema(self, name: str) -> Table | None:
        """Athena's views of the catalog, as pipelines query them to check a table exists."""

        def tables() -> list[list[str | None]]:
            return [
                [
                    "awsdatacatalog",
                    db_name,
                    t_name,
                    "VIEW" if t.as_dict().get("TableType") == "VIRTUAL_VIEW" else "BASE TABLE",
                ]
                for db_name, db in sorted(self._glue().databases.items())
                for t_name, t in sorted(db.tables.items())
            ]

        def columns() -> list[list[str | None]]:
            rows: list[list[str | None]] = []
            for db_name, db in sorted(self._glue().databases.items()):
                for t_name, t in sorted(db.tables.items()):
                    for i, c in enumerate(t.as_dict().get("StorageDescriptor", {}).get("Columns", []), start=1):
                        kind = c.get("Type", "string")
                        rows.append(
                            [
                                "awsdatacatalog",
                                db_name,
                                t_name,
                                c["Name"],
                                str(i),
                                "varchar" if kind == "string" else kind,
                            ]
                        )
            return rows

        if name == "tables":
            return Table(
                "information_schema",
                name,
                [
                    ("table_catalog", "string"),
                    ("table_schema", "string"),
                    ("table_name", "string"),
                    ("table_type", "string"),
                ],
                rows=tables,
            )
        if name == "columns":
            return Table(
                "information_schema",
                name,
                [
                    ("table_catalog", "string"),
                    ("table_schema", "string"),
                    ("table_name", "string"),
                    ("column_name", "string"),
                    ("ordinal_position", "bigint"),
                    ("data_type", "string"),
                ],
                rows=columns,
            )
        return None

    def _csv_rows(self, location: str, skip: int) -> list[list[str | None]]:
        bucket_name, _, prefix = location.removeprefix("s3://").partition("/")
        try:
            bucket = self._s3().get_bucket(bucket_name)
        except Exception:  # a table whose bucket is gone reads as empty, as Athena's does
            return []
        rows: list[list[str | None]] = []
        for key in sorted(k for k in bucket.keys.keys() if k.startswith(prefix)):
            if key.rsplit("/", 1)[-1].startswith(("_", ".")):  # Athena skips hidden files
                continue
            text = bucket.keys[key].value.decode("utf-8", "replace")
            rows.extend([v if v != "" else None for v in r] for r in list(csv.reader(io.StringIO(text)))[skip:])
        return rows

    def create_view(self, database: str, name: str, sql: str, columns: list[tuple[str, str]], replace: bool) -> bool:
        """False when it exists and replace is not asked (Athena's query then fails)."""
        glue = self._glue()
        spec = {
            "Name": name,
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "ViewOriginalText": presto_view_text(sql, database, columns),
            "ViewExpandedText": "/* Presto View */",
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": "string" if t == "varchar" else t} for n, t in columns],
                "Location": "",
            },
        }
        existing = glue.databases[database].tables.get(name)
        if existing is not None:
            if not replace:
                return False
            existing.update(spec)
            return True
        glue.create_table(database, name, spec)
        return True

    def drop(self, database: str, name: str) -> bool:
        db = self._glue().databases.get(database)
        if db is None or name not in db.tables:
            return False
        del db.tables[name]
        self.sources.pop((database, name), None)
        return True

    def bucket_exists(self, uri: str) -> bool:
        try:
            self._s3().get_bucket(uri.removeprefix("s3://").partition("/")[0])
            return True
        except Exception:  # moto's MissingBucket
            return False

    def write(self, uri: str, body: bytes) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if self.bucket_exists(uri):  # deleted while the query ran: nothing to write into
            self._s3().put_object(bucket, key, body)
