"""AWS access: clients for a target, retry policies, the shared limiter, recording hooks."""

from harness.aws.clients import Target, ClientFactory
from harness.aws.limiter import Limiter, LocalStore
from harness.aws.policies import POLICIES, RetrySettings

__all__ = ["Target", "ClientFactory", "Limiter", "LocalStore", "POLICIES", "RetrySettings"]
