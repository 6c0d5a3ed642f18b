"""The IAM permissions a run needs: the actions behind the calls it makes, and what SageMaker does
as the execution role. `harness doctor` checks them with iam:SimulatePrincipalPolicy; the nightly's
CloudFormation template grants them.

An API call's IAM action is mostly `<prefix>:<Operation>` (the Service Authorization Reference,
docs.aws.amazon.com/service-authorization/latest/reference/). The exceptions are here: S3's
listing and batch calls, and the SageMaker runtimes, whose actions live under `sagemaker:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

# the IAM prefix of a botocore service name, where it is not the name itself
PREFIXES = {
    "sagemaker-runtime": "sagemaker",
    "sagemaker-featurestore-runtime": "sagemaker",
    "service-quotas": "servicequotas",
}
# Every S3 call the harness makes, with its action ("Required permissions for Amazon S3 API
# operations", Amazon S3 User Guide): several are not their call's name. A call missing here is
# taken as s3:<its name>; tests/test_aws_nightly.py fails when the harness makes one.
S3_ACTIONS = {
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "PutObject": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "DeleteObjects": "s3:DeleteObject",
    "ListBuckets": "s3:ListAllMyBuckets",
    "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
}
S3_BUCKET_ACTIONS = {"s3:ListBucket", "s3:CreateBucket", "s3:DeleteBucket", "s3:GetBucketLocation"}
S3_BUCKET_ACTIONS |= {"s3:GetBucketTagging", "s3:PutBucketTagging", "s3:ListBucketMultipartUploads"}

# Actions a run needs that a clean dry run does not make: the stop and cleanup paths (a stopped
# training job, a cancelled query, leftovers found by their tags, SageMaker's logs), SageMaker's
# rule that a create passing Tags also needs AddTags (SageMaker Developer Guide, "Tagging
# resources"), and what Athena does as the caller to read a table (Glue's database and
# partitions, the results bucket's location, Lake Formation's data access).
RUN_EXTRA_ACTIONS = (
    "sagemaker:StopTrainingJob",
    "sagemaker:AddTags",
    "sagemaker:ListTags",
    "athena:StopQueryExecution",
    "glue:GetDatabase",
    "glue:DeleteDatabase",
    "glue:GetPartitions",
    "s3:GetBucketLocation",
    "lakeformation:GetDataAccess",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:DeleteLogGroup",
    "logs:DeleteLogStream",
)

# What SageMaker does as the execution role while the run's jobs, endpoints and feature groups
# work (SageMaker Developer Guide, "How to use SageMaker execution roles", and the managed policy
# AmazonSageMakerFeatureStoreAccess for the offline store): read the training data and write the
# model (S3), pull the image (ECR), write logs and metrics, and keep the offline store's objects
# and Glue table (Feature Store makes the table itself).
EXECUTION_ROLE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:GetBucketAcl",
    "s3:PutObjectAcl",
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "glue:GetTable",
    "glue:UpdateTable",
)
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")
# SageMaker's resource types, by the noun its operations name (longest first: EndpointConfig
# before Endpoint), and the runtime calls' resources
SAGEMAKER_TYPES = (
    ("ModelPackageGroup", "model-package-group"),
    ("ModelPackage", "model-package"),
    ("TrainingJob", "training-job"),
    ("EndpointConfig", "endpoint-config"),
    ("Endpoint", "endpoint"),
    ("FeatureGroup", "feature-group"),
    ("Model", "model"),
)
SAGEMAKER_RUNTIME = {"PutRecord": "feature-group", "GetRecord": "feature-group", "DeleteRecord": "feature-group"}
SAGEMAKER_RUNTIME |= {"InvokeEndpoint": "endpoint", "AddTags": "training-job", "ListTags": "training-job"}
GLUE_DATABASE_ACTIONS = {"glue:CreateDatabase", "glue:GetDatabase", "glue:GetTables", "glue:DeleteDatabase"}


def iam_action(call: str) -> str:
    """The IAM action of a call named `service.Operation` (the harness's event names)."""
    service, _, operation = call.partition(".")
    if service == "s3":
        return S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{PREFIXES.get(service, service)}:{operation}"


@dataclass(frozen=True)
class Needed:
    """An action on a resource: what one SimulatePrincipalPolicy evaluation asks."""

    action: str
    resource: str = "*"


@dataclass(frozen=True)
class Where:
    """The run's resources as IAM names them: an action is simulated on the ARN a run would
    use, so a policy scoped to the run's names (the nightly's template scopes to hx*) passes
    where a check on "*" would fail it."""

    region: str
    account: str
    prefix: str  # a run's name prefix (run_ids.run_prefix)
    bucket: str | None = None  # the scenario's bucket; None: the run's own, <prefix>-data
    database: str = "harness"
    image: str = ""

    def arn(self, action: str) -> str:
        service, _, name = action.partition(":")
        region, account, prefix = self.region, self.account, self.prefix
        if service == "s3":
            if action == "s3:ListAllMyBuckets":
                return "*"
            bucket = self.bucket or f"{prefix}-data"
            return f"arn:aws:s3:::{bucket}" if action in S3_BUCKET_ACTIONS else f"arn:aws:s3:::{bucket}/{prefix}/data"
        if service == "sagemaker":
            if name.startswith("List") and name != "ListTags":
                return "*"
            kind = SAGEMAKER_RUNTIME.get(name) or next((t for noun, t in SAGEMAKER_TYPES if noun in name), None)
            return f"arn:aws:sagemaker:{region}:{account}:{kind}/{prefix}-n1w0i1" if kind else "*"
        if service == "glue":
            if action in GLUE_DATABASE_ACTIONS:
                return f"arn:aws:glue:{region}:{account}:database/{self.database}"
            return f"arn:aws:glue:{region}:{account}:table/{self.database}/{prefix}_n1w0i1"
        if service == "athena":
            return f"arn:aws:athena:{region}:{account}:workgroup/primary"
        if service == "logs":
            if action == "logs:DescribeLogGroups":
                return f"arn:aws:logs:{region}:{account}:log-group:*"
            return f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs:*"
        if service == "ecr" and action != "ecr:GetAuthorizationToken":
            found = ECR_IMAGE.match(self.image)
            if found is not None:
                return f"arn:aws:ecr:{found.group(2)}:{found.group(1)}:repository/{found.group(3)}"
        return "*"

    def context(self) -> list[dict[str, Any]]:
        """The request context IAM would see: the region, and SageMaker's metrics namespace."""
        return [
            {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": [self.region], "ContextKeyType": "string"},
            {
                "ContextKeyName": "cloudwatch:namespace",
                "ContextKeyValues": ["/aws/sagemaker/TrainingJobs"],
                "ContextKeyType": "string",
            },
        ]


def needed(calls: set[str] | list[str], where: Where) -> list[Needed]:
    """The actions behind `calls` and the run's stop and cleanup paths, each on its resource."""
    wanted = sorted({iam_action(c) for c in calls} | set(RUN_EXTRA_ACTIONS))
    return [Needed(action, where.arn(action)) for action in wanted]


# the database Feature Store makes the offline stores' Glue tables in, unless told otherwise
OFFLINE_STORE_DATABASE = "sagemaker_featurestore"


def role_needs(where: Where) -> list[Needed]:
    """What SageMaker does as the execution role, on the run's resources (its Glue calls are on
    the offline stores' tables)."""
    offline = replace(where, database=OFFLINE_STORE_DATABASE)
    return [
        Needed(action, (offline if action.startswith("glue:") else where).arn(action))
        for action in EXECUTION_ROLE_ACTIONS
    ]
