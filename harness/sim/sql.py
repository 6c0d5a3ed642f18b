"""Athena's answers, computed for real: each table a query names is loaded from the simulated
account (the Glue table's columns, the CSV objects under its S3 location, or a feature group's
offline-store rows) into an in-memory SQLite database, and the query runs there.

SQLite is not Presto: the statements a pipeline sends to describe and sample its data (COUNT,
SELECT ... LIMIT, MIN/MAX/AVG, stddev, GROUP BY value counts, views) run alike; a statement
SQLite cannot run fails as NOT_SUPPORTED and says so, rather than answering something made up.
Two Presto forms SQLite lacks are rewritten first (`presto_to_sqlite`): a parenthesised member of
a UNION, INTERSECT or EXCEPT (with its own ORDER BY and LIMIT), and TABLESAMPLE BERNOULLI|SYSTEM
after a table's name.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STATEMENT_TYPES = ("DDL", "DML", "UTILITY")
KINDS = ("ddl", "count", "select", "aggregate")
# A string literal ('it''s'), a quoted name ("a--b", `a--b`) or a comment, whichever starts first:
# -- and /* inside quotes are text, and a quote inside a comment starts nothing.
_QUOTED_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|--[^\n]*|/\*.*?\*/", re.S)
_AGGREGATE = re.compile(
    r"\b(count|sum|avg|min|max|stddev\w*|var\w*|approx_\w+|corr)\s*\(|\bgroup\s+by\b|\bjoin\b", re.I
)
_COUNT_ONLY = re.compile(r"^select\s+count\s*\(\s*\*\s*\)(\s+as\s+\"?\w+\"?)?\s+from\s+[\w\".]+\s*;?\s*$", re.I)
_NAME = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w]*)'
_TABLE_REF = re.compile(rf"\b(from|join)\s+({_NAME}(?:\s*\.\s*{_NAME}){{0,2}})", re.I)
_CREATE_VIEW = re.compile(
    rf"^create\s+(or\s+replace\s+)?view\s+({_NAME}(?:\s*\.\s*{_NAME})?)\s+as\s+(.+)$", re.I | re.S
)
_DROP = re.compile(rf"^drop\s+(table|view)\s+(if\s+exists\s+)?({_NAME}(?:\s*\.\s*{_NAME})?)\s*;?\s*$", re.I)
GLUE_TO_SQLITE = {
    "boolean": "INTEGER",  # true/false are 1/0 in SQLite, as its TRUE and FALSE are
    "bigint": "INTEGER",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "tinyint": "INTEGER",
    "double": "REAL",
    "float": "REAL",
    "real": "REAL",
}
ATHENA_TYPES = {"string": "varchar", "int": "integer"}
# FROM|JOIN name [[AS] alias] TABLESAMPLE BERNOULLI|SYSTEM (percentage), read on masked text
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SAMPLED = re.compile(
    rf"\b(from|join)\s+({_NAME}(?:\s*\.\s*{_NAME}){{0,2}})(?:\s+(?:as\s+)?({_NAME}))?"
    rf"\s+tablesample\s+(?:bernoulli|system)\s*\(\s*({_NUMBER})\s*\)",
    re.I,
)
_SET_OPERATOR_BEFORE = re.compile(r"\b(?:union|intersect|except)(?:\s+(?:all|distinct))?$", re.I)
_MEMBER_END = re.compile(r"\s*(?:$|\)|;|(?:union|intersect|except|limit|offset)\b|order\s+by\b)", re.I)
_QUERY_START = re.compile(r"\s*(?:select|with|values)\b", re.I)
SAMPLE_FUNCTION = "sim_tablesample"
SqliteValue = int | float | str | bytes | None  # what SQLite hands an aggregate's step


class QueryFailed(Exception):
    """The query runs and fails, as Athena's would: `reason` is its StateChangeReason."""

    def __init__(self, error_type: str, message: str, category: int = 2) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type, self.category = error_type, category


@dataclass(frozen=True)
class Statement:
    statement_type: str  # DDL, DML or UTILITY, as GetQueryExecution reports it
    kind: str  # ddl, count, select or aggregate: how long it runs
    sql: str

    @property
    def substatement_type(self) -> str:
        first = re.match(r"[\s(]*(\w+)", self.sql)  # (SELECT ...) UNION ALL (...) is a SELECT
        return first.group(1).upper() if first else "UNKNOWN"


def strip_comments(sql: str) -> str:
    """`sql` with each comment replaced by a space, and string literals and quoted names as they were."""
    return _QUOTED_OR_COMMENT.sub(lambda m: " " if m.group(0)[:1] in ("-", "/") else m.group(0), sql)


def classify(sql: str) -> Statement:
    text = strip_comments(sql).strip()
    first = (text.split(None, 1) or [""])[0].lower()
    if first in ("show", "describe", "explain"):
        return Statement("UTILITY", "ddl", text)
    if first in ("create", "drop", "alter", "msck") and not re.match(
        r"^create\s+table\b.*\bas\s+select\b", text, re.I | re.S
    ):
        return Statement("DDL", "ddl", text)
    if _COUNT_ONLY.match(text):
        return Statement("DML", "count", text)
    return Statement("DML", "aggregate" if _AGGREGATE.search(text) else "select", text)


@dataclass
class Table:
    """What a query needs of a Glue table: its columns, and its rows or its view's SQL."""

    database: str
    name: str
    columns: list[tuple[str, str]]  # (name, Glue type)
    rows: Callable[[], list[list[str | None]]] = lambda: []  # values as text, in column order
    view_sql: str | None = None  # a VIRTUAL_VIEW's original SQL


@dataclass
class Result:
    columns: list[tuple[str, str]]  # (name, Athena type)
    rows: list[list[str | None]] = field(default_factory=list)
    scanned_bytes: int = 0


def unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1] if name[:1] in ('"', "`") and name[-1:] == name[:1] else name.lower()


def split_name(reference: str, database: str) -> tuple[str, str]:
    parts = [unquote(p) for p in re.split(r"\s*\.\s*(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", reference.strip())]
    if len(parts) == 3:  # catalog.database.table
        parts = parts[1:]
    return (parts[0], parts[1]) if len(parts) == 2 else (database, parts[0])


def presto_view_text(sql: str, database: str, columns: list[tuple[str, str]]) -> str:
    """How Athena stores a view in Glue's ViewOriginalText."""
    payload = {
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": n, "type": t} for n, t in columns],
    }
    return "/* Presto View: " + base64.b64encode(json.dumps(payload).encode()).decode() + " */"


def view_sql(original_text: str) -> str:
    match = re.match(r"^/\* Presto View: (\S+) \*/$", original_text.strip())
    if not match:
        return original_text
    return json.loads(base64.b64decode(match.group(1)))["originalSql"]


class _StdDev:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: SqliteValue) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        n = len(self.values)
        if n < 2:
            return None
        mean = sum(self.values) / n
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / (n - 1))


class _Percentile:
    """approx_percentile(x, p): Presto's, exact here (the sample is small)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.p = 0.5

    def step(self, value: SqliteValue, p: int | float | str) -> None:
        self.p = float(p)
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, max(0, round(self.p * (len(ordered) - 1))))]


class _Distinct:
    def __init__(self) -> None:
        self.seen: set[int | float | str | bytes] = set()

    def step(self, value: SqliteValue) -> None:
        if value is not None:
            self.seen.add(value)

    def finalize(self) -> int:
        return len(self.seen)


class _Corr:
    def __init__(self) -> None:
        self.pairs: list[tuple[float, float]] = []

    def step(self, x: SqliteValue, y: SqliteValue) -> None:
        if x is not None and y is not None:
            self.pairs.append((float(x), float(y)))

    def finalize(self) -> float | None:
        n = len(self.pairs)
        if n < 2:
            return None
        mx, my = sum(p[0] for p in self.pairs) / n, sum(p[1] for p in self.pairs) / n
        sxy = sum((x - mx) * (y - my) for x, y in self.pairs)
        sxx, syy = sum((x - mx) ** 2 for x, _ in self.pairs), sum((y - my) ** 2 for _, y in self.pairs)
        return None if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


class Evaluator:
    """Runs one query over the tables `lookup(database, name)` finds (None: no such table).
    TABLESAMPLE draws from `sample` (a seeded generator: the same one gives the same rows)."""

    def __init__(self, lookup: Callable[[str, str], Table | None], sample: random.Random | None = None) -> None:
        self.lookup = lookup
        self.sample = sample if sample is not None else random.Random(0)

    def run(self, sql: str, database: str) -> Result:
        """The query's answer; QueryFailed for every way it can fail, never another exception
        from SQLite (the caller answers AWS-shaped errors, not HTTP 500s)."""
        db = sqlite3.connect(":memory:")
        self.scanned = 0
        self._local: dict[tuple[str, str], str] = {}  # the SQLite name of each Glue table loaded
        try:
            for name, arity, aggregate in (
                ("stddev", 1, _StdDev),
                ("stddev_samp", 1, _StdDev),
                ("approx_percentile", 2, _Percentile),
                ("corr", 2, _Corr),
                ("approx_distinct", 1, _Distinct),
            ):
                # typeshed's _AggregateProtocol steps on one int and finalizes to an int; SQLite
                # passes `arity` values and takes any SQLite value back (None, a float)
                db.create_aggregate(name, arity, aggregate)  # type: ignore[arg-type]  # typeshed: one int in, int out
            # each row in with probability percentage/100, drawn per row as SQLite scans it (not
            # deterministic to SQLite, so it is called once per row, never folded to a constant)
            db.create_function(SAMPLE_FUNCTION, 1, lambda percentage: self.sample.random() * 100 < percentage)
            loaded: dict[tuple[str, str], Table] = {}
            query = self._load(db, sql, database, loaded, depth=0)
            cursor = db.execute(strict_identifiers(query))
            # Athena names an expression without an alias _col0, _col1, ... by position
            names = [d[0] if re.fullmatch(r"\w+", d[0]) else f"_col{i}" for i, d in enumerate(cursor.description or [])]
            rows = cursor.fetchall()
            known = {n.lower(): t for table in loaded.values() for n, t in table.columns}
            columns = [
                (n, ATHENA_TYPES.get(known.get(n.lower(), ""), known.get(n.lower())) or _infer(rows, i))
                for i, n in enumerate(names)
            ]
            booleans = {i for i, (_, kind) in enumerate(columns) if kind == "boolean"}
            return Result(
                columns,
                [[_boolean_text(v) if i in booleans else _text(v) for i, v in enumerate(row)] for row in rows],
                self.scanned,
            )
        except sqlite3.Error as err:
            raise self._failure(err, database) from None
        finally:
            db.close()

    def columns_of(self, sql: str, database: str) -> list[tuple[str, str]]:
        return self.run(sql, database).columns

    def _load(
        self, db: sqlite3.Connection, sql: str, database: str, loaded: dict[tuple[str, str], Table], depth: int
    ) -> str:
        """Create every table the query names in `db`; return the query with its names rewritten.
        A name after FROM or JOIN that is no table (extract(year FROM x), a WITH query's name)
        is left as it is, for SQLite to resolve or refuse."""
        if depth > 8:
            raise QueryFailed("NOT_SUPPORTED", "views nested more than 8 deep")

        def local(key: tuple[str, str]) -> str:
            # the bare table name, so that t.column resolves; qualified where two databases'
            # tables of one name meet in a query. Chosen once, when the table is first loaded.
            if key not in self._local:
                taken = set(self._local.values())
                self._local[key] = f'"{key[1]}"' if f'"{key[1]}"' not in taken else f'"{key[0]}.{key[1]}"'
            return self._local[key]

        def replace(match: re.Match[str]) -> str:
            key = split_name(match.group(2), database)
            if key not in loaded:
                table = self.lookup(*key)
                if table is None:
                    return match.group(0)
                if not table.columns:
                    raise QueryFailed("NOT_SUPPORTED", f"table {key[0]}.{key[1]} has no columns")
                loaded[key] = table
                if table.view_sql is not None:
                    inner = self._load(db, view_sql(table.view_sql), key[0], loaded, depth + 1)
                    db.execute(f"CREATE VIEW {local(key)} AS {strict_identifiers(inner)}")
                else:
                    definitions = ", ".join(f'"{n}" {GLUE_TO_SQLITE.get(t.lower(), "TEXT")}' for n, t in table.columns)
                    db.execute(f"CREATE TABLE {local(key)} ({definitions})")
                    width, rows = len(table.columns), table.rows()
                    self.scanned += sum(len(",".join(v or "" for v in r)) + 1 for r in rows)
                    booleans = [i for i, (_, kind) in enumerate(table.columns) if kind.lower() == "boolean"]
                    values = [list[str | int | None](r)[:width] + [None] * (width - len(r)) for r in rows]
                    for row in values if booleans else []:
                        for i in booleans:  # Hive reads true and false, any case; anything else is NULL
                            row[i] = {"true": 1, "false": 0}.get(str(row[i]).lower())
                    db.executemany(f"INSERT INTO {local(key)} VALUES ({', '.join('?' * width)})", values)
            return f"{match.group(1)} {local(key)}"

        text = presto_to_sqlite(strip_comments(sql).strip().rstrip(";"), database)
        return outside_literals(text, lambda part: _TABLE_REF.sub(replace, part))

    @staticmethod
    def _failure(err: sqlite3.Error, database: str) -> QueryFailed:
        message = str(err)
        column = re.match(r"no such column: (.+)", message)
        if column:
            return QueryFailed("COLUMN_NOT_FOUND", f"line 1:8: Column '{column.group(1)}' cannot be resolved")
        table = re.match(r"no such table: (.+)", message)
        if table:
            name = table.group(1) if "." in table.group(1) else f"{database}.{table.group(1)}"
            return QueryFailed("TABLE_NOT_FOUND", f"line 1:1: Table 'awsdatacatalog.{name}' does not exist")
        return QueryFailed(
            "NOT_SUPPORTED", f"the simulator runs queries on SQLite, which could not run this one: {message}"
        )


def mask_quoted(sql: str) -> str:
    """`sql` with every character inside a string literal or a quoted name replaced by `_`, the
    quotes kept: the same length, so a match on it is a span of `sql`, and nothing quoted reads
    as a keyword or a parenthesis."""
    return _QUOTED_OR_COMMENT.sub(lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 2) + m.group(0)[-1], sql)


def presto_to_sqlite(sql: str, database: str) -> str:
    """`sql` (comments stripped) with the Presto forms SQLite lacks rewritten:

    - `FROM t [AS a] TABLESAMPLE BERNOULLI (p)` (or SYSTEM): `FROM (SELECT * FROM t WHERE
      sim_tablesample(p)) AS a`, each row kept with probability p/100 (SYSTEM samples Presto's
      splits; here rows, as BERNOULLI). A percentage outside 0 to 100 fails as Presto's does.
    - `(SELECT ... ORDER BY ... LIMIT n) UNION ALL (SELECT ...)`: SQLite takes no parentheses
      around a compound's member, so each becomes `SELECT * FROM (...)`, keeping its ORDER BY and
      LIMIT (the same for INTERSECT, EXCEPT, a single parenthesised query, and nested ones).
    """
    mask, pieces, end = mask_quoted(sql), [], 0
    for match in _SAMPLED.finditer(mask):
        start, stop = match.span()
        percentage = float(match.group(4))
        if not 0 <= percentage <= 100:
            line = sql.count("\n", 0, match.start(4)) + 1
            column = match.start(4) - (sql.rfind("\n", 0, match.start(4)) + 1) + 1
            bound = "greater than or equal to 0" if percentage < 0 else "less than or equal to 100"
            raise QueryFailed("NUMERIC_VALUE_OUT_OF_RANGE", f"line {line}:{column}: Sample percentage must be {bound}")
        keyword, table = sql[match.start(1) : match.end(1)], sql[match.start(2) : match.end(2)]
        alias = sql[match.start(3) : match.end(3)] if match.group(3) else '"' + split_name(table, database)[1] + '"'
        pieces += [
            sql[end:start],
            f"{keyword} (SELECT * FROM {table} WHERE {SAMPLE_FUNCTION}({percentage!r})) AS {alias}",
        ]
        end = stop
    sql = "".join(pieces) + sql[end:]
    mask = mask_quoted(sql)
    if re.search(r"\btablesample\b", mask, re.I):
        raise QueryFailed(
            "NOT_SUPPORTED",
            "the simulator samples a table named after FROM or JOIN, as TABLESAMPLE BERNOULLI (p) or"
            " SYSTEM (p) with p a number; not this TABLESAMPLE",
        )
    return _unparenthesise_members(sql, mask)


def _unparenthesise_members(sql: str, mask: str) -> str:
    """`SELECT * FROM ` before each parenthesised query that is a member of a compound query (or
    a query alone): one that opens the statement, a parenthesis or follows UNION, INTERSECT or
    EXCEPT, and is followed by the end, a closing parenthesis, another set operator or the
    compound's own ORDER BY, LIMIT or OFFSET."""
    groups: dict[int, int] = {}  # ( at -> its ) at
    opened: list[int] = []
    for i, ch in enumerate(mask):
        if ch == "(":
            opened.append(i)
        elif ch == ")" and opened:
            groups[opened.pop()] = i

    def is_query(start: int) -> bool:
        inner = start + 1
        while inner < len(mask) and mask[inner].isspace():
            inner += 1
        if inner in groups:  # ((SELECT ...) UNION ...)
            return is_query(inner)
        return _QUERY_START.match(mask, start + 1) is not None

    def opens_member(start: int) -> bool:
        before = mask[:start].rstrip()
        return not before or before.endswith("(") or _SET_OPERATOR_BEFORE.search(before[-24:]) is not None

    members = [
        start
        for start, stop in groups.items()
        if is_query(start) and opens_member(start) and _MEMBER_END.match(mask, stop + 1)
    ]
    for start in sorted(members, reverse=True):
        sql = sql[:start] + "SELECT * FROM " + sql[start:]
    return sql


def outside_literals(sql: str, change: Callable[[str], str]) -> str:
    """Apply `change` to the parts of `sql` outside single-quoted string literals ('it''s' is
    one literal), so that FROM or JOIN inside a string are left alone."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    return "".join(part if i % 2 else change(part) for i, part in enumerate(parts))


def strict_identifiers(sql: str) -> str:
    """Presto's "name" is always an identifier; SQLite reads a "name" that matches no column as
    a string (so a misspelt column would answer its own name). Backticks are identifiers only."""
    out, quote = [], None
    for ch in sql:
        if quote is None and ch in ("'", '"'):
            quote = ch
            out.append("`" if ch == '"' else ch)
        elif ch == quote:
            quote = None
            out.append("`" if ch == '"' else ch)
        else:
            out.append(ch)
    return "".join(out)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _boolean_text(value: object) -> str | None:
    if value in (0, 1) and not isinstance(value, str):
        return "true" if value else "false"
    return _text(value)


def _infer(rows: list[tuple[Any, ...]], index: int) -> str:
    values = [r[index] for r in rows if r[index] is not None]
    if values and all(isinstance(v, int) for v in values):
        return "bigint"
    if values and all(isinstance(v, (int, float)) for v in values):
        return "double"
    return "varchar"


def parse_create_view(sql: str) -> tuple[bool, str, str] | None:
    """(or replace, name, select) for CREATE [OR REPLACE] VIEW name AS select, else None."""
    match = _CREATE_VIEW.match(sql.strip().rstrip(";"))
    return None if match is None else (bool(match.group(1)), match.group(2), match.group(3).strip())


def parse_drop(sql: str) -> tuple[str, bool, str] | None:
    """(table or view, if exists, name) for DROP TABLE|VIEW [IF EXISTS] name, else None."""
    match = _DROP.match(sql.strip())
    return None if match is None else (match.group(1).lower(), bool(match.group(2)), match.group(3))
