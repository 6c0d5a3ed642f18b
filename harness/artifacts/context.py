"""What every artifact needs to reach AWS: clients, the limiter, the recorder, time and names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.aws.clients import ClientFactory
from harness.aws.limiter import Limiter

if TYPE_CHECKING:
    from harness.events.recorder import EventSink

RUN_TAG = "harness:run-id"
PIPELINE_TAG = "harness:pipeline-id"


@dataclass
class Deadlines:
    """How long (AWS seconds) to wait for each asynchronous step, and how often to look."""

    feature_group_created: float = 900.0
    offline_store: float = 1200.0
    offline_rows: float = 1800.0  # ingested rows reaching the offline store (AWS: often 10-20 min)
    training_job: float = 3600.0
    endpoint: float = 1800.0
    deletion: float = 900.0
    quota_slot: float = 3600.0  # waiting for a concurrency quota slot (e.g. 4 creating groups)
    poll: float = 15.0  # first poll interval; grows by half each time up to poll_cap
    poll_cap: float = 60.0
    slot_poll: float = 5.0  # while holding a concurrency slot others wait for, look this often
    athena_query: float = 1800.0  # DML query timeout (Athena's default, 30 minutes)
    athena_poll: float = 1.0  # awswrangler's polling delay for GetQueryExecution


@dataclass
class AwsContext:
    clients: ClientFactory
    bucket: str  # where data and offline stores live
    key_prefix: str = ""  # every object key starts with it ("" in a bucket of the run's own)
    role_arn: str = "arn:aws:iam::123456789012:role/harness-sagemaker"
    glue_database: str = "harness"
    athena_workgroup: str = "primary"
    image_uri: str = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    run_id: str | None = None
    pipeline_id: str | None = None
    limiter: Limiter | None = None
    recorder: EventSink | None = None
    deadlines: Deadlines = field(default_factory=Deadlines)
    extra_tags: dict[str, str] = field(default_factory=dict)  # the scenario's [account] tags

    @property
    def clock(self):
        """The run's clock (AWS seconds); its sleeps end with Stopped when the run stops."""
        return self.clients.clock

    @property
    def time_scale(self) -> float:
        return self.clients.time_scale

    def client(self, service: str):
        return self.clients.client(service)

    def wall(self, aws_seconds: float) -> float:
        return self.clock.wall(aws_seconds)

    def sleep(self, aws_seconds: float) -> None:
        self.clock.sleep(aws_seconds)

    def s3_uri(self, path: str = "") -> str:
        """Where the run keeps `path` in its bucket."""
        return f"s3://{self.bucket}/{self.key_prefix}{path}"

    @property
    def athena_output(self) -> str:
        return self.s3_uri("athena-results/")

    def tags(self) -> list[dict]:
        tags = [{"Key": k, "Value": v} for k, v in self.extra_tags.items()]
        if self.run_id:
            tags.append({"Key": RUN_TAG, "Value": self.run_id})
        if self.pipeline_id:
            tags.append({"Key": PIPELINE_TAG, "Value": self.pipeline_id})
        return tags

    def record(self, kind: str, **fields) -> None:
        if self.recorder is not None:
            self.recorder.record(kind, **fields)

    def for_worker(self) -> "AwsContext":
        """The context one pipeline worker uses (its own clients where the policy keeps state
        per client; see ClientFactory.for_worker)."""
        from dataclasses import replace

        return replace(self, clients=self.clients.for_worker())

    def for_pipeline(self, pipeline_id: str) -> "AwsContext":
        from dataclasses import replace

        return replace(self, pipeline_id=pipeline_id)
