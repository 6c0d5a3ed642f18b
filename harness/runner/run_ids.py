"""Run ids and the names made from them: every resource a run makes is named with its prefix,
and the prefix of a name says which run made it."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime, timezone

HARNESS_PREFIX = "hx"  # every run's prefix starts with it
_RUN_PREFIX = re.compile(r"hx[0-9a-z]*")  # up to the '-', '_' or '/' that follows a run's prefix in a name


def new_run_id() -> str:
    """Sortable by time, unique: 20261126T060512Z-3fa9."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


def run_prefix(run_id: str) -> str:
    """The name prefix of every resource of a run: 'hx' + the run id's digits and hex."""
    stamp, _, suffix = run_id.partition("-")
    return "hx" + stamp[4:8] + stamp[9:15] + suffix.lower()


def run_started(run_id: str) -> float | None:
    """The epoch time a run id was made (20261126T060512Z-3fa9), or None if it is not one."""
    try:
        return datetime.strptime(run_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def run_prefix_of(name: str) -> str | None:
    """The run prefix a resource's name starts with ('hx11260605123fa9-n4w0i1' -> 'hx11260605123fa9'),
    or None for a name no run makes. Names put '-', '_' (Glue) or '/' (S3, log streams) after it."""
    found = _RUN_PREFIX.match(name)
    return found.group() if found else None
