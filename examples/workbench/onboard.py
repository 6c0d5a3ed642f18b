"""What Workbench's onboarding stack makes in an account, with plain boto3: the execution role,
the bucket, the Glue databases, the log group and the Athena workgroup. Idempotent: what exists
is left as it is.

    WORKBENCH_BUCKET=my-bucket WORKBENCH_ROLE=Workbench-ExecutionRole python onboard.py
"""

import json
import os

import boto3
from botocore.exceptions import ClientError

ALREADY = {"EntityAlreadyExists", "BucketAlreadyOwnedByYou", "AlreadyExistsException", "ResourceAlreadyExistsException"}


def made(what: str, create, **arguments) -> None:
    try:
        create(**arguments)
        print(f"made {what}")
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code not in ALREADY and not (code == "InvalidRequestException" and "already" in str(err)):
            raise
        print(f"kept {what}")


def main() -> None:
    bucket, role = os.environ["WORKBENCH_BUCKET"], os.environ["WORKBENCH_ROLE"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["sagemaker.amazonaws.com", "glue.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            },
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"},
        ],
    }
    made(f"role {role}", boto3.client("iam").create_role, RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    made(f"bucket {bucket}", boto3.client("s3").create_bucket, Bucket=bucket)
    glue = boto3.client("glue")
    for database in ("workbench", "sagemaker_featurestore"):
        made(f"Glue database {database}", glue.create_database, DatabaseInput={"Name": database})
    made("log group WorkbenchLogGroup", boto3.client("logs").create_log_group, logGroupName="WorkbenchLogGroup")
    made(
        "Athena workgroup workbench-workgroup",
        boto3.client("athena").create_work_group,
        Name="workbench-workgroup",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/athena-results/"}},
    )


if __name__ == "__main__":
    main()
