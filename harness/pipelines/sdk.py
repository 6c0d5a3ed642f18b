"""The built-in `workbench-sdk` pipeline: the workbench steps, with the model and the endpoint
driven through the SageMaker Python SDK's typed resources (sagemaker.core.resources), so the
SDK's own waiters and polling meet the same quotas. Data and feature stages are shared with
the workbench-light pipeline; teardown is the same.
"""

from __future__ import annotations

from harness.artifacts import Endpoint as EndpointArtifact
from harness.artifacts import Model as ModelArtifact
from harness.pipelines import workbench_light as workbench
from harness.pipelines.base import Pipeline, PipelineRun, Stage


def _where(run: PipelineRun) -> dict:
    return {"session": run.ctx.clients.sdk_session(), "region": run.ctx.clients.target.region}


def _tags(run: PipelineRun):
    from sagemaker.core.shapes import Tag

    return [Tag(key=t["Key"], value=t["Value"]) for t in run.ctx.tags()]


def sdk_model(run: PipelineRun) -> None:
    """Training through the harness (the SDK's trainer needs a real image), then the model
    through the SDK's typed Model resource."""
    from sagemaker.core.resources import Model
    from sagemaker.core.shapes import ContainerDefinition

    trained = ModelArtifact(run.ctx, run.base_name)
    run.made["model"] = trained
    trained.train(run.made["dataset"], "target", run.params.get("instance_type", workbench.DEFAULTS["instance_type"]))
    job = trained.training_job() or {}
    artifacts = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", run.ctx.s3_uri(f"models/{run.base_name}"))
    Model.create(
        model_name=run.base_name,
        execution_role_arn=run.ctx.role_arn,
        tags=_tags(run),
        primary_container=ContainerDefinition(image=run.ctx.image_uri, model_data_url=artifacts),
        **_where(run),
    )


def sdk_endpoint(run: PipelineRun) -> None:
    from sagemaker.core.resources import Endpoint, EndpointConfig
    from sagemaker.core.shapes import ProductionVariant

    name, where = run.base_name, _where(run)
    run.made["endpoint"] = EndpointArtifact(run.ctx, name)  # teardown deletes through the harness
    EndpointConfig.create(
        endpoint_config_name=name,
        tags=_tags(run),
        **where,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name=name,
                initial_instance_count=1,
                instance_type=run.params.get("instance_type", workbench.DEFAULTS["instance_type"]),
            )
        ],
    )
    endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=name, tags=_tags(run), **where)
    # The SDK polls every `poll` wall seconds: 30 s of AWS time, as boto3's waiter does.
    endpoint.wait_for_status(
        "InService",
        poll=max(1, round(30 * run.ctx.time_scale)),
        timeout=max(1, round(run.ctx.deadlines.endpoint * run.ctx.time_scale)),
    )


def sdk_pipeline() -> Pipeline:
    return Pipeline(
        "workbench-sdk",
        (
            Stage("data_source", workbench.data_source),
            Stage("feature_set", workbench.feature_set),
            Stage("model", sdk_model),
            Stage("endpoint", sdk_endpoint),
            Stage("inference", workbench.inference),
        ),
        workbench.teardown,
        __doc__.strip().splitlines()[0],
        workbench.PARAMS,
    )  # its stages read workbench-light's keys
