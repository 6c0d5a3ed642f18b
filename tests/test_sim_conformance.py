"""The simulator answers as AWS does where moto does not: each test makes the boto3 call a user
would make and checks AWS's documented answer (issue 16's list of differences)."""
import pytest
from botocore.exceptions import ClientError

from simhelpers import wait_for

ROLE = "arn:aws:iam::123456789012:role/conformance"


def endpoint_parts(sagemaker, name: str) -> None:
    sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": f"{name}-model", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])


def training_job(sagemaker, name: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"}, StoppingCondition={"MaxRuntimeInSeconds": 3600},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10})


def test_head_object_reports_the_objects_size(client):
    s3 = client("s3")
    s3.create_bucket(Bucket="sizes")
    s3.put_object(Bucket="sizes", Key="five-mb", Body=b"x" * (5 * 1024 * 1024))
    assert s3.head_object(Bucket="sizes", Key="five-mb")["ContentLength"] == 5 * 1024 * 1024
    assert s3.get_object(Bucket="sizes", Key="five-mb")["ContentLength"] == 5 * 1024 * 1024


def test_list_calls_filter_on_the_status_a_describe_reports(simulator, client):
    """moto filters on its own status; the lifecycle's Creating endpoint and InProgress job are found."""
    simulator.reset(profile="calm", time_scale=1.0)  # a 1-AWS-minute endpoint stays Creating here
    sagemaker = client("sagemaker")
    endpoint_parts(sagemaker, "listed")
    sagemaker.create_endpoint(EndpointName="listed", EndpointConfigName="listed-config")
    training_job(sagemaker, "listed-job")
    assert sagemaker.describe_endpoint(EndpointName="listed")["EndpointStatus"] == "Creating"

    def names(status):
        return [e["EndpointName"] for e in sagemaker.list_endpoints(StatusEquals=status)["Endpoints"]]
    assert names("Creating") == ["listed"]
    assert names("InService") == []
    jobs = sagemaker.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in jobs] == ["listed-job"]
    assert sagemaker.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"] == []


def test_a_name_already_taken_is_refused_and_the_resource_is_left_as_it_was(simulator, client):
    simulator.reset(profile="calm", time_scale=0.01)
    sagemaker = client("sagemaker")
    endpoint_parts(sagemaker, "taken")
    sagemaker.create_endpoint(EndpointName="taken", EndpointConfigName="taken-config")
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="taken")["EndpointStatus"] == "InService", timeout=60)

    with pytest.raises(ClientError) as refused:
        sagemaker.create_endpoint(EndpointName="taken", EndpointConfigName="taken-config")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/taken".')
    assert sagemaker.describe_endpoint(EndpointName="taken")["EndpointStatus"] == "InService"  # no restart

    with pytest.raises(ClientError, match="Cannot create already existing model"):
        sagemaker.create_model(ModelName="taken-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    with pytest.raises(ClientError, match="Cannot create already existing endpoint configuration"):
        sagemaker.create_endpoint_config(EndpointConfigName="taken-config", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "taken-model", "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
    training_job(sagemaker, "taken-job")
    with pytest.raises(ClientError) as in_use:
        training_job(sagemaker, "taken-job")
    assert in_use.value.response["Error"]["Code"] == "ResourceInUse"


def test_a_crash_in_moto_is_an_aws_shaped_internal_failure_and_counted(simulator, client):
    """An operation moto's server fails on answers as AWS's 500 would (botocore parses it and
    retries it as a server error), never a Werkzeug HTML page, and /_sim/stats counts it."""
    glue = client("glue")
    with pytest.raises(ClientError) as crashed:
        glue.get_data_quality_result(ResultId="dqresult-missing")
    error = crashed.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error["Error"]["Code"] == "InternalFailure"
    assert simulator.stats()["operations"]["glue.GetDataQualityResult"]["crashes"] == 1


def test_an_online_only_feature_group_is_created_and_described_without_an_offline_store(simulator, client):
    simulator.reset(profile="calm", time_scale=0.01)
    sagemaker = client("sagemaker")
    sagemaker.create_feature_group(
        FeatureGroupName="online-only", RecordIdentifierFeatureName="id", EventTimeFeatureName="t",
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "t", "FeatureType": "String"}],
        OnlineStoreConfig={"EnableOnlineStore": True})
    described = wait_for(lambda: (lambda d: d if d["FeatureGroupStatus"] == "Created" else None)(
        sagemaker.describe_feature_group(FeatureGroupName="online-only")), timeout=60)
    assert "OfflineStoreConfig" not in described and "OfflineStoreStatus" not in described
    client("sagemaker-featurestore-runtime").put_record(
        FeatureGroupName="online-only", Record=[{"FeatureName": "id", "ValueAsString": "1"},
                                                {"FeatureName": "t", "ValueAsString": "2026-11-28T00:00:00Z"}])
