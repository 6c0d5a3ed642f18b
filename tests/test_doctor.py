"""`harness doctor` on an account (the simulator standing in for AWS): what a run needs, each
missing thing named with its fix, and nothing created.

The caller is an IAM user with an access key, as on a real account: STS names it, and IAM's
policy simulator reads its policies."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from harness.aws.preflight import bucket_region
from simhelpers import RUNS, SAGEMAKER_TRUST, policy, runner_user, sagemaker_role, write_profile

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/ml-runner"


def make_account(simulator, profile: str = "aws-default"):
    """An account with what a run needs: a role SageMaker may assume with what SageMaker does as
    it, a bucket in the region, and a user who may run and pass the role. Returns a client maker
    and the user's credentials."""
    simulator.reset(profile=profile)

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=simulator.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="admin",
            aws_secret_access_key="admin",
        )

    iam = client("iam")
    credentials = runner_user(iam, sagemaker_role(iam, "ml-runner"))
    client("s3").create_bucket(Bucket="ml-team", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client, (credentials["AWS_ACCESS_KEY_ID"], credentials["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def account(simulator):
    return make_account(simulator)


def doctor(scenario: Path, url: str, credentials: tuple[str, str]):
    """As a user runs it: credentials from the environment."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": credentials[0], "AWS_SECRET_ACCESS_KEY": credentials[1]}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", str(scenario), "--endpoint-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def real_scenario(tmp_path: Path, account: str, top: str = "") -> Path:
    path = tmp_path / "real.toml"
    path.write_text(
        f'target = "aws"\nregion = "eu-west-1"\nallowed_accounts = ["123456789012"]\n{top}\n[account]\n{account}\n'
    )
    return path


def test_doctor_passes_an_account_that_has_what_the_run_needs(account, simulator, tmp_path):
    _, credentials = account
    scenario = real_scenario(tmp_path, f'role_arn = "{ROLE}"\nbucket = "ml-team"')
    done = doctor(scenario, simulator.endpoint_url, credentials)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "ok  identity: arn:aws:iam::123456789012:user/runner in account 123456789012" in out
    assert f"ok  role: {ROLE} exists" in out
    assert "ok  caller permissions: arn:aws:iam::123456789012:user/runner may make the run's" in out
    assert f"ok  pass role: arn:aws:iam::123456789012:user/runner may pass {ROLE} to SageMaker" in out
    assert f"ok  role permissions: {ROLE} may do what SageMaker does as it" in out
    assert "ok  lake formation: the Data Catalog is not governed by Lake Formation" in out
    assert "ok  bucket: ml-team is reachable, in eu-west-1" in out
    assert "ok  training image: 141502667606.dkr.ecr.eu-west-1." in out
    # no quota is changed on this account: Service Quotas' applied list leaves them out, and the
    # doctor reads AWS's default by the quota's code
    assert "ok  quota sagemaker.CreateEndpoint: 'ml.m5.large for endpoint usage' (L-" in out
    assert "= 20, AWS's default: the account has not changed it (the table says 20)" in out


def test_doctor_names_each_missing_thing_and_its_fix(account, simulator, tmp_path):
    client, credentials = account
    iam = client("iam")
    iam.put_user_policy(UserName="runner", PolicyName="runs", PolicyDocument=policy(RUNS))  # no PassRole
    ec2_only = dict(SAGEMAKER_TRUST["Statement"][0], Principal={"Service": "ec2.amazonaws.com"})
    untrusting = dict(SAGEMAKER_TRUST, Statement=[ec2_only])
    iam.update_assume_role_policy(RoleName="ml-runner", PolicyDocument=json.dumps(untrusting))
    iam.delete_role_policy(RoleName="ml-runner", PolicyName="runs")
    scenario = real_scenario(
        tmp_path,
        f'role_arn = "{ROLE}"\nbucket = "nobody-made-it"\n'
        'training_image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"',
    )
    done = doctor(scenario, simulator.endpoint_url, credentials)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert f"NO  role: {ROLE} exists but does not trust sagemaker.amazonaws.com" in out
    assert "fix: add sagemaker.amazonaws.com to the role's trust policy" in out
    assert f"NO  pass role: arn:aws:iam::123456789012:user/runner may not pass {ROLE} to SageMaker" in out
    assert f"fix: allow iam:PassRole on {ROLE} to the caller, with iam:PassedToService" in out
    assert f"NO  role permissions: {ROLE} may not: cloudwatch:PutMetricData, ecr:BatchGetImage" in out
    assert "NO  bucket: nobody-made-it:" in out and "fix: create the bucket in the region" in out
    assert "NO  training image:" in out and "use one from eu-west-1" in out
    assert "5 to fix" in out
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == ["ml-team"]  # the doctor made nothing


def test_doctor_reads_a_governed_catalog_applied_quotas_and_the_scenarios_instance_type(simulator, tmp_path):
    # an account whose endpoint quota was raised to 40, and whose catalog Lake Formation governs
    raised = write_profile(
        tmp_path,
        'extends = "aws-default"\n[[quota]]\nservice = "sagemaker"\noperation = "CreateEndpoint"\nrate = 5\n'
        'burst = 10\nconcurrency = 40\nquota_name = "ml.m5.large for endpoint usage"\nsource = "raised"\n',
    )
    client, credentials = make_account(simulator, raised)
    client("lakeformation").put_data_lake_settings(
        DataLakeSettings={"CreateDatabaseDefaultPermissions": [], "CreateTableDefaultPermissions": []}
    )
    scenario = real_scenario(tmp_path, f'role_arn = "{ROLE}"', top='[params]\ninstance_type = "ml.c5.xlarge"\n')
    out = doctor(scenario, simulator.endpoint_url, credentials).stdout
    assert "NO  lake formation: Lake Formation governs the catalog and has granted nothing to " in out
    assert "fix: grant CREATE_DATABASE on the catalog and ALL on database harness to each" in out
    # the quota rows name ml.m5.large; the doctor asks for the scenario's instance type's
    assert "NO  quota sagemaker.CreateEndpoint: 'ml.c5.xlarge for endpoint usage' is not one of sagemaker's" in out

    for principal in ("arn:aws:iam::123456789012:user/runner", ROLE):
        client("lakeformation").grant_permissions(
            Principal={"DataLakePrincipalIdentifier": principal},
            Resource={"Database": {"Name": "harness"}},
            Permissions=["ALL"],
        )
    out = doctor(real_scenario(tmp_path, f'role_arn = "{ROLE}"'), simulator.endpoint_url, credentials).stdout
    assert "ok  lake formation: Lake Formation governs the catalog, and has granted the caller and role" in out
    assert "= 40, applied (the table says 20)" in out and "fix: run `harness quotas sync --scenario" in out


def test_an_old_eu_bucket_is_in_eu_west_1():
    """GetBucketLocation answers EU for buckets made in eu-west-1 before it had its name."""
    assert bucket_region("EU") == "eu-west-1"
    assert bucket_region(None) == bucket_region("") == "us-east-1"
    assert bucket_region("ap-south-1") == "ap-south-1"
