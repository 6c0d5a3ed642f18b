"""Reading a run's events back (also while the run is still writing them)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd

from harness.events.schema import COLUMNS


def _open(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if path.is_dir():
        path = path / "events.db"
    if not path.exists():
        raise FileNotFoundError(f"no events database at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def load_events(path: str | Path, kinds: list[str] | None = None) -> pd.DataFrame:
    """All events (or those of the given kinds) as a DataFrame, in the order they were written."""
    with _open(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return pd.DataFrame(columns=["id", *COLUMNS])  # the recorder has opened the file, not yet written its schema
        query, params = "SELECT * FROM events", []
        if kinds:
            query += f" WHERE kind IN ({', '.join('?' * len(kinds))})"
            params = list(kinds)
        return pd.read_sql_query(query + " ORDER BY id", db, params=params)


def load_meta(path: str | Path) -> dict:
    with _open(path) as db:
        try:
            rows = db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {key: json.loads(value) for key, value in rows}
