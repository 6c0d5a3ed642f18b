"""The quota table: what an AWS account allows, per service and operation, as data.

Rows come from TOML (`[[quota]]` tables). Rates are in AWS time (calls per AWS second); the
time scale is applied by whoever enforces them (the simulator, the limiter). An operation is
either an exact API name (`CreateTrainingJob`) or a family (`Describe*`, `*`); the most
specific row wins. Each family row applies per operation: `Describe*` at 20/s gives every
Describe call its own 20/s bucket, which is how AWS meters SageMaker's control plane.

Each row says how much its rate can be trusted (`rate_basis`): `published` (AWS documents the
number) and `synced` (read from the account's Service Quotas) are ceilings the limiter never
exceeds; an `estimate` is where it starts, and it may probe above it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path

from harness.config import Section, read_toml

DEFAULT_TABLE = Path(__file__).with_name("quotas.toml")
RATE_BASES = ("published", "synced", "estimate")


@dataclass(frozen=True)
class Quota:
    service: str
    operation: str
    rate: float | None = None  # calls per AWS second; None: no rate quota
    burst: float | None = None  # bucket size in calls; defaults to max(1, rate)
    concurrency: int | None = None  # resources this create call may have in progress at once
    adjustable: bool = True
    source: str = "estimate"  # a documentation URL, or 'estimate' where AWS publishes no number
    quota_name: str | None = None  # its name in the Service Quotas API, where it is listed there
    rate_basis: str = "estimate"  # published, synced (ceilings) or estimate (a starting point)

    @property
    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate or 1.0)

    @property
    def rate_is_ceiling(self) -> bool:
        return self.rate_basis in ("published", "synced")


def most_specific(rows, service: str, operation: str):
    """The row whose service and operation patterns match most specifically (exact beats glob)."""
    best, best_rank = None, None
    for row in rows:
        if not (fnmatch.fnmatchcase(service, row.service) and fnmatch.fnmatchcase(operation, row.operation)):
            continue
        rank = ("*" not in row.service, "*" not in row.operation, len(row.operation.rstrip("*")))
        if best_rank is None or rank > best_rank:
            best, best_rank = row, rank
    return best


def parse_rows(rows: list[Section]) -> list[Quota]:
    quotas = []
    for row in rows:
        quota = Quota(
            service=row.string("service", required=True),
            operation=row.string("operation", required=True),
            rate=row.number("rate", above=0.0),
            burst=row.number("burst", minimum=1.0),
            concurrency=row.integer("concurrency", minimum=1),
            adjustable=row.boolean("adjustable", True),
            source=row.string("source", "estimate"),
            quota_name=row.string("quota_name"),
            rate_basis=row.string("rate_basis", "estimate", choices=RATE_BASES),
        )
        if quota.rate is None and quota.concurrency is None:
            raise row.error("rate", None, "a rate, a concurrency limit, or both")
        row.done()
        quotas.append(quota)
    return quotas


def load_table(path: str | Path = DEFAULT_TABLE) -> "QuotaTable":
    root = Section(read_toml(path), str(path))
    quotas = parse_rows(root.sections("quota"))
    root.done()
    return QuotaTable(quotas)


class QuotaTable:
    def __init__(self, quotas: list[Quota]):
        self.quotas = list(quotas)
        self._found: dict[tuple[str, str], Quota | None] = {}

    def lookup(self, service: str, operation: str) -> Quota | None:
        """The most specific row for this call, or None when nothing limits it. Remembered per
        call name: the limiter asks on every attempt, and a table does not change."""
        key = (service, operation)
        if key not in self._found:
            self._found[key] = most_specific(self.quotas, service, operation)
        return self._found[key]

    def overridden(self, overrides: list[Quota]) -> "QuotaTable":
        """A new table where each override replaces the row with the same service and operation."""
        keyed = {(q.service, q.operation): q for q in self.quotas}
        for quota in overrides:
            keyed[(quota.service, quota.operation)] = quota
        return QuotaTable(list(keyed.values()))

    def scaled(self, time_scale: float) -> "QuotaTable":
        """Rates in wall time: at time_scale 1/60 one wall second is 60 AWS seconds."""
        return QuotaTable([replace(q, rate=None if q.rate is None else q.rate / time_scale) for q in self.quotas])

    def rows(self) -> list[Quota]:
        return sorted(self.quotas, key=lambda q: (q.service, q.operation))
