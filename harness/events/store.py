"""Reading a run's events back (also while the run is still writing them)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pandas as pd

from harness.events.recorder import UNWRITTEN_GLOB
from harness.events.schema import COLUMNS


def _db_path(path: str | Path) -> Path:
    path = Path(path)
    return path / "events.db" if path.is_dir() else path


def _open(path: str | Path) -> sqlite3.Connection:
    path = _db_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no events database at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def _unwritten(path: Path, kinds: list[str] | None) -> pd.DataFrame | None:
    """Rows a recorder could not commit and kept beside the database (see Recorder._spill)."""
    rows = []
    for spill in sorted(path.parent.glob(UNWRITTEN_GLOB)):
        rows += [json.loads(line) for line in spill.read_text().splitlines() if line.strip()]
    if kinds:
        rows = [row for row in rows if row["kind"] in kinds]
    return pd.DataFrame(rows, columns=list(COLUMNS)) if rows else None


def load_events(path: str | Path, kinds: list[str] | None = None) -> pd.DataFrame:
    """All events (or those of the given kinds) as a DataFrame, in the order they were written."""
    with contextlib.closing(_open(path)) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return pd.DataFrame(
                columns=["id", *COLUMNS]
            )  # the recorder has opened the file, not yet written its schema
        query, params = "SELECT * FROM events", []
        if kinds:
            query += f" WHERE kind IN ({', '.join('?' * len(kinds))})"
            params = list(kinds)
        events = pd.read_sql_query(query + " ORDER BY id", db, params=params)
    spilled = _unwritten(_db_path(path), kinds)
    if spilled is not None:
        spilled = spilled.sort_values("mono_time", kind="stable")
        first = int(events.id.max()) + 1 if len(events) else 1
        spilled.insert(0, "id", range(first, first + len(spilled)))
        events = pd.concat([events, spilled], ignore_index=True)
    return events


def load_meta(path: str | Path) -> dict:
    with contextlib.closing(_open(path)) as db:
        try:
            rows = db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {key: json.loads(value) for key, value in rows}
