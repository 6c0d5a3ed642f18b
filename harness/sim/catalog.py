"""The simulated account's data as Athena sees it: Glue tables in moto's catalog, their rows in
moto's S3 (the objects under each table's Location, or each registered partition's), and tables
whose rows come from elsewhere (a feature group's offline store, filled from the records ingested
into it).

Athena reads a table's objects with the SerDe its StorageDescriptor names, and so does this:
Parquet (ParquetHiveSerDe, what awswrangler and Workbench write), delimited text (LazySimpleSerDe,
with its field delimiter), CSV (OpenCSVSerde, with its separator, quote and escape) and JSON lines
(the OpenX and Hive JSON SerDes). A table whose StorageDescriptor leaves its SerDe or its input
format empty (made through the Glue API with only `classification`) fails the query as Athena's
does, HIVE_UNKNOWN_ERROR: Unable to create input format. A table in any other format (ORC, Avro,
Ion, ...) fails it as NOT_SUPPORTED, naming its SerDe, and an object its format cannot read fails
it as Athena's does (HIVE_CANNOT_OPEN_SPLIT, HIVE_CURSOR_ERROR): never rows read in the wrong
format."""

from __future__ import annotations

import bz2
import csv
import datetime
import decimal
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from harness.sim.sql import QueryFailed, Table, presto_view_text

if TYPE_CHECKING:
    from moto.glue.models import FakeTable, GlueBackend
    from moto.s3.models import S3Backend

RowSource = Callable[[], list[list[str | None]]]
Rows = list[list[str | None]]

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")
READABLE = "Parquet (ParquetHiveSerDe), text (LazySimpleSerDe, OpenCSVSerde) and JSON (JsonSerDe)"


@dataclass(frozen=True)
class StorageFormat:
    """How the objects of a table (or of one of its partitions) are read."""

    kind: str  # parquet, opencsv, text (LazySimpleSerDe) or json
    delimiter: str = ","
    quote: str = '"'
    escape: str | None = None
    null: str | None = None  # LazySimpleSerDe's serialization.null.format
    skip: int = 0  # header lines at the top of each object (text formats)
    ignore_malformed: bool = False  # the OpenX JSON SerDe's ignore.malformed.json


def storage_format(descriptor: dict[str, Any], parameters: dict[str, Any], table: str) -> StorageFormat:
    """The format a StorageDescriptor names (its SerDe), with the table's Parameters
    (skip.header.line.count). QueryFailed when it leaves its SerDe or a format empty, or names one Athena
    does not read here."""
    serde = descriptor.get("SerdeInfo") or {}
    library = serde.get("SerializationLibrary") or ""
    options = {str(k): str(v) for k, v in (serde.get("Parameters") or {}).items()}
    skip = int(parameters.get("skip.header.line.count", "0") or 0)
    if str(parameters.get("table_type", "")).upper() in ("ICEBERG", "DELTA", "HUDI"):
        # open table formats keep no SerDe in Glue, and Athena reads them: the simulator does not
        raise QueryFailed("NOT_SUPPORTED", f"the simulator does not read {parameters['table_type']} tables ({table})")
    if not (library and descriptor.get("InputFormat") and descriptor.get("OutputFormat")):
        # AWS Knowledge Center, "Why do I get 'unable to create input format' in Athena?"
        # (repost.aws/knowledge-center/athena-unable-to-create-input-format): a table made outside
        # Athena and the crawlers with its input format, output format or SerDe library empty.
        raise QueryFailed("HIVE_UNKNOWN_ERROR", "Unable to create input format")
    if library == PARQUET_SERDE:
        return StorageFormat("parquet")
    if library == LAZY_SIMPLE_SERDE:
        # Hive's LazySimpleSerDe: field.delim, else serialization.format, else Ctrl-A; a value that
        # parses as a byte is that byte ("1" is \x01), else its first character
        delimiter = _delimiter_byte(options.get("field.delim") or options.get("serialization.format"), "\x01")
        escape = options.get("escape.delim") or None
        return StorageFormat(
            "text", delimiter, escape=escape, null=options.get("serialization.null.format", "\\N"), skip=skip
        )
    if library == OPEN_CSV_SERDE:
        return StorageFormat(
            "opencsv",
            options.get("separatorChar") or ",",
            quote=options.get("quoteChar") or '"',
            escape=options.get("escapeChar") or "\\",
            skip=skip,
        )
    if library in JSON_SERDES:
        return StorageFormat("json", ignore_malformed=options.get("ignore.malformed.json", "").lower() == "true")
    raise QueryFailed(
        "NOT_SUPPORTED",
        f"the simulator reads {READABLE} tables; {table} is stored with {library}",
    )


def _delimiter_byte(value: str | None, default: str) -> str:
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        return value[0]
    return chr(number % 256) if -128 <= number <= 127 else value[0]  # Java's byte: -1 is \xff


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
        return Table(database, name, columns, rows=lambda: self._stored_rows(database, found, spec, columns))

    def _stored_rows(
        self, database: str, found: FakeTable, spec: dict[str, Any], columns: list[tuple[str, str]]
    ) -> Rows:
        """The table's rows from S3: the objects under its Location, or under each registered
        partition's (with the partition's values as its partition columns), as Athena reads them."""
        descriptor = spec.get("StorageDescriptor") or {}
        parameters = spec.get("Parameters") or {}
        name = f"{database}.{spec.get('Name', found.name)}"
        keys = [k["Name"] for k in spec.get("PartitionKeys") or []]
        data = columns[: len(columns) - len(keys)]
        if not keys:
            return self._read(descriptor.get("Location", ""), storage_format(descriptor, parameters, name), data)
        if str(parameters.get("projection.enabled", "")).lower() == "true":
            raise QueryFailed(
                "NOT_SUPPORTED", f"the simulator reads registered partitions only; {name} uses projection"
            )
        rows: Rows = []
        for partition in found.partitions.values():  # Athena reads the partitions Glue holds, no others
            held = partition.as_dict()
            values = [str(v) for v in held.get("Values") or []]
            own = held.get("StorageDescriptor") or {}
            location = own.get("Location") or (
                descriptor.get("Location", "").rstrip("/")
                + "/"
                + "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))
            )
            kind = own if own.get("SerdeInfo") or own.get("InputFormat") else descriptor
            read = self._read(location, storage_format(kind, parameters, name), data)
            width, tail = len(data), (values + [None] * len(keys))[: len(keys)]
            rows.extend((row + [None] * width)[:width] + tail for row in read)
        return rows

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
                    spec = t.as_dict()
                    held = (spec.get("StorageDescriptor") or {}).get("Columns") or []
                    for i, c in enumerate(held + (spec.get("PartitionKeys") or []), start=1):
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

    def _objects(self, location: str) -> list[tuple[str, bytes]]:
        """(s3 URI, body) of each data object under `location`, a folder, by key: the objects in
        it and in its subfolders, less hidden ones (a name or folder starting with _ or .), folder
        markers and empty objects, as Athena skips them."""
        bucket_name, _, prefix = re.sub(r"^s3[an]?://", "", location).partition("/")
        prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        try:
            bucket = self._s3().get_bucket(bucket_name)
        except Exception:  # a table whose bucket is gone reads as empty, as Athena's does
            return []
        found = []
        for key in sorted(k for k in bucket.keys.keys() if k.startswith(prefix)):
            if key.endswith("/") or any(part.startswith(("_", ".")) for part in key[len(prefix) :].split("/")):
                continue
            body = bucket.keys[key].value
            if body:
                found.append((f"s3://{bucket_name}/{key}", body))
        return found

    def _read(self, location: str, form: StorageFormat, columns: list[tuple[str, str]]) -> Rows:
        rows: Rows = []
        for uri, body in self._objects(location):
            if form.kind == "parquet":
                rows.extend(_parquet_rows(uri, body, columns))
                continue
            text = _decompressed(uri, body).decode("utf-8", "replace")
            if form.kind == "json":
                rows.extend(_json_rows(uri, text, columns, form))
            elif form.kind == "text":
                rows.extend(_text_rows(text, columns, form))
            else:  # opencsv
                reader = csv.reader(
                    io.StringIO(text), delimiter=form.delimiter, quotechar=form.quote, escapechar=form.escape
                )
                rows.extend(_typed(r, columns) for r in list(reader)[form.skip :])
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


def _decompressed(uri: str, body: bytes) -> bytes:
    """A text object's bytes: Athena picks the codec by the name's extension."""
    codec = uri.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    readers: dict[str, Callable[[bytes], bytes]] = {
        "gz": gzip.decompress,
        "bz2": bz2.decompress,
        "deflate": zlib.decompress,
    }
    if codec in ("zst", "zstd", "snappy", "lz4", "lzo"):
        raise QueryFailed("NOT_SUPPORTED", f"the simulator reads text compressed as gz, bz2 or deflate; not {uri}")
    if codec not in readers:
        return body
    try:
        return readers[codec](body)
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise QueryFailed("HIVE_CURSOR_ERROR", f"{err} ({uri})") from None


def _is_string(kind: str) -> bool:
    return kind.lower().startswith(("string", "varchar", "char"))


def _typed(fields: list[str], columns: list[tuple[str, str]]) -> list[str | None]:
    """A text row's fields: an empty field is NULL but in a string column, as Hive's SerDes read it."""
    return [v if v != "" or (i < len(columns) and _is_string(columns[i][1])) else None for i, v in enumerate(fields)]


def _text_rows(text: str, columns: list[tuple[str, str]], form: StorageFormat) -> Rows:
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    rows: Rows = []
    for line in lines[form.skip :]:
        fields = _split(line, form.delimiter, form.escape)
        rows.append([None if v == form.null else v for v in _typed(fields, columns)])
    return rows


def _split(line: str, delimiter: str, escape: str | None) -> list[str]:
    if not escape or escape not in line:
        return line.split(delimiter)
    fields, current, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == escape and i + 1 < len(line):
            current.append(line[i + 1])
            i += 2
            continue
        if ch == delimiter:
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current))
    return fields


def _json_rows(uri: str, text: str, columns: list[tuple[str, str]], form: StorageFormat) -> Rows:
    rows: Rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"A JSONObject text must begin with '{{' at 1 [character 2 line 1]: {line[:40]}")
        except ValueError as err:
            if form.ignore_malformed:
                rows.append([None] * len(columns))
                continue
            raise QueryFailed(
                "HIVE_CURSOR_ERROR", f"Row is not a valid JSON Object - JSONException: {err} ({uri})"
            ) from None
        fields = {str(k).lower(): v for k, v in record.items()}  # the SerDes match names case-insensitively
        rows.append([athena_text(fields.get(n.lower())) for n, _ in columns])
    return rows


def _parquet_rows(uri: str, body: bytes, columns: list[tuple[str, str]]) -> Rows:
    """A Parquet object's rows (Snappy or any codec pyarrow reads), its columns matched to the
    table's by name, case-insensitively, as Athena matches them; a column it lacks is NULL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Arrow reads a copy it owns: given the object's bytes, its readers hold a Python object and
    # may drop it on one of Arrow's threads while the interpreter exits (apache/arrow#34314: the
    # simulator then aborted at exit, "terminate called without an active exception")
    owned = pa.BufferOutputStream()
    owned.write(body)
    try:
        data = pq.read_table(pa.BufferReader(owned.getvalue()))
    except (pa.ArrowException, OSError) as err:
        raise QueryFailed(
            "HIVE_CANNOT_OPEN_SPLIT",
            f"Error opening Hive split {uri} (offset=0, length={len(body)}): {uri} is not a valid Parquet file ({err})",
        ) from None
    names = {n.lower(): i for i, n in enumerate(data.column_names)}
    values = [
        data.column(names[n.lower()]).to_pylist() if n.lower() in names else [None] * data.num_rows for n, _ in columns
    ]
    return [[athena_text(column[i]) for column in values] for i in range(data.num_rows)]


def athena_text(value: object) -> str | None:
    """A value as Athena writes it in a result (and as SQLite reads it back into its column):
    booleans true/false, timestamps 2024-01-31 12:00:00.000 (in UTC when the file says so),
    arrays [1, 2], maps and structs {a=1}."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # a map, as pyarrow gives it
            return "{" + ", ".join(f"{k}={_nested(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return str(value)


def _nested(value: object) -> str:
    text = athena_text(value)
    return "null" if text is None else text
