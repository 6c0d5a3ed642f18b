"""SageMaker's control plane where moto lacks it or gets it wrong.

moto stays the store. Creates start a lifecycle (and meet the account's concurrency
quotas); describes and lists get their status rewritten from that lifecycle; and the calls moto
lacks or answers unlike AWS are answered here: feature groups listed, described and deleted,
StopTrainingJob, model package versions (numbered and named as AWS does) and deletes, tags
(added or overwritten by key, at most 50), and InvokeEndpoint on an endpoint that is InService.
A training job that completes leaves a model.tar.gz where its ModelArtifacts point.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import json
import random
import re
import tarfile
from collections.abc import Iterator
from datetime import datetime, timezone
from functools import partial

from harness.quotas import QuotaTable
from harness.sim import errors
from harness.sim.algorithms import training_failure
from harness.sim.calls import Call
from harness.sim.featurestore import FeatureGroupSchema
from harness.sim.lifecycle import Lifecycle, Lifecycles
from harness.sim.motobridge import Moto
from harness.sim.paging import page, page_window
from harness.sim.replies import Answer, ApiError, Reply
from harness.sim.wire.values import b64, epoch, raw

CREATE_KINDS = {
    "CreateFeatureGroup": "feature_group",
    "CreateTrainingJob": "training_job",
    "CreateEndpoint": "endpoint",
}
NAME_FIELDS = {"feature_group": "FeatureGroupName", "training_job": "TrainingJobName", "endpoint": "EndpointName"}
# List calls whose StatusEquals must see the lifecycle's status: (list member, status field)
STATUS_FILTERS = {
    "ListEndpoints": ("Endpoints", "EndpointStatus"),
    "ListTrainingJobs": ("TrainingJobSummaries", "TrainingJobStatus"),
}
# Creates whose name must be free, as AWS checks it and moto does not (the lifecycle would
# restart): operation -> (name field, moto's store, ARN resource type, what AWS calls it)
NAMED_CREATES = {
    "CreateEndpoint": ("EndpointName", "endpoints", "endpoint", "endpoint"),
    "CreateEndpointConfig": ("EndpointConfigName", "endpoint_configs", "endpoint-config", "endpoint configuration"),
    "CreateModel": ("ModelName", "_models", "model", "model"),
    "CreateTrainingJob": ("TrainingJobName", "training_jobs", "training-job", "training job"),
}
# the role a create passes to SageMaker: AWS refuses one from another account
ROLE_FIELDS = {
    "CreateTrainingJob": "RoleArn",
    "CreateModel": "ExecutionRoleArn",
    "CreateFeatureGroup": "RoleArn",
    "CreateProcessingJob": "RoleArn",
    "CreatePipeline": "RoleArn",
}
# the images a create makes SageMaker pull: (path to the image fields, AWS's message when the
# image is in another region)
IMAGE_FIELDS = {
    "CreateTrainingJob": (("AlgorithmSpecification", "TrainingImage"),),
    "CreateModel": (("PrimaryContainer", "Image"), ("Containers", "*", "Image")),
}
ECR_REGION = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")
MAX_TAGS = 50  # per SageMaker resource (AWS tagging quota)
# A job whose input its container refuses fails once SageMaker has launched its instance and
# downloaded its data (the Starting and Downloading phases): about two minutes, not its whole run.
INPUT_READ_SECONDS = 120.0
# Workbench names a classifier's per-class metrics Metrics:<class>:<metric> in its training job
WORKBENCH_CLASS_METRIC = re.compile(r"^Metrics:(.+):(precision|recall|f1|support)$")


class SageMaker:
    def __init__(
        self,
        lifecycles: Lifecycles,
        quotas: QuotaTable,
        moto: Moto,
        epoch: float = 0.0,
        strict_account: bool = False,
        seed: int = 0,
    ) -> None:
        """epoch: the Unix time AWS time 0 stands for, in the timestamps this answers;
        strict_account: refuse a role from another account, as AWS does; seed: the stand-in
        model's predictions."""
        self.lifecycles, self.quotas, self.moto, self.epoch = lifecycles, quotas, moto, epoch
        self.strict_account, self.seed = strict_account, seed
        self.online_only: set[tuple[str, str, str]] = set()  # feature groups with no offline store
        self.versions: dict[tuple[str, str, str], int] = {}  # the highest version given in each model package group
        # training jobs whose model artifact is still to be written: (when they end, order, lifecycle)
        self._artifacts: list[tuple[float, int, Lifecycle]] = []

    def handle(self, call: Call) -> Reply:
        """A SageMaker call: our handler where there is one (and it answers), else moto's."""
        if self.strict_account and call.operation in ROLE_FIELDS:
            role = str(call.params.get(ROLE_FIELDS[call.operation]) or "")
            if role.count(":") >= 5 and role.split(":")[4] != call.account:
                return errors.validation(call, "Cross-account pass role is not allowed.")
        if self.strict_account and call.operation in IMAGE_FIELDS:
            refused = self._image_elsewhere(call)
            if refused is not None:
                return refused
        if call.operation in NAMED_CREATES:
            taken = self._name_taken(call)
            if taken is not None:
                return taken
        handler = getattr(self, "_sm_" + call.operation, None)
        params = call.params
        if handler is not None:
            answer = handler(call)
            if isinstance(answer, dict):  # the request moto is to get instead
                params = answer
            elif answer is not None:
                return answer
        return self.passthrough(call, params)

    def _image_elsewhere(self, call: Call) -> Reply | None:
        """AWS does not pull an ECR image across regions; its answer names the image's region."""

        def images(value: object, path: tuple[str, ...]) -> Iterator[object]:
            if not path:
                yield value
            elif path[0] == "*":
                for item in value if isinstance(value, list) else []:
                    yield from images(item, path[1:])
            elif isinstance(value, dict) and path[0] in value:
                yield from images(value[path[0]], path[1:])

        request = call.params
        for path in IMAGE_FIELDS[call.operation]:
            for image in images(request, path):
                found = ECR_REGION.match(str(image))
                if found is None or found.group(1) == call.region:
                    continue
                if call.operation == "CreateTrainingJob":
                    return errors.validation(
                        call,
                        f"Invalid DNS suffix 'amazonaws.com' for region '{found.group(1)}' in training "
                        f"image. Please provide the valid <region>.<dns-suffix>: '{call.region}.amazonaws.com'",
                    )
                return errors.validation(
                    call,
                    f'Region of "{image}" does not match expected region of '
                    f"{call.region}. Cross region ECR image pulls are not allowed.",
                )
        return None

    def backend(self, call: Call):
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[call.account][call.region]

    def _feature_group(self, call: Call, name: str):
        for group in self.backend(call).feature_groups.values():
            if group.feature_group_name == name:
                return group
        return None

    def feature_group_schema(self, call: Call, name: str) -> FeatureGroupSchema | None:
        """What the runtime needs of a Created feature group (None if there is none)."""
        group = self._feature_group(call, name)
        lifecycle = self.lifecycles.get("feature_group", call.account, call.region, name)
        if group is None or (lifecycle is not None and self.lifecycles.status(lifecycle) != "Created"):
            return None
        types = {d.get("FeatureName"): d.get("FeatureType") for d in group.feature_definitions or []}
        return FeatureGroupSchema(group.record_identifier_feature_name, group.event_time_feature_name, types)

    def passthrough(self, call: Call, params: dict) -> Reply:
        """moto answers; creates start a lifecycle, describes and lists get their status rewritten.
        params: the request moto gets (a handler may have changed the call's own)."""
        kind = CREATE_KINDS.get(call.operation)
        if kind is not None:
            quota = self.quotas.lookup(call.service, call.operation)
            if quota is not None and quota.concurrency is not None:
                busy = self.lifecycles.in_progress(kind, call.account, call.region)
                if busy >= quota.concurrency:
                    return errors.limit_exceeded(
                        call,
                        f"The account-level service limit for concurrent {kind.replace('_', ' ')} "
                        f"operations is {quota.concurrency}; {busy} are in progress.",
                    )
        wanted = None
        if call.operation in STATUS_FILTERS:
            # moto filters on its own status, which the lifecycle rewrites after: filter here
            params = dict(params)
            wanted = params.pop("StatusEquals", None)
        rewrite = getattr(self, "_rewrite_" + call.operation, None)
        reads_answer = rewrite is not None or call.operation.startswith("Describe") or wanted is not None
        if params is call.params and not reads_answer:
            reply = self.moto.forward(call)
        else:
            reply = self.moto.ask(call, params)
        if isinstance(reply, ApiError) or reply.status != 200:
            return reply
        if kind is not None:
            lifecycle = self.lifecycles.start(kind, call.account, call.region, call.params.get(NAME_FIELDS[kind], ""))
            if kind == "training_job":
                self._started_training(call, lifecycle)
            return reply
        if not isinstance(reply, Answer):
            return reply
        answer = reply.output
        # moto answers absent optional structures as {} (e.g. DataCaptureConfig); AWS leaves
        # them out, and typed clients such as the SageMaker SDK reject the empty ones.
        for key in [k for k, v in answer.items() if v == {}]:
            del answer[key]
        if rewrite is not None:
            rewrite(call, answer)
        if wanted is not None:
            items, field = STATUS_FILTERS[call.operation]
            answer[items] = [item for item in answer.get(items, []) if item.get(field) == wanted]
        return reply

    def _started_training(self, call: Call, lifecycle: Lifecycle) -> None:
        """moto replaces a job's MetricDefinitions with its own (test:dcg); AWS keeps the caller's.
        The job's model artifact is due when it ends; a job whose input its container refuses
        (algorithms.py) fails once it has read it."""
        role = str(call.params.get("RoleArn"))
        refused = training_failure(call.params, partial(self._s3_objects, call.account), role)
        if refused is not None:
            lifecycle.fails, lifecycle.failure = True, refused
            lifecycle.ready_at = min(lifecycle.ready_at, lifecycle.started_at + INPUT_READ_SECONDS)
        job = self.backend(call).training_jobs.get(lifecycle.name)
        if job is not None:
            asked = (call.params.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
            if asked:
                job.algorithm_specification["MetricDefinitions"] = asked
            else:
                job.algorithm_specification.pop("MetricDefinitions", None)
        heapq.heappush(self._artifacts, (lifecycle.ready_at, len(self._artifacts), lifecycle))

    @staticmethod
    def _s3_objects(account: str, uri: str) -> list[tuple[str, bytes]]:
        """(key, body) of every object whose key starts with the URI's prefix: an S3Prefix channel
        is every such object, folder or not."""
        from moto.s3.models import s3_backends

        bucket_name, _, prefix = uri.removeprefix("s3://").partition("/")
        try:
            bucket = s3_backends[account]["aws"].get_bucket(bucket_name)
        except Exception:  # noqa: BLE001 - no such bucket: no objects
            return []
        return [(key, bucket.keys[key].value) for key in sorted(bucket.keys.keys()) if key.startswith(prefix)]

    def settle(self) -> None:
        """Write the model.tar.gz of every training job that has completed by now, where its
        ModelArtifacts.S3ModelArtifacts points (AWS uploads it as the job ends). A job that
        failed or was stopped leaves none. Cheap when nothing is due: the simulator calls it
        before every request."""
        now = self.lifecycles.now()
        while self._artifacts and self._artifacts[0][0] <= now:
            _, _, lifecycle = heapq.heappop(self._artifacts)
            if self.lifecycles.status(lifecycle) == "Completed":
                self._write_model_artifact(lifecycle)

    def _write_model_artifact(self, lifecycle: Lifecycle) -> None:
        from moto.s3.models import s3_backends
        from moto.sagemaker.models import sagemaker_backends

        job = sagemaker_backends[lifecycle.account][lifecycle.region].training_jobs.get(lifecycle.name)
        uri = str(((job.model_artifacts or {}) if job is not None else {}).get("S3ModelArtifacts", ""))
        if job is None or not uri.startswith("s3://"):
            return
        bucket, _, key = uri[5:].partition("/")
        try:
            s3_backends[lifecycle.account]["aws"].put_object(bucket, key, model_archive(job))
        except Exception:  # noqa: BLE001 - the output bucket is gone: nothing to write into
            pass

    def _date(self, aws_seconds: float) -> datetime:
        """The date of an instant of AWS time, to the millisecond, as AWS dates and moto's
        answers (made on the same clock, lifecycle.py) have it."""
        return to_millisecond(self.epoch + aws_seconds)

    def _status_of(self, call: Call, kind: str, name: str) -> str | None:
        lifecycle = self.lifecycles.get(kind, call.account, call.region, name)
        return None if lifecycle is None else self.lifecycles.status(lifecycle)

    def _rewrite_DescribeFeatureGroup(self, call: Call, answer: dict) -> None:
        lifecycle = self.lifecycles.get("feature_group", call.account, call.region, answer.get("FeatureGroupName", ""))
        if lifecycle is None:
            return
        answer["FeatureGroupStatus"] = self.lifecycles.status(lifecycle)
        self._stamp(answer, lifecycle, answer["FeatureGroupStatus"], ("Created", "CreateFailed"))
        if (call.account, call.region, answer.get("FeatureGroupName", "")) in self.online_only:
            answer.pop("OfflineStoreConfig", None)
            answer.pop("OfflineStoreStatus", None)
        elif answer.get("OfflineStoreConfig") and self.lifecycles.now() >= (lifecycle.offline_at or 0):
            answer["OfflineStoreStatus"] = {"Status": "Active"}

    def _rewrite_DescribeTrainingJob(self, call: Call, answer: dict) -> None:
        lifecycle = self.lifecycles.get("training_job", call.account, call.region, answer.get("TrainingJobName", ""))
        if lifecycle is None:
            return
        self.settle()  # Completed here means its artifact is there
        status = self.lifecycles.status(lifecycle)
        answer["TrainingJobStatus"] = status
        answer["SecondaryStatus"] = {
            "InProgress": "Training",
            "Completed": "Completed",
            "Failed": "Failed",
            "Stopping": "Stopping",
            "Stopped": "Stopped",
        }[status]
        if status == "Failed":
            answer["FailureReason"] = lifecycle.failure or "AlgorithmError: simulated training failure"
        # moto answers a fixed date for both; AWS's follow the job, and a finished job is billed
        answer["CreationTime"] = answer["TrainingStartTime"] = self._date(lifecycle.started_at)
        for key in ("TrainingEndTime", "TrainingTimeInSeconds", "BillableTimeInSeconds"):
            answer.pop(key, None)
        ended = {
            "Completed": lifecycle.ready_at,
            "Failed": lifecycle.ready_at,
            "Stopped": lifecycle.stopping_until,
        }.get(status)
        if ended is not None:
            answer["TrainingEndTime"] = self._date(ended)
            answer["TrainingTimeInSeconds"] = answer["BillableTimeInSeconds"] = max(
                1, int(ended - lifecycle.started_at)
            )
        # last modified when the job last changed status: its end, or while it runs its start
        answer["LastModifiedTime"] = self._date(ended if ended is not None else lifecycle.started_at)

    def _rewrite_ListTrainingJobs(self, call: Call, answer: dict) -> None:
        for summary in answer.get("TrainingJobSummaries", []):
            summary["TrainingJobStatus"] = self._status_of(
                call, "training_job", summary.get("TrainingJobName", "")
            ) or summary.get("TrainingJobStatus")

    def _stamp(self, answer: dict, lifecycle, status: str, settled: tuple[str, ...]) -> None:
        """CreationTime and LastModifiedTime as AWS sets them: created when the create came, last
        modified when the resource reached the state it is in (moto answers its own dates)."""
        answer["CreationTime"] = self._date(lifecycle.started_at)
        answer["LastModifiedTime"] = self._date(lifecycle.ready_at if status in settled else lifecycle.started_at)

    def _rewrite_DescribeEndpoint(self, call: Call, answer: dict) -> None:
        lifecycle = self.lifecycles.get("endpoint", call.account, call.region, answer.get("EndpointName", ""))
        if lifecycle is None:
            return
        status = self.lifecycles.status(lifecycle)
        answer["EndpointStatus"] = status
        self._stamp(answer, lifecycle, status, ("InService", "Failed"))
        if status == "Failed":
            answer["FailureReason"] = (
                "Simulated endpoint failure: the primary container did not pass the ping health check."
            )

    def _rewrite_ListEndpoints(self, call: Call, answer: dict) -> None:
        for summary in answer.get("Endpoints", []):
            summary["EndpointStatus"] = self._status_of(
                call, "endpoint", summary.get("EndpointName", "")
            ) or summary.get("EndpointStatus")

    def _rewrite_DescribeModel(self, call: Call, answer: dict) -> None:
        # moto answers an empty VpcConfig, which AWS never does and the SageMaker SDK rejects.
        if not (answer.get("VpcConfig") or {}).get("Subnets"):
            answer.pop("VpcConfig", None)

    def _sm_CreateFeatureGroup(self, call: Call) -> Reply | dict | None:
        """An online-only feature group (no OfflineStoreConfig) is valid in AWS; moto fails on
        it (TypeError), so moto is given a placeholder and the describe leaves it out."""
        if "OfflineStoreConfig" in call.params:
            return None
        self.online_only.add((call.account, call.region, call.params.get("FeatureGroupName", "")))
        return {
            **call.params,
            "OfflineStoreConfig": {
                "S3StorageConfig": {"S3Uri": "s3://simulator-online-only"},
                "DisableGlueTableCreation": True,
            },
        }

    def _name_taken(self, call: Call) -> Reply | None:
        field, store, kind, label = NAMED_CREATES[call.operation]
        name = call.params.get(field, "")
        if name not in getattr(self.backend(call), store):
            return None
        arn = f"arn:aws:sagemaker:{call.region}:{call.account}:{kind}/{name.lower()}"
        if call.operation == "CreateTrainingJob":
            return errors.error(
                call,
                400,
                "ResourceInUse",
                "Training job names must be unique within an AWS "
                f"account and region, and a training job with this name already exists ({arn})",
            )
        return errors.validation(call, f'Cannot create already existing {label} "{arn}".')

    def _sm_ListModels(self, call: Call) -> Reply:
        """moto lists every model on one page; AWS filters by NameContains and creation time,
        sorts (CreationTime, Descending by default) and pages MaxResults at a time."""
        request = call.params
        try:
            start, size = page_window(request, 10, 1, 100)
        except ValueError as err:
            return errors.validation(call, str(err))
        contains = (request.get("NameContains") or "").lower()
        before, after = request.get("CreationTimeBefore"), request.get("CreationTimeAfter")
        models = [
            m
            for m in self.backend(call)._models.values()
            if contains in m.model_name.lower()
            and (before is None or epoch(m.creation_time) < epoch(before))
            and (after is None or epoch(m.creation_time) > epoch(after))
        ]
        by_name = request.get("SortBy") == "Name"
        models.sort(
            key=(lambda m: m.model_name) if by_name else (lambda m: m.creation_time),
            reverse=request.get("SortOrder", "Descending") == "Descending",
        )
        summaries = [
            {"ModelName": m.model_name, "ModelArn": m.arn, "CreationTime": to_millisecond(m.creation_time)}
            for m in models
        ]
        return errors.ok(page(summaries, start, size, "Models"))

    def _rewrite_DescribeModelPackage(self, call: Call, answer: dict) -> None:
        # botocore marks ModelPackageName required: a versioned package's is AWS's "group/version"
        if "ModelPackageName" not in answer and answer.get("ModelPackageGroupName"):
            answer["ModelPackageName"] = f"{answer['ModelPackageGroupName']}/{answer.get('ModelPackageVersion', 1)}"

    def _sm_CreateModelPackage(self, call: Call) -> Reply | None:
        """A new version in a model package group. moto numbers it one more than the group holds
        (so a version deleted below the newest has its number given again, and the package that
        holds it is replaced) and names it after the group (so the name the SDK deletes by is the
        group's, whose newest version moto deletes). AWS numbers it one more than the highest it
        has given in the group and names it "group/version"; so does this."""
        backend, group = self.backend(call), call.params.get("ModelPackageGroupName")
        if not group or call.params.get("ModelPackageName") or group not in backend.model_package_groups:
            return None  # an unversioned package, or moto's refusal
        key = (call.account, call.region, group)
        siblings = {arn: p for arn, p in backend.model_packages.items() if p.model_package_group_name == group}
        version = 1 + max([self.versions.get(key, 0)] + [p.model_package_version or 0 for p in siblings.values()])
        for arn in siblings:  # set aside while moto makes the new one (which it numbers 1)
            del backend.model_packages[arn]
        try:
            reply = self.moto.ask(call, call.params)
            made = (
                backend.model_packages.pop(reply.output.get("ModelPackageArn", ""), None)
                if isinstance(reply, Answer) and reply.status == 200
                else None
            )
        finally:
            backend.model_packages.update(siblings)
        if made is None:
            return reply
        given = made.arn
        made.model_package_version, made.model_package_name = version, f"{group}/{version}"
        made.arn = given.rsplit("/", 1)[0] + f"/{version}"
        for statuses in (made.model_package_status_details or {}).values():
            for status in statuses:
                if status.get("Name") == given:
                    status["Name"] = made.arn
        backend.model_packages[made.arn] = made
        names = backend.model_package_name_mapping
        if given not in backend.model_packages:
            names.pop(given, None)
        names.update({group: made.arn, made.arn: made.arn, made.model_package_name: made.arn})
        self.versions[key] = version
        return errors.ok({"ModelPackageArn": made.arn})

    def _sm_DescribeFeatureGroup(self, call: Call) -> Reply | dict | None:
        name = call.params.get("FeatureGroupName", "")
        if self._feature_group(call, name) is None:  # moto answers 500 here
            return errors.not_found(
                call, f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {name}"
            )
        return None

    def _sm_DeleteFeatureGroup(self, call: Call) -> Reply:
        name = call.params.get("FeatureGroupName", "")
        if self._feature_group(call, name) is None:
            return errors.not_found(
                call, f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {name}"
            )
        lifecycle = self.lifecycles.get("feature_group", call.account, call.region, name) or self.lifecycles.start(
            "feature_group", call.account, call.region, name
        )
        self.lifecycles.start_deleting(lifecycle)
        return errors.ok({})

    def _sm_DeleteEndpoint(self, call: Call) -> Reply | dict | None:
        name = call.params.get("EndpointName", "")
        if name not in self.backend(call).endpoints:
            return None  # moto's own ValidationException
        lifecycle = self.lifecycles.get("endpoint", call.account, call.region, name) or self.lifecycles.start(
            "endpoint", call.account, call.region, name
        )
        self.lifecycles.start_deleting(lifecycle)
        return errors.ok({})

    def _sm_StopTrainingJob(self, call: Call) -> Reply:
        """moto lacks it (HTTP 500). A running job goes Stopping, then Stopped."""
        name = call.params.get("TrainingJobName", "")
        if name not in self.backend(call).training_jobs:
            return errors.not_found(call, f"Requested resource not found: training job {name} does not exist.")
        lifecycle = self.lifecycles.get("training_job", call.account, call.region, name)
        status = "Completed" if lifecycle is None else self.lifecycles.status(lifecycle)
        if status == "Stopping":
            return errors.ok({})
        if lifecycle is None or status != "InProgress":
            return errors.validation(call, f"The request was rejected because the training job is in status {status}.")
        self.lifecycles.start_stopping(lifecycle)
        return errors.ok({})

    def _sm_DeleteModelPackage(self, call: Call) -> Reply:
        """By ARN, by a versioned package's "group/version" or by an unversioned one's name."""
        backend, name = self.backend(call), call.params.get("ModelPackageName", "")
        arn = name if name in backend.model_packages else backend.model_package_name_mapping.get(name)
        if arn is None or arn not in backend.model_packages:
            return errors.validation(call, f"Model package {name} does not exist.")
        del backend.model_packages[arn]
        for alias in [k for k, v in backend.model_package_name_mapping.items() if v == arn]:
            del backend.model_package_name_mapping[alias]
        return errors.ok({})

    def _sm_DeleteModelPackageGroup(self, call: Call) -> Reply:
        backend, name = self.backend(call), call.params.get("ModelPackageGroupName", "")
        if name not in backend.model_package_groups:
            return errors.validation(call, f"ModelPackageGroup {name} does not exist.")
        if any(p.model_package_group_name == name for p in backend.model_packages.values()):
            return errors.error(
                call,
                400,
                "ConflictException",
                f"Model package group {name} still has model packages; delete them first.",
            )
        del backend.model_package_groups[name]
        self.versions.pop((call.account, call.region, name), None)  # a new group of this name starts at 1
        return errors.ok({})

    def _sm_ListTags(self, call: Call) -> Reply | dict | None:
        """moto cannot list a feature group's tags, and answers 500 for unknown resources."""
        arn = call.params.get("ResourceArn", "")
        resource = self._tagged(call, arn)
        if resource is None:
            return errors.validation(call, f"Could not find resource {arn}")
        if ":feature-group/" in arn:
            return errors.ok({"Tags": resource.tags or []})
        return None  # moto's answer, with its paging

    def _tagged(self, call: Call, arn: str):
        """The moto object that holds this ARN's tags (feature groups included), or None."""
        if ":feature-group/" in arn:
            return next((g for g in self.backend(call).feature_groups.values() if g.arn == arn), None)
        try:
            return self.backend(call)._get_resource_from_arn(arn)
        except Exception:  # moto raises for what it does not know
            return None

    def _sm_AddTags(self, call: Call) -> Reply:
        """Adds or overwrites by key, as AWS does (moto appends duplicates, and cannot tag a
        feature group after creation); a resource holds at most 50 tags."""
        params = call.params
        arn = params.get("ResourceArn", "")
        resource = self._tagged(call, arn)
        if resource is None:
            return errors.validation(call, f"Could not find resource {arn}")
        new = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
        merged = [t for t in (resource.tags or []) if t["Key"] not in new] + [
            {"Key": k, "Value": v} for k, v in new.items()
        ]
        if len(merged) > MAX_TAGS:
            return errors.validation(
                call,
                f"Tag limit exceeded: {arn} would have {len(merged)} tags; a resource can have at most {MAX_TAGS}.",
            )
        resource.tags = merged
        return errors.ok({"Tags": merged})

    def _sm_DeleteTags(self, call: Call) -> Reply:
        params = call.params
        arn = params.get("ResourceArn", "")
        resource = self._tagged(call, arn)
        if resource is None:
            return errors.validation(call, f"Could not find resource {arn}")
        gone = set(params.get("TagKeys", []))
        resource.tags = [t for t in (resource.tags or []) if t["Key"] not in gone]
        return errors.ok({})

    def _sm_ListMonitoringSchedules(self, call: Call) -> Reply:
        """None: the simulator makes no monitoring schedules (CreateMonitoringSchedule is a gap,
        answered 501), and SDKs list them before deleting an endpoint (Workbench does)."""
        return errors.ok({"MonitoringScheduleSummaries": []})

    def _sm_ListFeatureGroups(self, call: Call) -> Reply:
        params = call.params
        rows = []
        for group in self.backend(call).feature_groups.values():
            status = self._status_of(call, "feature_group", group.feature_group_name) or "Created"
            lifecycle = self.lifecycles.get("feature_group", call.account, call.region, group.feature_group_name)
            offline = None
            if group.offline_store_config and (
                lifecycle is None or self.lifecycles.now() >= (lifecycle.offline_at or 0)
            ):
                offline = {"Status": "Active"}
            row = {
                "FeatureGroupName": group.feature_group_name,
                "FeatureGroupArn": group.arn,
                "CreationTime": to_millisecond(group.creation_time),
                "FeatureGroupStatus": status,
            }
            if offline:
                row["OfflineStoreStatus"] = offline
            rows.append(row)
        if params.get("NameContains"):
            rows = [r for r in rows if params["NameContains"] in r["FeatureGroupName"]]
        if params.get("FeatureGroupStatusEquals"):
            rows = [r for r in rows if r["FeatureGroupStatus"] == params["FeatureGroupStatusEquals"]]
        if params.get("OfflineStoreStatusEquals"):
            rows = [
                r
                for r in rows
                if (r.get("OfflineStoreStatus") or {}).get("Status") == params["OfflineStoreStatusEquals"]
            ]
        sort_field = {
            "Name": "FeatureGroupName",
            "FeatureGroupStatus": "FeatureGroupStatus",
            "CreationTime": "CreationTime",
        }.get(params.get("SortBy", "CreationTime"), "CreationTime")
        rows.sort(key=lambda r: r.get(sort_field) or "", reverse=params.get("SortOrder", "Descending") == "Descending")
        try:
            start, size = page_window(params, 10, 1, 100)
        except ValueError as err:
            return errors.validation(call, str(err))
        return errors.ok(page(rows, start, size, "FeatureGroupSummaries"))

    def runtime(self, call: Call) -> Reply | None:
        """sagemaker-runtime: InvokeEndpoint is answered here (moto's answers canned text)."""
        return self.invoke_endpoint(call) if call.operation == "InvokeEndpoint" else None

    def invoke_endpoint(self, call: Call) -> Reply:
        name = call.params.get("EndpointName", "")
        status = self._status_of(call, "endpoint", name)
        if name not in self.backend(call).endpoints or status not in (None, "InService"):
            return errors.validation(
                call,
                f"Endpoint {name} of account {call.account} not found."
                if status is None
                else f"Endpoint {name} is not InService (it is {status}).",
            )
        text = raw(call.params.get("Body", "")).decode("utf-8", "replace")
        content_type = str(call.params.get("ContentType") or "").split(";", 1)[0].strip().lower()
        table = [row for row in csv.reader(io.StringIO(text)) if any(field.strip() for field in row)]
        if content_type == "text/csv" and table and csv_header(table):
            body = self._predict_table(table, self._classes(call, name))
        else:
            # SageMaker's XGBoost: headerless CSV in, one deterministic score per input row out
            rows = [line for line in text.splitlines() if line.strip()]
            body = "\n".join(str(round((sum(map(ord, row)) % 1000) / 1000.0, 3)) for row in rows)
        return errors.ok(
            {"Body": b64(body.encode()), "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic"}
        )

    def _predict_table(self, table: list[list[str]], classes: list[str]) -> str:
        """A stand-in model's answer to CSV with a header, as Workbench's endpoints answer: the
        input columns, then `prediction` (and for a classifier `<class>_proba` per class), one
        row per input row. Each row's answer is drawn from the seed and the row's values alone,
        so the same row gets the same prediction in every run with that seed."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table[0] + ["prediction"] + [f"{label}_proba" for label in classes])
        for row in table[1:]:
            rng = random.Random(f"{self.seed}:prediction:" + ",".join(row))
            if not classes:
                writer.writerow(row + [round(rng.random(), 6)])
                continue
            weights = [rng.random() + 1e-9 for _ in classes]
            probabilities = [round(w / sum(weights), 6) for w in weights]
            best = max(range(len(classes)), key=lambda i: probabilities[i])
            writer.writerow(row + [classes[best]] + probabilities)
        return out.getvalue()

    def _classes(self, call: Call, endpoint_name: str) -> list[str]:
        """The classes of the model behind the endpoint, when its training job says it is a
        classifier; [] (a regressor) when nothing says so."""
        backend = self.backend(call)
        endpoint = backend.endpoints.get(endpoint_name)
        config = backend.endpoint_configs.get(getattr(endpoint, "endpoint_config_name", ""))
        variants = list(getattr(config, "production_variants", None) or [])
        wanted = call.params.get("TargetVariant")
        variant = next((v for v in variants if v.get("VariantName") == wanted), variants[0] if variants else {})
        model = backend._models.get(variant.get("ModelName", ""))
        if model is None:
            return []
        container = model.primary_container or (model.containers[0] if model.containers else {}) or {}
        url = container.get("ModelDataUrl")
        package_name = container.get("ModelPackageName")
        if url is None and package_name:  # a model made from a model package: its container's artifact
            arn = backend.model_package_name_mapping.get(package_name, package_name)
            package = backend.model_packages.get(arn)
            containers = ((getattr(package, "inference_specification", None) or {}).get("Containers")) or [{}]
            url = containers[0].get("ModelDataUrl")
        job = next(
            (j for j in backend.training_jobs.values() if (j.model_artifacts or {}).get("S3ModelArtifacts") == url),
            None,
        )
        return [] if job is None or url is None else classes_of(job.hyper_parameters, job.algorithm_specification)


def to_millisecond(value: object) -> datetime:
    """A date (Unix seconds, or one of moto's datetimes, naive ones UTC) to the millisecond, as
    AWS answers dates and moto writes them."""
    moment = datetime.fromtimestamp(epoch(value), timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def classes_of(hyper_parameters: dict | None, algorithm: dict | None) -> list[str]:
    """What a training job says of its model's classes: XGBoost's objective (binary:* two
    classes, multi:* num_class of them, named 0, 1, ...), or Workbench's per-class metric
    definitions (Metrics:<class>:precision ...). [] for anything else: a regressor."""
    hyper_parameters = hyper_parameters or {}
    objective = str(hyper_parameters.get("objective", "")).strip('"')
    if objective.startswith("binary:"):
        return ["0", "1"]
    if objective.startswith("multi:"):
        try:
            count = int(str(hyper_parameters.get("num_class", "0")).strip('"'))
        except ValueError:
            count = 0
        if count > 1:
            return [str(i) for i in range(count)]
    labels: list[str] = []
    for definition in (algorithm or {}).get("MetricDefinitions") or []:
        found = WORKBENCH_CLASS_METRIC.match(str(definition.get("Name", "")))
        if found and found.group(1) not in labels:
            labels.append(found.group(1))
    return labels if len(labels) > 1 else []


def csv_header(table: list[list[str]]) -> bool:
    """Whether the first row is a header: none of its fields is a number or empty, and the rows
    after it (if any) hold a number somewhere. (Headerless CSV, as SageMaker's XGBoost takes,
    starts with numbers.)"""

    def number(value: str) -> bool:
        try:
            float(value)
        except ValueError:
            return False
        return True

    first = table[0]
    if any(not field.strip() or number(field) for field in first):
        return False
    return len(table) == 1 or any(number(field) for row in table[1:] for field in row)


def model_archive(job) -> bytes:
    """A small valid model.tar.gz: what the simulator knows of the model, as JSON."""
    description = {
        "simulated": True,
        "TrainingJobName": job.training_job_name,
        "HyperParameters": job.hyper_parameters or {},
        "classes": classes_of(job.hyper_parameters, job.algorithm_specification),
    }
    payload = json.dumps(description, indent=2, sort_keys=True).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("simulated-model.json")
        info.size, info.mode = len(payload), 0o644
        archive.addfile(info, io.BytesIO(payload))
    return gzip.compress(buffer.getvalue(), mtime=0)  # the same bytes for the same job
