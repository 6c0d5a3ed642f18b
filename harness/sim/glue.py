"""Glue Data Catalog calls where moto differs from AWS in a way a pipeline feels.

- GetTables pages (at most 100 tables a page, moto answers all at once), so listing a database
  costs more calls as it grows, as Workbench's listings do on a busy account.
- UpdateTable honours VersionId: a write based on a version that another writer has since
  replaced is refused with ConcurrentModificationException, which is how read-modify-write of
  table parameters collides between concurrent pipelines.
- GetTable and GetTables answer UpdateTime for every table, as AWS does (moto only once the
  table has been updated): a table never updated was last updated when it was created.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.paging import page, page_window
from harness.sim.replies import ApiError, Reply
from harness.sim.wire.values import epoch

if TYPE_CHECKING:
    from moto.glue.models import FakeDatabase, FakeTable, GlueBackend

PAGE_MAX = 100
CONFLICT_MESSAGE = "Update table failed due to concurrent modifications."


def _backend(call: Call) -> GlueBackend:
    from moto.glue.models import glue_backends

    return glue_backends[call.account][call.region]


def _table(table: FakeTable) -> dict:
    """A table as GetTable and GetTables answer it: dates as Unix seconds (moto's naive datetimes
    are UTC), UpdateTime always."""
    answer = table.as_dict()
    answer.setdefault("UpdateTime", answer.get("CreateTime"))
    for key in ("CreateTime", "UpdateTime", "LastAccessTime", "LastAnalyzedTime"):
        if answer.get(key) is not None:
            answer[key] = epoch(answer[key])
    return answer


def _database(call: Call, name: str) -> FakeDatabase | ApiError:
    """The database, or AWS's answer that there is none."""
    database = _backend(call).databases.get(name)
    if database is None:
        return errors.error(call, 400, "EntityNotFoundException", f"Database {name} not found.")
    return database


def get_tables(call: Call) -> Reply:
    params = call.params
    database = _database(call, params.get("DatabaseName", ""))
    if isinstance(database, ApiError):
        return database
    try:
        tables = sorted(
            _backend(call).get_tables(params["DatabaseName"], params.get("Expression")), key=lambda t: t.name
        )
    except re.error as err:
        return errors.error(
            call, 400, "InvalidInputException", f"Expression {params.get('Expression')!r} is not valid: {err}"
        )
    try:
        start, size = page_window(params, PAGE_MAX, 1, PAGE_MAX)
    except ValueError as err:
        return errors.error(call, 400, "InvalidInputException", str(err))
    return errors.ok(page([_table(t) for t in tables], start, size, "TableList"))


def get_table(call: Call) -> Reply:
    params = call.params
    database = _database(call, params.get("DatabaseName", ""))
    if isinstance(database, ApiError):
        return database
    name = params.get("Name", "")
    table = database.tables.get(name)
    if table is None:
        return errors.error(call, 400, "EntityNotFoundException", f"Table {name} not found.")
    return errors.ok({"Table": _table(table)})


def update_table(call: Call) -> Reply | None:
    """Refuse a stale VersionId; else None, and moto updates (making a new version)."""
    params = call.params
    version = params.get("VersionId")
    if version is None:
        return None
    database = _database(call, params.get("DatabaseName", ""))
    if isinstance(database, ApiError):
        return database
    name = (params.get("TableInput") or {}).get("Name", "")
    table = database.tables.get(name)
    if table is None:
        return errors.error(call, 400, "EntityNotFoundException", f"Table {name} not found.")
    if str(version) != str(table._current_version):
        return errors.error(call, 400, "ConcurrentModificationException", CONFLICT_MESSAGE)
    return None


HANDLERS = {"GetTable": get_table, "GetTables": get_tables, "UpdateTable": update_table}


def handle(call: Call) -> Reply | None:
    """The Glue calls answered here (None: moto's)."""
    handler = HANDLERS.get(call.operation)
    return handler(call) if handler is not None else None
