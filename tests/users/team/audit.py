"""Uses the package's client, and puts from threads of its own."""

from concurrent.futures import ThreadPoolExecutor

import boto3

from team import IDENTITY


def pipeline(name: str, rows: int = 6) -> None:
    IDENTITY.get_caller_identity()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    with ThreadPoolExecutor(3) as pool:  # each thread makes its own client, as awswrangler does
        list(pool.map(lambda row: boto3.client("s3").put_object(Bucket=name, Key=f"{row}", Body=b"x"), range(rows)))
