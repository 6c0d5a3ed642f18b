"""The IAM permissions a run needs: the actions behind the calls it makes, and what SageMaker does
as the execution role. `harness doctor` checks them with iam:SimulatePrincipalPolicy; the nightly's
CloudFormation template grants them.

An API call's IAM action is mostly `<prefix>:<Operation>` (the Service Authorization Reference,
docs.aws.amazon.com/service-authorization/latest/reference/). The exceptions are here: S3's
listing and batch calls, and the SageMaker runtimes, whose actions live under `sagemaker:`.
"""

from __future__ import annotations

from dataclasses import dataclass

# the IAM prefix of a botocore service name, where it is not the name itself
PREFIXES = {
    "sagemaker-runtime": "sagemaker",
    "sagemaker-featurestore-runtime": "sagemaker",
    "service-quotas": "servicequotas",
}
# S3 calls whose action is not their name (Service Authorization Reference, Amazon S3)
S3_ACTIONS = {
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

# What SageMaker does as the execution role while the run's jobs, endpoints and feature groups
# work (SageMaker Developer Guide, "How to use SageMaker execution roles", and "Feature Store:
# IAM permissions for the offline store"): read the training data and write the model (S3), pull
# the image (ECR), write logs and metrics, and keep the offline store's Glue table.
EXECUTION_ROLE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
)


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


def needed(calls: set[str] | list[str], bucket: str | None) -> list[Needed]:
    """The actions behind `calls`, each on the resource it acts on: S3's on the bucket or its
    objects (when the run's bucket is known), the others on any resource."""
    wanted = sorted({iam_action(c) for c in calls})
    return [Needed(action, s3_resource(action, bucket)) for action in wanted]


def s3_resource(action: str, bucket: str | None) -> str:
    if not action.startswith("s3:") or not bucket or action == "s3:ListAllMyBuckets":
        return "*"
    return f"arn:aws:s3:::{bucket}" if action in S3_BUCKET_ACTIONS else f"arn:aws:s3:::{bucket}/*"
