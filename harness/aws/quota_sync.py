"""`harness quotas sync`: the account's applied quotas, from the Service Quotas API, written as
an override file a scenario can use (`quota_files = ["quotas.local.toml"]`).

Only quotas the table names (`quota_name`) are synced: the value becomes the row's concurrency
limit (instance and active-query counts) and keeps the table's rate.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from harness.quotas import Quota, QuotaTable

if TYPE_CHECKING:
    from botocore.client import BaseClient

SERVICE_CODES = {"sagemaker": "sagemaker", "athena": "athena", "glue": "glue"}
INSTANCE_QUOTA = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+ ")  # "ml.m5.large for training job usage"


def account_quotas(client: BaseClient, service_code: str) -> dict[str, dict[str, Any]]:
    """QuotaName -> the account's quota: its applied value where Service Quotas lists one, else
    AWS's default. ListServiceQuotas may leave out a quota still at its default, which
    ListAWSDefaultServiceQuotas has (Service Quotas API Reference), so both are read, every page,
    and matched by QuotaCode. Each entry says which it is: `Applied` True or False."""
    found: dict[str, dict[str, Any]] = {}
    try:
        for page in client.get_paginator("list_aws_default_service_quotas").paginate(ServiceCode=service_code):
            for quota in page.get("Quotas", []):
                found[quota["QuotaCode"]] = {**quota, "Applied": False}
    except ClientError as err:  # refused to the caller: the applied values are still worth reading
        if err.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
            raise
    for page in client.get_paginator("list_service_quotas").paginate(ServiceCode=service_code):
        for quota in page.get("Quotas", []):
            found[quota["QuotaCode"]] = {**quota, "Applied": True}
    return {quota["QuotaName"]: quota for quota in found.values()}


def named_for(quota_name: str, instance_type: str | None) -> str:
    """A table row's quota name for the run's instance type: the shipped rows name ml.m5.large,
    and SageMaker's instance quotas are one per type ("ml.c5.xlarge for endpoint usage")."""
    if instance_type and INSTANCE_QUOTA.match(quota_name):
        return INSTANCE_QUOTA.sub(instance_type + " ", quota_name, count=1)
    return quota_name


def sync(
    client: BaseClient, table: QuotaTable, say: Callable[[str], object] = print, instance_type: str | None = None
) -> list[Quota]:
    named = [q for q in table.rows() if q.quota_name]
    overrides = []
    for service in sorted({q.service for q in named}):
        listed = account_quotas(client, SERVICE_CODES.get(service, service))
        for quota in named:
            if quota.service != service or not quota.quota_name:
                continue
            name = named_for(quota.quota_name, instance_type)
            entry = listed.get(name)
            if entry is None:
                say(f"not listed by Service Quotas: {service} '{name}' (keeping {quota.concurrency})")
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
                    f"service-quotas {entry.get('QuotaCode', '?')} "
                    f"{'applied' if entry['Applied'] else 'default'} value, synced {time.strftime('%Y-%m-%d')}",
                    name,
                    quota.rate_basis,
                )
            )
            say(f"{service}.{quota.operation}: '{name}' = {value} (table had {quota.concurrency})")
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
