"""Endpoint: an endpoint config and a real-time endpoint serving a Model."""

from __future__ import annotations


from botocore.exceptions import ClientError

from harness.artifacts.base import Artifact
from harness.artifacts.context import AwsContext
from harness.artifacts.errors import ArtifactFailed
from harness.artifacts.waiting import create_within_quota, error_code, record_lifecycle, take_slot, wait_until


class Endpoint(Artifact):
    """`name` names the endpoint and its endpoint config. poll: look at a creating or deleting
    endpoint this often (AWS seconds), as the SageMaker SDK's `wait_for_status` does every 5 s;
    None: growing polls (15 s, then longer)."""

    def __init__(self, ctx: AwsContext, name: str, poll: float | None = None):
        self.ctx, self.name, self.poll = ctx, name, poll
        self._slot = None  # endpoint instances count against the account while the endpoint lives
        self._created_at: float | None = None

    def _sm(self):
        return self.ctx.client("sagemaker")

    def describe(self) -> dict | None:
        try:
            return self._sm().describe_endpoint(EndpointName=self.name)
        except ClientError as err:
            if error_code(err) in ("ValidationException", "ResourceNotFound"):
                return None
            raise

    def status(self) -> str | None:
        described = self.describe()
        return None if described is None else described["EndpointStatus"]

    def health_check(self) -> list[str]:
        status = self.status()
        if status is None:
            return ["endpoint_missing"]
        return [] if status == "InService" else [f"endpoint_{status.lower()}"]

    def deploy(self, model_name: str, instance_type: str = "ml.m5.large") -> "Endpoint":
        """Create the config and the endpoint, and wait until it is InService."""
        ctx, sm = self.ctx, self._sm()
        try:
            sm.create_endpoint_config(
                EndpointConfigName=self.name,
                Tags=ctx.tags(),
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model_name,
                        "InitialInstanceCount": 1,
                        "InstanceType": instance_type,
                    }
                ],
            )
        except ClientError as err:
            if "already exist" not in str(err).lower():
                raise
        if self._slot is None:
            self._slot = take_slot(ctx, "CreateEndpoint")
        try:
            create_within_quota(
                ctx,
                "CreateEndpoint",
                lambda: sm.create_endpoint(EndpointName=self.name, EndpointConfigName=self.name, Tags=ctx.tags()),
            )
        except ClientError as err:
            # AWS refused it, so no endpoint holds the slot (unless one by this name already does).
            # Anything else (a timeout) may have made it: delete() looks before giving the slot back.
            if "already exist" not in str(err).lower():
                self._free_slot()
            raise
        self._created_at = ctx.clock.now()
        wait_until(ctx, f"endpoint {self.name} InService", self._in_service, ctx.deadlines.endpoint, interval=self.poll)
        return self

    def _in_service(self) -> bool:
        described = self.describe() or {}
        status = described.get("EndpointStatus")
        if status == "Failed":
            raise ArtifactFailed(f"endpoint {self.name} Failed: {described.get('FailureReason', '')}")
        if status == "InService":
            record_lifecycle(self.ctx, "endpoint", described, "CreationTime", "LastModifiedTime")
        return status == "InService"

    def invoke(self, rows: list[list]) -> list[float]:
        body = "\n".join(",".join(str(v) for v in row) for row in rows)
        answer = self.ctx.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=self.name, Body=body.encode(), ContentType="text/csv"
        )
        return [float(line) for line in answer["Body"].read().decode().splitlines() if line.strip()]

    def _free_slot(self) -> None:
        """The endpoint no longer counts against the account's quota: its slot goes back."""
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        if self._created_at is not None:
            self.ctx.record(
                "quota_hold",
                service="sagemaker",
                operation="CreateEndpoint",
                duration=self.ctx.clock.wall(self.ctx.clock.now() - self._created_at),
            )
            self._created_at = None

    def delete(self) -> None:
        """Idempotent: the endpoint (waiting through Deleting), then its config. Its slot goes
        back once the endpoint is missing or being deleted. If looking or deleting fails (say, it
        is throttled), the endpoint may still exist and count against the account's quota, so the
        slot stays: a later delete() gives it back, else it ends with its life (the limiter's
        SLOT_LIFE_SECONDS)."""
        sm = self._sm()
        status = self.status()
        if status is not None and status != "Deleting":
            try:
                sm.delete_endpoint(EndpointName=self.name)
            except ClientError as err:
                if error_code(err) != "ValidationException":
                    raise
        # Free the slot once deletion is accepted: the simulator stops counting a Deleting endpoint.
        # Should an account still count it, the next create meets ResourceLimitExceeded and waits.
        self._free_slot()
        if status is not None:
            wait_until(
                self.ctx,
                f"endpoint {self.name} deleted",
                lambda: self.describe() is None,
                self.ctx.deadlines.deletion,
                interval=self.poll,
            )
        try:
            sm.delete_endpoint_config(EndpointConfigName=self.name)
        except ClientError as err:
            if error_code(err) != "ValidationException":
                raise
