"""Retry policies are objects found by name: each says its default attempt budget, whether the
shared limiter paces it, where its state lives, what botocore is told, and what it hangs on a
client. A new policy is one class."""

import pytest
from botocore.exceptions import ClientError

from harness.aws import Target, ClientFactory, RetrySettings
from harness.aws.policies import POLICIES, NoRetries, policy_named


def test_each_policy_says_what_a_user_who_sets_nothing_gets():
    assert {name: p.default_attempts for name, p in POLICIES.items()} == {
        "harness": 8,
        "botocore-standard": 3,
        "botocore-adaptive": 3,
        "botocore-legacy": 5,
        "none": 1,
    }
    assert [name for name, p in POLICIES.items() if p.uses_limiter] == ["harness"]
    assert [name for name, p in POLICIES.items() if p.per_client_state] == [
        "botocore-standard",
        "botocore-adaptive",
        "botocore-legacy",
    ]
    assert policy_named("botocore-adaptive").botocore_retries(None) == {"mode": "adaptive"}
    assert policy_named("botocore-legacy").botocore_retries(4) == {"mode": "legacy", "total_max_attempts": 4}
    assert policy_named("harness").botocore_retries(8) == {"mode": "standard", "total_max_attempts": 1}


def test_a_budget_of_none_gives_each_policy_its_own():
    assert RetrySettings("botocore-legacy", max_attempts=None).attempts == 5
    assert RetrySettings("harness", max_attempts=3).attempts == 3
    with pytest.raises(ValueError, match="botocore-adaptive"):
        policy_named("aggressive")


class CountingPolicy(NoRetries):
    """A user's policy: one attempt, and a count of every call it sees."""

    name = "counting"

    def __init__(self):
        self.seen = []

    def install(self, events, hooks, client=None):
        events.register("before-call", lambda model, **_: self.seen.append(model.name))


def test_a_new_policy_is_one_class(simulator):
    policy = CountingPolicy()
    factory = ClientFactory(Target.simulator(simulator.endpoint_url), RetrySettings(policy))
    factory.client("sagemaker").list_models()
    with pytest.raises(ClientError):
        factory.client("sagemaker").describe_model(ModelName="missing")
    assert policy.seen == ["ListModels", "DescribeModel"]
    assert factory.for_worker() is factory  # no per-client state: workers share its clients
