"""`harness doctor` on an account (the simulator standing in for AWS): what a run needs, each
missing thing named with its fix, and nothing created."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def doctor(scenario: Path, url: str):
    """As a user runs it: credentials from the environment (here, the stand-in's)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "doctor", "AWS_SECRET_ACCESS_KEY": "doctor"}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", str(scenario), "--endpoint-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def real_scenario(tmp_path: Path, account: str) -> Path:
    path = tmp_path / "real.toml"
    path.write_text(
        f'target = "aws"\nregion = "eu-west-1"\nallowed_accounts = ["123456789012"]\n\n[account]\n{account}\n'
    )
    return path


def test_doctor_passes_an_account_that_has_what_the_run_needs(simulator, tmp_path):
    simulator.reset(profile="aws-default")
    aws = dict(
        endpoint_url=simulator.endpoint_url, region_name="eu-west-1", aws_access_key_id="d", aws_secret_access_key="d"
    )
    boto3.client("iam", **aws).create_role(RoleName="ml-runner", AssumeRolePolicyDocument=json.dumps(TRUST))
    boto3.client("s3", **aws).create_bucket(
        Bucket="ml-team", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    scenario = real_scenario(tmp_path, 'role_arn = "arn:aws:iam::123456789012:role/ml-runner"\nbucket = "ml-team"')
    done = doctor(scenario, simulator.endpoint_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  role: arn:aws:iam::123456789012:role/ml-runner exists" in done.stdout
    assert "ok  bucket: ml-team is reachable, in eu-west-1" in done.stdout
    assert "ok  training image: 141502667606.dkr.ecr.eu-west-1." in done.stdout
    assert "ok  quota sagemaker.CreateEndpoint: 'ml.m5.large for endpoint usage' = 20" in done.stdout


def test_doctor_names_each_missing_thing_and_its_fix(simulator, tmp_path):
    simulator.reset(profile="aws-default")
    aws = dict(
        endpoint_url=simulator.endpoint_url, region_name="eu-west-1", aws_access_key_id="d", aws_secret_access_key="d"
    )
    untrusting = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal={"Service": "ec2.amazonaws.com"})])
    boto3.client("iam", **aws).create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps(untrusting))
    scenario = real_scenario(
        tmp_path,
        'role_arn = "arn:aws:iam::123456789012:role/ec2-only"\nbucket = "nobody-made-it"\n'
        'training_image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"',
    )
    done = doctor(scenario, simulator.endpoint_url)
    assert done.returncode == 1
    out = done.stdout
    assert "NO  role: arn:aws:iam::123456789012:role/ec2-only exists but does not trust sagemaker.amazonaws.com" in out
    assert "fix: add sagemaker.amazonaws.com to the role's trust policy" in out
    assert "NO  bucket: nobody-made-it:" in out and "fix: create the bucket in the region" in out
    assert "NO  training image:" in out and "use one from eu-west-1" in out
    assert "3 to fix" in out
    s3 = boto3.client("s3", **aws)
    assert s3.list_buckets()["Buckets"] == []  # the doctor made nothing
