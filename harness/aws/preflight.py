"""`harness doctor`: before a run on a real account creates anything, check what it will need
and say, for each thing missing, how to fix it. Every call here only reads.

Checks: who and where (STS), the account allowed, the role SageMaker will assume (exists,
trusts sagemaker.amazonaws.com, in the caller's account), the caller's permissions for every call
the run makes and to pass the role to SageMaker, the role's permissions for what SageMaker does
as it, Lake Formation where it governs the catalog (access.py), the bucket (reachable, in the
region), the training image (published for the region), and each quota the table names, found by
its code, at its applied value or else AWS's default, for the scenario's instance type. An
account whose endpoint does not answer (no network, a wrong region) is one line instead
(harness.aws.reach): nothing else could be checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws import access
from harness.aws.permissions import Needed, Where, needed, role_needs
from harness.aws.quota_sync import SERVICE_CODES, account_quotas, named_for
from harness.aws.reach import SETUP_NO_ANSWER, unreachable
from harness.quotas import QuotaTable

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from harness.aws.clients import ClientFactory
    from harness.runner.scenario import Scenario

TRUSTED = "sagemaker.amazonaws.com"
ECR_REGION = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _code(err: Exception) -> str:
    return err.response.get("Error", {}).get("Code", "") if isinstance(err, ClientError) else type(err).__name__


# Credentials the account refused, by error code (the Common Errors of the AWS API references,
# e.g. https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html), or botocore's
# own exceptions when none were found or they could not be refreshed: what is wrong, its fix.
_NEW_KEYS = "use valid credentials (aws configure list shows which ones are used and where they come from)"
_REFRESH = "refresh them: aws sso login for an SSO profile, or new temporary credentials (AWS_SESSION_TOKEN)"
CREDENTIAL_PROBLEMS = {
    "NoCredentialsError": (
        "no credentials found",
        "configure credentials (aws configure, AWS_PROFILE, or the scenario's aws_profile)",
    ),
    "PartialCredentialsError": ("incomplete credentials (a key without its secret)", _NEW_KEYS),
    "InvalidClientTokenId": ("the access key id is not one AWS knows", _NEW_KEYS),
    "UnrecognizedClientException": ("the access key id is not one AWS knows", _NEW_KEYS),
    "SignatureDoesNotMatch": ("the secret key does not match the access key id", _NEW_KEYS),
    "ExpiredToken": ("the credentials have expired", _REFRESH),
    "ExpiredTokenException": ("the credentials have expired", _REFRESH),
    "RequestExpired": ("the request's time is off by more than 15 minutes", "set the machine's clock right (NTP)"),
    "TokenRetrievalError": ("the SSO token could not be refreshed", _REFRESH),
    "SSOTokenLoadError": ("the SSO token could not be loaded", _REFRESH),
    "UnauthorizedSSOTokenError": ("the SSO session has expired", _REFRESH),
}


def identity_refused(err: ClientError | BotoCoreError) -> Check:
    """The identity check when STS gave no identity though it was reached (or nothing was sent):
    credentials missing, invalid or expired, each with its fix, or another error by its code."""
    code = _code(err)
    what, fix = CREDENTIAL_PROBLEMS.get(
        code, ("no identity", "configure credentials (aws configure, AWS_PROFILE, or the scenario's aws_profile)")
    )
    return Check("identity", False, f"{what}: {code}", fix)


def trusts_sagemaker(policy: str | dict[str, Any]) -> bool:
    """Does a role's trust policy let SageMaker assume it? (IAM's URL-encoded JSON, or as boto3
    gives it, already parsed)"""
    document: dict[str, Any] = json.loads(unquote(policy)) if isinstance(policy, str) else policy
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if (
            statement.get("Effect") == "Allow"
            and TRUSTED in services
            and ("sts:AssumeRole" in actions or "sts:*" in actions or "*" in actions)
        ):
            return True
    return False


def preflight(
    scenario: Scenario,
    clients: ClientFactory,
    allowed: list[str],
    image: str,
    table: QuotaTable,
    operations: Callable[[], set[str]] | None = None,
    prefix: str = "hx",
) -> list[Check]:
    """clients: a ClientFactory on the scenario's account; image: the training image the run uses;
    operations: the calls (service.Operation) a run makes, from its plan, asked for once the
    account answers (none: the caller's permissions are not checked); prefix: a run's name
    prefix, for the resource names the permissions are simulated on."""
    checks: list[Check] = []
    account = scenario.account
    try:
        who = clients.client("sts").get_caller_identity()
    except SETUP_NO_ANSWER as err:  # nothing else can be checked: said in one line (exit code 5)
        raise unreachable(err, scenario.region) from None
    except (ClientError, BotoCoreError) as err:
        return [identity_refused(err)]
    caller = who["Account"]
    checks.append(Check("identity", True, f"{who['Arn']} in account {caller}, region {scenario.region}"))
    checks.append(
        Check(
            "account allowed",
            caller in allowed,
            f"account {caller} {'is' if caller in allowed else 'is not'} allowed",
            "" if caller in allowed else f'add "{caller}" to allowed_accounts or pass --allow-account {caller}',
        )
    )

    role = account.role_arn
    if role is None:
        checks.append(
            Check(
                "role",
                False,
                "no [account] role_arn",
                "set [account] role_arn to a role that trusts sagemaker.amazonaws.com",
            )
        )
    elif role.split(":")[4] != caller:
        checks.append(
            Check(
                "role",
                False,
                f"{role} is in account {role.split(':')[4]}, not {caller}",
                "use a role in the account the run uses (SageMaker cannot pass another account's role)",
            )
        )
    else:
        try:
            found = clients.client("iam").get_role(RoleName=role.rsplit("/", 1)[-1])["Role"]
            trusted = trusts_sagemaker(found.get("AssumeRolePolicyDocument", {}))
            checks.append(
                Check(
                    "role",
                    trusted,
                    f"{role} exists" + ("" if trusted else f" but does not trust {TRUSTED}"),
                    "" if trusted else f"add {TRUSTED} to the role's trust policy (sts:AssumeRole)",
                )
            )
        except (ClientError, BotoCoreError) as err:
            checks.append(
                Check(
                    "role",
                    False,
                    f"{role}: {_code(err)}",
                    "create the role (with AmazonSageMakerFullAccess or narrower) or fix role_arn",
                )
            )

    run_resources = Where(scenario.region, caller, prefix, account.bucket, account.glue_database, image)
    usable_role = role if role and role.split(":")[4] == caller else None
    checks += permission_checks(clients, who["Arn"], usable_role, run_resources, operations, account.glue_database)

    s3 = clients.client("s3")
    if account.bucket:
        try:
            s3.head_bucket(Bucket=account.bucket)
            where = bucket_region(s3.get_bucket_location(Bucket=account.bucket).get("LocationConstraint"))
            ok = where == scenario.region
            checks.append(
                Check(
                    "bucket",
                    ok,
                    f"{account.bucket} is reachable, in {where}",
                    "" if ok else f"use a bucket in {scenario.region} (SageMaker reads and writes there)",
                )
            )
        except (ClientError, BotoCoreError) as err:
            checks.append(
                Check(
                    "bucket",
                    False,
                    f"{account.bucket}: {_code(err)}",
                    "create the bucket in the region, or grant the caller s3:ListBucket on it",
                )
            )
    else:
        checks.append(Check("bucket", True, f"the run creates its own bucket in {scenario.region} and deletes it", ""))

    found_region = ECR_REGION.match(image)
    image_region = found_region.group(1) if found_region is not None else None  # None: not an ECR image
    ok = image_region is None or image_region == scenario.region
    checks.append(
        Check(
            "training image",
            ok,
            image,
            ""
            if ok
            else f"the image is in {image_region}: use one from {scenario.region} "
            "or leave [account] training_image unset",
        )
    )

    checks += quota_checks(clients, table, scenario.params.get("instance_type"))
    return checks


def bucket_region(location: str | None) -> str:
    """GetBucketLocation's LocationConstraint as a region: none for us-east-1, and EU for the
    buckets made in eu-west-1 before it had its name (S3 API Reference, GetBucketLocation)."""
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location or "us-east-1")


def permission_checks(
    clients: ClientFactory,
    caller_arn: str,
    role: str | None,
    where: Where,
    operations: Callable[[], set[str]] | None,
    database: str,
) -> list[Check]:
    """The caller may make the run's calls and pass the role to SageMaker; the role may do what
    SageMaker does as it (each simulated on the resources a run uses, `where`); Lake Formation,
    where it governs the catalog, has granted both."""
    iam = clients.client("iam")
    try:
        principal = access.principal_of(iam, caller_arn)
    except access.CannotCheck as err:
        return [Check("caller permissions", False, str(err), "grant the caller iam:GetRole on its own role")]
    checks: list[Check] = []
    try:
        if operations is not None:
            try:
                calls = operations()
            except ValueError as err:  # the plan's dry run failed: the other checks go on
                checks.append(
                    Check("caller permissions", False, f"the run's calls are unknown: {err}", "see `harness plan`")
                )
            else:
                checks.append(caller_may(iam, principal, calls, where))
        if role is not None and principal is not None:
            ok = access.passes_role(iam, principal, role, where.context())
            checks.append(
                Check(
                    "pass role",
                    ok,
                    f"{principal} {'may' if ok else 'may not'} pass {role} to SageMaker",
                    ""
                    if ok
                    else f"allow iam:PassRole on {role} to the caller, with iam:PassedToService "
                    f"{access.SAGEMAKER} (SageMaker refuses every create that names the role without it)",
                )
            )
        if role is not None:
            refused = access.denied(iam, role, role_needs(where), where.context())
            checks.append(
                Check(
                    "role permissions",
                    not refused,
                    f"{role} may not: {_actions(refused)}" if refused else f"{role} may do what SageMaker does as it",
                    "allow these actions to the role on the run's resources (its training jobs, endpoints and "
                    "offline stores fail without them)"
                    if refused
                    else "",
                )
            )
    except access.CannotCheck as err:
        checks.append(
            Check(
                "permissions",
                False,
                f"cannot simulate IAM policies: {err}",
                "grant the caller iam:SimulatePrincipalPolicy, or check its permissions, iam:PassRole and the "
                "role's by hand",
            )
        )
    checks.append(lake_formation(clients, [p for p in (principal, role) if p], database))
    return checks


def _actions(refused: list[Needed]) -> str:
    return ", ".join(sorted({n.action for n in refused}))


def caller_may(iam: BaseClient, principal: str | None, operations: set[str], where: Where) -> Check:
    """May the caller make every call the run makes, on the run's resources?"""
    if principal is None:
        return Check("caller permissions", True, "the account's root user may make every call")
    refused = access.denied(iam, principal, needed(operations, where), where.context())
    if not refused:
        return Check("caller permissions", True, f"{principal} may make the run's {len(operations)} kinds of call")
    return Check(
        "caller permissions",
        False,
        f"{principal} may not: {_actions(refused)} (on the resources a run names, {where.prefix}*)",
        "allow these actions to the caller (deploy/aws-nightly-role.yaml lists every action a run needs)",
    )


def lake_formation(clients: ClientFactory, principals: list[str], database: str) -> Check:
    lakeformation = clients.client("lakeformation")
    try:
        if not access.governed(lakeformation):
            return Check("lake formation", True, "the Data Catalog is not governed by Lake Formation (IAM decides)")
        missing = [p for p in principals if not access.lake_formation_grants(lakeformation, p, database)]
    except access.CannotCheck as err:
        return Check(
            "lake formation",
            False,
            f"cannot read Lake Formation's settings: {err}",
            "grant the caller lakeformation:GetDataLakeSettings and lakeformation:ListPermissions",
        )
    if not missing:
        return Check("lake formation", True, "Lake Formation governs the catalog, and has granted the caller and role")
    return Check(
        "lake formation",
        False,
        f"Lake Formation governs the catalog and has granted nothing to {', '.join(missing)}",
        f"grant CREATE_DATABASE on the catalog and ALL on database {database} to each "
        "(aws lakeformation grant-permissions), or make them data lake administrators",
    )


def quota_checks(clients: ClientFactory, table: QuotaTable, instance_type: str | None) -> list[Check]:
    """Each quota the table names, found by name among AWS's quotas (for the scenario's instance
    type) and read by its code: the applied value, else the default."""
    checks: list[Check] = []
    try:
        quotas = clients.client("service-quotas")
        for service in sorted({q.service for q in table.rows() if q.quota_name}):
            listed = account_quotas(quotas, SERVICE_CODES.get(service, service))
            for row in table.rows():
                if row.service != service or not row.quota_name:
                    continue
                name = named_for(row.quota_name, instance_type)
                entry = listed.get(name)
                if entry is None:
                    checks.append(
                        Check(
                            f"quota {service}.{row.operation}",
                            False,
                            f"'{name}' is not one of {service}'s quotas in Service Quotas",
                            "check the instance type, or the quota's name in the Service Quotas console",
                        )
                    )
                    continue
                value = int(entry["Value"])
                same = value == row.concurrency
                basis = "applied" if entry["Applied"] else "AWS's default: the account has not changed it"
                checks.append(
                    Check(
                        f"quota {service}.{row.operation}",
                        same,
                        f"'{name}' ({entry['QuotaCode']}) = {value}, {basis} (the table says {row.concurrency})",
                        "" if same else "run `harness quotas sync --scenario ...` and add the file to quota_files",
                    )
                )
    except (ClientError, BotoCoreError) as err:
        checks.append(
            Check(
                "quotas",
                False,
                f"Service Quotas: {_code(err)}",
                "grant servicequotas:ListServiceQuotas and ListAWSDefaultServiceQuotas, or check quotas by hand",
            )
        )
    return checks


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok ' if check.ok else 'NO '} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"     fix: {check.fix}")
    missing = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - missing} of {len(checks)} checks pass" + (f"; {missing} to fix" if missing else ""))
    return "\n".join(lines)
