"""Service Quotas, which moto does not keep for these services: the simulated account's quotas.

AWS's defaults are the shipped quota table's (ListAWSDefaultServiceQuotas). The profile's values
are the account's applied ones, and ListServiceQuotas lists them only where they differ from the
default: AWS documents that it may leave out a quota still at its default (Service Quotas API
Reference, ListServiceQuotas), so a reader of the applied list alone misses it.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

from harness.quotas import DEFAULT_TABLE, Quota, QuotaTable, load_table
from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.replies import Reply


@lru_cache(maxsize=1)
def default_quotas() -> QuotaTable:
    return load_table(DEFAULT_TABLE)


def quota_code(name: str) -> str:
    """A stable stand-in for AWS's L-XXXXXXXX code of a quota, made from its name."""
    return f"L-{zlib.crc32(name.encode()):08X}"


def handle(call: Call, applied: QuotaTable) -> Reply | None:
    if call.operation not in ("ListServiceQuotas", "ListAWSDefaultServiceQuotas"):
        return None
    service = str(call.params.get("ServiceCode", ""))
    defaults = {q.quota_name: q for q in default_quotas().rows() if q.quota_name and q.service == service}
    if call.operation == "ListAWSDefaultServiceQuotas":
        listed = list(defaults.values())
    else:
        listed = [
            q
            for q in applied.rows()
            if q.quota_name
            and q.service == service
            and (q.quota_name not in defaults or defaults[q.quota_name].concurrency != q.concurrency)
        ]
    return errors.ok({"Quotas": [_entry(call, service, q) for q in listed if q.concurrency is not None]})


def _entry(call: Call, service: str, quota: Quota) -> dict:
    name = quota.quota_name or ""
    return {
        "ServiceCode": service,
        "ServiceName": service,
        "QuotaName": name,
        "QuotaCode": quota_code(name),
        "QuotaArn": f"arn:aws:servicequotas:{call.region}:{call.account}:{service}/{quota_code(name)}",
        "Value": float(quota.concurrency or 0),
        "Unit": "None",
        "Adjustable": quota.adjustable,
        "GlobalQuota": False,
    }
