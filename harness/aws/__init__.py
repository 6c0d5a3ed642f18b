"""AWS access: clients for a backend, retry policies, the shared limiter, recording hooks."""

from harness.aws.clients import Backend, ClientFactory
from harness.aws.limiter import Limiter, LocalBackend
from harness.aws.policies import POLICIES, RetrySettings

__all__ = ["Backend", "ClientFactory", "Limiter", "LocalBackend", "POLICIES", "RetrySettings"]
