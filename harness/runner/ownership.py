"""Whose resources a cleanup may touch: one run's (`--run-id`), or those of every run older than
an age (`--older-than`).

Every resource a run makes is named with the run's prefix, and those AWS lets it tag carry the
run id (RUN_TAG: a SageMaker or S3 tag, a Glue table's or database's parameter). A tagged
resource is in scope when its tag is; the prefix alone never suffices, so a look-alike (the
prefix without the tag, or another run's tag) is never touched. What no tag can be put on (the
logs SageMaker writes, the Glue table Feature Store makes, the objects under a run's prefix in a
shared bucket) is in scope when the run its name carries is: for one run, its own prefix (made
from its id); for old runs, a prefix whose run a tagged resource of the same prefix names, that
run being old enough. Nothing tagged names it: nothing is touched.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.waiting import error_code
from harness.runner.run_ids import HARNESS_PREFIX, run_prefix, run_prefix_of, run_started

NamedRun = Callable[[str], "str | None"]  # a run prefix -> the run id a tagged resource of that prefix carries


class Scope(ABC):
    prefix: str  # every name in scope starts with it
    description: str  # for people: "run 2026...", "runs older than 86400 s"

    @abstractmethod
    def owns(self, tag: str | None) -> bool:
        """A tagged resource: is the run id it carries (None: no tag) in scope?"""

    @abstractmethod
    def owns_run(self, prefix: str, named_run: NamedRun) -> bool:
        """An untagged resource named with this run prefix: is that run in scope?"""


@dataclass
class OneRun(Scope):
    run_id: str
    prefix: str = ""  # default: the run id's own (tests name runs by hand)

    def __post_init__(self) -> None:
        self.prefix = self.prefix or run_prefix(self.run_id)
        self.description = f"run {self.run_id}"

    def owns(self, tag: str | None) -> bool:
        return tag == self.run_id

    def owns_run(self, prefix: str, named_run: NamedRun) -> bool:
        return prefix == self.prefix  # its second, its random suffix: no other run's


@dataclass
class OlderRuns(Scope):
    """Runs that started more than `seconds` before `now`, by the time in their run id: a tag that
    is no run id is never in scope."""

    seconds: float
    now: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.prefix = HARNESS_PREFIX
        self.description = f"runs older than {self.seconds:.0f} s"

    def owns(self, tag: str | None) -> bool:
        started = run_started(tag) if tag else None
        return started is not None and started < self.now - self.seconds

    def owns_run(self, prefix: str, named_run: NamedRun) -> bool:
        return self.owns(named_run(prefix))


def sagemaker_run_tag(ctx: AwsContext, arn: str) -> str | None:
    """The run id a SageMaker resource carries (ListTags), or None: no tag, or it is gone."""
    try:
        tags = ctx.client("sagemaker").list_tags(ResourceArn=arn).get("Tags", [])
    except ClientError as err:
        if error_code(err) in ("ValidationException", "ResourceNotFound"):
            return None
        raise
    return next((t.get("Value") for t in tags if t.get("Key") == RUN_TAG), None)


def bucket_run_tag(ctx: AwsContext, bucket: str) -> str | None:
    """The run id an S3 bucket carries, or None: no tags, or no such bucket."""
    try:
        tags = ctx.client("s3").get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError:
        return None
    return next((t["Value"] for t in tags if t["Key"] == RUN_TAG), None)


class RunsByPrefix:
    """Which run a prefix belongs to, by the tag of a resource named with it: those the cleanup
    has read already, else the run's training jobs (AWS keeps them, tagged, after the run), else
    its bucket. Asked only for untagged leftovers, so a clean account costs no call."""

    def __init__(self, ctx: AwsContext) -> None:
        self.ctx = ctx
        self.known: dict[str, str | None] = {}

    def saw(self, name: str, tag: str | None) -> None:
        """A resource `name` carries `tag`: if the tag is the run its name says, remember it."""
        prefix = run_prefix_of(name)
        if prefix and tag and run_prefix(tag) == prefix:
            self.known[prefix] = tag

    def named_run(self, prefix: str) -> str | None:
        if prefix not in self.known:
            self.known[prefix] = self._from_training_jobs(prefix) or self._from_bucket(prefix)
        return self.known[prefix]

    def _from_training_jobs(self, prefix: str) -> str | None:
        pages = self.ctx.client("sagemaker").get_paginator("list_training_jobs").paginate(NameContains=prefix)
        for page in pages:
            for job in page.get("TrainingJobSummaries", []):
                if run_prefix_of(job["TrainingJobName"]) == prefix:
                    tag = sagemaker_run_tag(self.ctx, job["TrainingJobArn"])
                    if tag and run_prefix(tag) == prefix:
                        return tag
        return None

    def _from_bucket(self, prefix: str) -> str | None:
        tag = bucket_run_tag(self.ctx, f"{prefix}-data")  # the run's own bucket (aws_context.scenario_context)
        return tag if tag and run_prefix(tag) == prefix else None
