"""A team's own pipeline, written as it would be without the harness: plain boto3, nothing else.

The harness runs it as `function:churn:pipeline` (tests/users is on the path)."""

import time

import boto3

REPORTS = boto3.client("s3")  # made when the module is imported, as module-level clients often are


def pipeline(name: str, rows: int = 12, pause_seconds: float = 0.0, shared_bucket: str = "") -> None:
    """Land `rows` CSV files in a bucket of its own, check them, ask STS who it is, clean up; and
    leave a line in the team's shared bucket, if it has one."""
    s3 = boto3.client("s3")
    if shared_bucket:
        s3.put_object(Bucket=shared_bucket, Key=f"runs/{name}.txt", Body=f"{rows} rows".encode())
    s3.create_bucket(Bucket=name)
    for row in range(rows):
        s3.put_object(Bucket=name, Key=f"rows/{row:04d}.csv", Body=b"id,amount\n1,2.5\n")
        time.sleep(pause_seconds)
    listed = REPORTS.list_objects_v2(Bucket=name, Prefix="rows/")
    if listed["KeyCount"] != rows:
        raise RuntimeError(f"expected {rows} rows, found {listed['KeyCount']}")
    # the regional URL spelled out, as the SageMaker SDK does for STS
    boto3.client("sts", endpoint_url="https://sts.us-east-1.amazonaws.com").get_caller_identity()
    for item in listed["Contents"]:
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def no_default(name, rows):  # a parameter without a default: the scenario could not set it
    pass


def onboard(shared_bucket: str = "churn-team-shared") -> None:
    """What the team's onboarding makes once per account: the shared bucket."""
    boto3.client("s3").create_bucket(Bucket=shared_bucket)


def broken_onboarding() -> None:
    raise RuntimeError("not authorized to perform iam:CreateRole")
