"""Artifacts that read live state: DataSource, FeatureSet, Model, Endpoint."""

from harness.artifacts.context import AwsContext, Deadlines
from harness.artifacts.datasource import DataSource
from harness.artifacts.endpoint import Endpoint
from harness.artifacts.errors import ArtifactError, ArtifactFailed, NotReady, PartialStateError
from harness.artifacts.featureset import FeatureSet
from harness.artifacts.model import Model

__all__ = [
    "ArtifactError",
    "ArtifactFailed",
    "AwsContext",
    "DataSource",
    "Deadlines",
    "Endpoint",
    "FeatureSet",
    "Model",
    "NotReady",
    "PartialStateError",
]
