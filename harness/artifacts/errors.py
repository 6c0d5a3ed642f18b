"""Errors an artifact raises when AWS does not deliver what it said it would."""

from __future__ import annotations


class ArtifactError(RuntimeError):
    """An artifact could not be built or read."""


class PartialStateError(ArtifactError):
    """The artifact exists but part of it never appeared within the deadline."""

    def __init__(self, artifact: str, missing: list[str], waited_aws_seconds: float):
        self.artifact, self.missing, self.waited = artifact, list(missing), waited_aws_seconds
        super().__init__(
            f"{artifact} is only partly built after waiting {waited_aws_seconds:.0f} s "
            f"(AWS time): missing {', '.join(missing)}"
        )


class ArtifactFailed(ArtifactError):
    """AWS reports the artifact as Failed (a training job or an endpoint)."""


class NotReady(ArtifactError):
    """A wait for a lifecycle step ran past its deadline."""
