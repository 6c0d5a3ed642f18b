"""IAM's policy simulator on the simulator (moto has none): identity policies evaluated as IAM's
"Policy evaluation logic" says, through the same SimulatePrincipalPolicy call `harness doctor`
makes."""

from __future__ import annotations

import json

from harness.sim.iam import evaluate

BUCKET = "arn:aws:s3:::hx-data"


def allow(action, resource="*", **condition):
    return {
        "Effect": "Allow",
        "Action": action,
        "Resource": resource,
        **({"Condition": condition} if condition else {}),
    }


def deny(action, resource="*", **condition):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


def decide(*statements, action="s3:ListBucket", resource=BUCKET, context=None):
    return evaluate([{"Statement": list(statements)}], action, resource, context or {})[0]


def test_an_explicit_deny_wins_and_nothing_allowed_is_an_implicit_deny():
    assert decide(allow("s3:*")) == "allowed"
    assert decide(allow("s3:*"), deny("s3:ListBucket")) == "explicitDeny"
    assert decide(allow("sagemaker:*")) == "implicitDeny"


def test_not_action_and_not_resource_match_everything_else():
    assert decide({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}) == "allowed"
    assert decide({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}) == "implicitDeny"
    assert decide({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::other*"}) == "allowed"
    assert decide({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::hx*"}) == "implicitDeny"


def test_wildcards_are_star_and_question_mark_only_and_actions_ignore_case():
    assert decide(allow("S3:listbucket", "arn:aws:s3:::hx-dat?")) == "allowed"
    assert decide(allow("s3:ListBucket", "arn:aws:s3:::hx-[a-z]ata")) == "implicitDeny"  # [ is a character
    assert decide(allow("s3:ListBucket", "arn:aws:s3:::HX-DATA")) == "implicitDeny"  # ARNs keep their case


def test_a_condition_key_the_request_lacks_is_reported_and_fails_the_allow():
    statement = allow("iam:PassRole", StringEquals={"iam:PassedToService": "sagemaker.amazonaws.com"})
    decision, missing = evaluate([{"Statement": [statement]}], "iam:PassRole", "*", {})
    assert (decision, missing) == ("implicitDeny", ["iam:PassedToService"])
    passed = {"iam:passedtoservice": ["sagemaker.amazonaws.com"]}
    assert decide(statement, action="iam:PassRole", context=passed) == "allowed"


def test_operators_iam_takes_as_true_without_their_key():
    region_guard = deny("*", StringNotEquals={"aws:RequestedRegion": "eu-west-1"})
    assert decide(allow("s3:*"), region_guard) == "explicitDeny"  # no region given: the guard applies
    assert decide(allow("s3:*"), region_guard, context={"aws:requestedregion": ["eu-west-1"]}) == "allowed"
    if_exists = allow("s3:*", StringEqualsIfExists={"aws:RequestedRegion": "eu-west-1"})
    assert decide(if_exists) == "allowed"
    assert decide(allow("s3:*", Null={"aws:TokenIssueTime": "true"})) == "allowed"
    assert decide(allow("s3:*", Null={"aws:TokenIssueTime": "false"})) == "implicitDeny"


def test_json_booleans_and_an_operator_not_read_in_a_deny():
    secure_only = deny("s3:*", Bool={"aws:SecureTransport": False})
    assert decide(allow("s3:*"), secure_only, context={"aws:securetransport": ["false"]}) == "explicitDeny"
    assert decide(allow("s3:*"), secure_only, context={"aws:securetransport": ["true"]}) == "allowed"
    office_only = deny("s3:*", NotIpAddress={"aws:SourceIp": "192.0.2.0/24"})
    assert decide(allow("s3:*"), office_only, context={"aws:sourceip": ["198.51.100.7"]}) == "explicitDeny"
    assert decide(allow("s3:*", IpAddress={"aws:SourceIp": "192.0.2.0/24"}), context={"aws:sourceip": ["1"]}) == (
        "implicitDeny"
    )


def test_simulate_principal_policy_reads_a_users_groups_and_roles_policies(client):
    iam = client("iam")
    iam.create_user(UserName="analyst")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="analyst")
    policy = {"Version": "2012-10-17", "Statement": [allow("athena:*")]}
    iam.put_group_policy(GroupName="readers", PolicyName="athena", PolicyDocument=json.dumps(policy))
    managed = iam.create_policy(
        PolicyName="no-deletes", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny("s3:Delete*")]})
    )
    iam.attach_user_policy(UserName="analyst", PolicyArn=managed["Policy"]["Arn"])
    answer = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:user/analyst",
        ActionNames=["athena:StartQueryExecution", "s3:DeleteObject", "sagemaker:CreateModel"],
    )
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}
    assert decisions == {
        "athena:StartQueryExecution": "allowed",
        "s3:DeleteObject": "explicitDeny",
        "sagemaker:CreateModel": "implicitDeny",
    }
