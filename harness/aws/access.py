"""What `harness doctor` asks of IAM and Lake Formation before a run: may the caller make the run's
calls and pass its role to SageMaker, may the role do what SageMaker does as it, and, where Lake
Formation governs the Data Catalog, do both hold its grants. Every call here only reads.

The permission checks use iam:SimulatePrincipalPolicy, which evaluates the principal's identity
policies (not resource policies, permission boundaries or SCPs: a run can still be refused where
those deny, and the finding says so).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws.permissions import Needed

if TYPE_CHECKING:
    from botocore.client import BaseClient

SAGEMAKER = "sagemaker.amazonaws.com"
ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/")
IAM_ALLOWED = "IAM_ALLOWED_PRINCIPALS"


class CannotCheck(Exception):
    """The check itself was refused (the caller may not simulate, or list grants)."""


def principal_of(iam: BaseClient, caller_arn: str) -> str | None:
    """The IAM principal behind STS's caller ARN, as SimulatePrincipalPolicy takes it: a role for
    an assumed-role session (its ARN with its path, from GetRole), the user itself, None for the
    account's root user (it may do everything)."""
    if caller_arn.endswith(":root"):
        return None
    assumed = ASSUMED_ROLE.match(caller_arn)
    if assumed is None:
        return caller_arn
    try:
        return str(iam.get_role(RoleName=assumed.group(3))["Role"]["Arn"])
    except (ClientError, BotoCoreError) as err:
        # the role's path is only in GetRole's answer: without it the simulator cannot find the role
        raise CannotCheck(f"cannot read the caller's role {assumed.group(3)} (iam:GetRole): {err}") from err


def denied(
    iam: BaseClient, principal: str, needs: list[Needed], context: list[dict[str, Any]] | None = None
) -> list[Needed]:
    """The needs the principal's policies do not allow (implicitly or explicitly denied)."""
    by_resource: dict[str, list[str]] = defaultdict(list)
    for need in needs:
        by_resource[need.resource].append(need.action)
    refused: list[Needed] = []
    try:
        for resource, actions in by_resource.items():
            for start in range(0, len(actions), 100):  # at most 128 action names per call
                answer = iam.simulate_principal_policy(
                    PolicySourceArn=principal,
                    ActionNames=actions[start : start + 100],
                    ResourceArns=[resource],
                    ContextEntries=context or [],
                )
                refused += [
                    Needed(r["EvalActionName"], resource)
                    for r in answer.get("EvaluationResults", [])
                    if r.get("EvalDecision") != "allowed"
                ]
    except ClientError as err:
        raise CannotCheck(err.response.get("Error", {}).get("Code", "")) from err
    return refused


def passes_role(iam: BaseClient, principal: str, role: str, context: list[dict[str, Any]]) -> bool:
    """May the principal pass `role` to SageMaker (iam:PassRole, iam:PassedToService)?"""
    passed = {"ContextKeyName": "iam:PassedToService", "ContextKeyValues": [SAGEMAKER], "ContextKeyType": "string"}
    return not denied(iam, principal, [Needed("iam:PassRole", role)], [*context, passed])


def governed(lakeformation: BaseClient) -> bool:
    """Does Lake Formation govern new databases and tables (no IAM_ALLOWED_PRINCIPALS default)?"""
    try:
        settings = lakeformation.get_data_lake_settings().get("DataLakeSettings", {})
    except ClientError as err:
        raise CannotCheck(err.response.get("Error", {}).get("Code", "")) from err

    def open_to_iam(key: str) -> bool:
        return any(
            (p.get("Principal") or {}).get("DataLakePrincipalIdentifier") == IAM_ALLOWED
            for p in settings.get(key) or []
        )

    return not (open_to_iam("CreateDatabaseDefaultPermissions") and open_to_iam("CreateTableDefaultPermissions"))


def lake_formation_grants(lakeformation: BaseClient, principal: str, database: str) -> bool:
    """Is the principal a data lake administrator, or granted something on the catalog (to make
    the run's database) or on the run's database? (ListPermissions takes a principal only with a
    resource.)"""
    who = {"DataLakePrincipalIdentifier": principal}
    try:
        settings = lakeformation.get_data_lake_settings().get("DataLakeSettings", {})
        admins = {(a or {}).get("DataLakePrincipalIdentifier") for a in settings.get("DataLakeAdmins") or []}
        if principal in admins:
            return True
        resources: list[dict[str, Any]] = [{"Catalog": {}}, {"Database": {"Name": database}}]
        for resource in resources:
            try:
                listed = lakeformation.list_permissions(Principal=who, Resource=resource)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "EntityNotFoundException":
                    continue  # the run's database is not made yet: only the catalog's grant counts
                raise
            if listed.get("PrincipalResourcePermissions"):
                return True
    except ClientError as err:
        raise CannotCheck(err.response.get("Error", {}).get("Code", "")) from err
    return False
