"""`harness quotas sync`: the account's applied quotas, from the Service Quotas API, written as
an override file a scenario can use (`quota_files = ["quotas.local.toml"]`).

Only quotas the table names (`quota_name`) are synced: the value becomes the row's concurrency
limit (instance and active-query counts) and keeps the table's rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.quotas import Quota, QuotaTable

if TYPE_CHECKING:
    from botocore.client import BaseClient

SERVICE_CODES = {"sagemaker": "sagemaker", "athena": "athena", "glue": "glue"}


def applied_quotas(client: BaseClient, service_code: str) -> dict[str, dict[str, Any]]:
    """QuotaName -> the Service Quotas entry, every page."""
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_service_quotas").paginate(ServiceCode=service_code):
        for quota in page.get("Quotas", []):
            found[quota["QuotaName"]] = quota
    return found


def sync(client: BaseClient, table: QuotaTable, say: Callable[[str], object] = print) -> list[Quota]:
    named = [q for q in table.rows() if q.quota_name]
    overrides = []
    for service in sorted({q.service for q in named}):
        listed = applied_quotas(client, SERVICE_CODES.get(service, service))
        for quota in named:
            if quota.service != service or not quota.quota_name:
                continue
            entry = listed.get(quota.quota_name)
            if entry is None:
                say(f"not listed by Service Quotas: {service} '{quota.quota_name}' (keeping {quota.concurrency})")
                continue
            value = int(entry["Value"])
            overrides.append(
                Quota(
                    quota.service,
                    quota.operation,
                    quota.rate,
                    quota.burst,
                    value,
                    entry.get("Adjustable", True),
                    f"service-quotas {entry.get('QuotaCode', '?')} applied value, synced {time.strftime('%Y-%m-%d')}",
                    quota.quota_name,
                    quota.rate_basis,
                )
            )
            say(f"{service}.{quota.operation}: '{quota.quota_name}' = {value} (table had {quota.concurrency})")
    return overrides


def to_toml(quotas: list[Quota]) -> str:
    import json

    lines = [
        "# Written by `harness quotas sync`: the account's applied quotas. Use it from a scenario",
        '# with quota_files = ["<this file>"].',
    ]
    for q in quotas:
        lines += ["", "[[quota]]", f"service = {json.dumps(q.service)}", f"operation = {json.dumps(q.operation)}"]
        if q.rate is not None:
            lines += [f"rate = {q.rate!r}", f"rate_basis = {json.dumps(q.rate_basis)}"]
        if q.burst is not None:
            lines.append(f"burst = {q.burst!r}")
        lines += [
            f"concurrency = {q.concurrency}",
            f"adjustable = {'true' if q.adjustable else 'false'}",
            f"quota_name = {json.dumps(q.quota_name)}",
            f"source = {json.dumps(q.source)}",
        ]
    return "\n".join(lines) + "\n"
