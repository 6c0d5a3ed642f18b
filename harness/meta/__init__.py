"""Meta: list and describe every ML artifact, aligned with AWS's list and describe APIs."""

from harness.meta.base import LIST_COLUMNS, Meta
from harness.meta.aws import AWSMeta
from harness.meta.cached import CachedMeta
from harness.meta.deprecation import AWSServiceBroker, deprecated
from harness.meta.stubs import AzureMeta, GCPMeta

__all__ = ["AWSMeta", "AWSServiceBroker", "AzureMeta", "CachedMeta", "GCPMeta", "LIST_COLUMNS", "Meta", "deprecated"]
