"""The simulator answers as AWS does where moto does not: each test makes the boto3 call a user
would make and checks AWS's documented answer (issue 16's list of differences)."""

import pytest
from botocore.exceptions import ClientError

from simhelpers import wait_for

ROLE = "arn:aws:iam::123456789012:role/conformance"


def endpoint_parts(sagemaker, name: str) -> None:
    sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def training_job(sagemaker, name: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    )


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
        'Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/taken".'
    )
    assert sagemaker.describe_endpoint(EndpointName="taken")["EndpointStatus"] == "InService"  # no restart

    with pytest.raises(ClientError, match="Cannot create already existing model"):
        sagemaker.create_model(ModelName="taken-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    with pytest.raises(ClientError, match="Cannot create already existing endpoint configuration"):
        sagemaker.create_endpoint_config(
            EndpointConfigName="taken-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "taken-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    training_job(sagemaker, "taken-job")
    with pytest.raises(ClientError) as in_use:
        training_job(sagemaker, "taken-job")
    assert in_use.value.response["Error"]["Code"] == "ResourceInUse"


def test_an_operation_moto_routes_but_lacks_is_not_implemented_and_counted(simulator, client):
    """moto routes Glue's GetDataQualityResult and raises NotImplementedError: AWS has it, the
    simulator does not, and says so in the caller's protocol (501, not retried), never a Werkzeug
    HTML page; /_sim/stats counts it apart from crashes."""
    glue = client("glue")
    with pytest.raises(ClientError) as lacking:
        glue.get_data_quality_result(ResultId="dqresult-missing")
    error = lacking.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (501, "NotImplemented")
    assert "glue.GetDataQualityResult" in error["Error"]["Message"]
    assert simulator.stats()["operations"]["glue.GetDataQualityResult"]["lacking"] == 1


def test_a_crash_in_moto_is_an_aws_shaped_internal_failure_and_counted(monkeypatch):
    """moto failing on a call answers as AWS's 500 would (botocore parses it and retries it as a
    server error), and is counted. (In this process, with moto made to fail.)"""
    from simhelpers import simulator_in_this_process

    from harness.sim.motobridge import Moto

    def fails(self, environ, body):
        raise RuntimeError("moto failed")

    monkeypatch.setattr(Moto, "wsgi", fails)
    with simulator_in_this_process() as (app, client):
        with pytest.raises(ClientError) as crashed:
            client("glue").get_databases()
    error = crashed.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (500, "InternalFailure")
    assert app.stats.snapshot()["operations"]["glue.GetDatabases"]["crashes"] == 1


def test_an_online_only_feature_group_is_created_and_described_without_an_offline_store(simulator, client):
    simulator.reset(profile="calm", time_scale=0.01)
    sagemaker = client("sagemaker")
    sagemaker.create_feature_group(
        FeatureGroupName="online-only",
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="t",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "t", "FeatureType": "String"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
    )
    described = wait_for(
        lambda: (lambda d: d if d["FeatureGroupStatus"] == "Created" else None)(
            sagemaker.describe_feature_group(FeatureGroupName="online-only")
        ),
        timeout=60,
    )
    assert "OfflineStoreConfig" not in described and "OfflineStoreStatus" not in described
    client("sagemaker-featurestore-runtime").put_record(
        FeatureGroupName="online-only",
        Record=[
            {"FeatureName": "id", "ValueAsString": "1"},
            {"FeatureName": "t", "ValueAsString": "2026-11-28T00:00:00Z"},
        ],
    )


@pytest.fixture
def records(simulator, client):
    """A Created feature group (id String, event_time String, x Fractional) and its runtime client."""
    from simhelpers import create_feature_group

    simulator.reset(profile="calm", time_scale=0.01)
    sagemaker = client("sagemaker")
    create_feature_group(sagemaker, client("s3"), "runtime")
    wait_for(
        lambda: sagemaker.describe_feature_group(FeatureGroupName="runtime")["FeatureGroupStatus"] == "Created",
        timeout=60,
    )
    return client("sagemaker-featurestore-runtime")


def row(record_id: str, when: str, x: str = "1.5") -> list[dict]:
    return [
        {"FeatureName": "id", "ValueAsString": record_id},
        {"FeatureName": "event_time", "ValueAsString": when},
        {"FeatureName": "x", "ValueAsString": x},
    ]


def x_of(records, record_id: str) -> str | None:
    found = records.get_record(FeatureGroupName="runtime", RecordIdentifierValueAsString=record_id)
    return {f["FeatureName"]: f["ValueAsString"] for f in found.get("Record", [])}.get("x")


@pytest.mark.parametrize(
    "record, wrong",
    [
        (row("1", "2026-11-28T10:00:00Z") + [{"FeatureName": "nope", "ValueAsString": "1"}], "nope"),
        (row("1", "2026-11-28T10:00:00Z", x="abc"), "Fractional"),
        (row("1", "28/11/2026 10:00"), "EventTime"),
    ],
)
def test_put_record_refuses_what_the_feature_group_does_not_define(records, record, wrong):
    with pytest.raises(ClientError) as refused:
        records.put_record(FeatureGroupName="runtime", Record=record)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert wrong in refused.value.response["Error"]["Message"]


def test_the_online_store_keeps_the_newest_event_time_and_an_older_delete_is_not_applied(records):
    records.put_record(FeatureGroupName="runtime", Record=row("1", "2026-11-28T10:00:00.500Z", x="2.0"))
    records.put_record(FeatureGroupName="runtime", Record=row("1", "2026-11-28T09:00:00Z", x="1.0"))  # older
    assert x_of(records, "1") == "2.0"
    records.delete_record(
        FeatureGroupName="runtime", RecordIdentifierValueAsString="1", EventTime="2026-11-28T09:30:00Z"
    )  # older than the record: not applied
    assert x_of(records, "1") == "2.0"
    records.delete_record(
        FeatureGroupName="runtime", RecordIdentifierValueAsString="1", EventTime="2026-11-28T11:00:00Z"
    )
    assert x_of(records, "1") is None


def test_batch_write_list_and_update_records(records):
    answer = records.batch_write_record(
        Entries=[
            {"FeatureGroupName": "runtime", "Record": row("a", "2026-11-28T10:00:00Z")},
            {"FeatureGroupName": "runtime", "Record": row("b", "2026-11-28T10:00:00Z", x="oops")},
            {"FeatureGroupName": "missing", "Record": row("c", "2026-11-28T10:00:00Z")},
        ]
    )
    assert [(e["Entry"]["Record"][0]["ValueAsString"], e["ErrorCode"]) for e in answer["Errors"]] == [
        ("b", "ValidationError"),
        ("c", "ResourceNotFound"),
    ]
    records.put_record(FeatureGroupName="runtime", Record=row("d", "2026-11-28T10:00:00Z"))
    listed = records.list_records(FeatureGroupName="runtime", MaxResults=1)
    assert listed["RecordIdentifiers"] == ["a"] and listed["NextToken"]
    rest = records.list_records(FeatureGroupName="runtime", NextToken=listed["NextToken"])
    assert rest["RecordIdentifiers"] == ["d"] and "NextToken" not in rest
    records.update_record(
        FeatureGroupName="runtime",
        RecordIdentifierValueAsString="a",
        Features=[{"FeatureName": "x", "ValueAsString": "9.5"}],
    )
    assert x_of(records, "a") == "9.5"


def test_a_finished_training_job_has_its_own_start_end_and_billable_time(simulator, client):
    simulator.reset(profile="calm", time_scale=0.01)
    sagemaker = client("sagemaker")
    training_job(sagemaker, "timed")
    running = sagemaker.describe_training_job(TrainingJobName="timed")
    assert running["TrainingJobStatus"] == "InProgress"
    assert "TrainingEndTime" not in running and "BillableTimeInSeconds" not in running
    done = wait_for(
        lambda: (lambda d: d if d["TrainingJobStatus"] == "Completed" else None)(
            sagemaker.describe_training_job(TrainingJobName="timed")
        ),
        timeout=60,
    )
    took = (done["TrainingEndTime"] - done["TrainingStartTime"]).total_seconds()
    assert took > 0 and done["BillableTimeInSeconds"] == done["TrainingTimeInSeconds"] == pytest.approx(took, abs=1)


def test_list_models_filters_sorts_and_pages(client):
    sagemaker = client("sagemaker")
    for name in ("keep-a", "keep-b", "keep-c", "other"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    first = sagemaker.list_models(NameContains="keep", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [m["ModelName"] for m in first["Models"]] == ["keep-a", "keep-b"]
    rest = sagemaker.list_models(
        NameContains="keep", SortBy="Name", SortOrder="Ascending", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [m["ModelName"] for m in rest["Models"]] == ["keep-c"] and "NextToken" not in rest
    every = [m["ModelName"] for page in sagemaker.get_paginator("list_models").paginate() for m in page["Models"]]
    assert sorted(every) == ["keep-a", "keep-b", "keep-c", "other"]


INFERENCE = {
    "Containers": [{"Image": "img:1"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@pytest.fixture
def sdk_session(simulator, monkeypatch):
    """A boto3 session the SageMaker SDK's typed resources reach the simulator with."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", simulator.endpoint_url)
    return boto3.Session(region_name="us-east-1", aws_access_key_id="sdk", aws_secret_access_key="sdk")


def listed(sagemaker, group: str) -> list[str]:
    return [
        p["ModelPackageArn"]
        for p in sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    ]


def test_the_sdk_deletes_a_versioned_model_package(sdk_session):
    """DescribeModelPackage carries ModelPackageName (botocore marks it required), so the SDK's
    typed ModelPackage parses and deletes it."""
    from sagemaker.core.resources import ModelPackage

    sagemaker = sdk_session.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="versioned")
    arn = sagemaker.create_model_package(ModelPackageGroupName="versioned", InferenceSpecification=INFERENCE)[
        "ModelPackageArn"
    ]
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageName"] == "versioned/1"
    ModelPackage.get(model_package_name=arn, session=sdk_session, region="us-east-1").delete()
    assert listed(sagemaker, "versioned") == []


def test_each_version_of_a_model_package_is_named_and_deleted_on_its_own(sdk_session):
    """A versioned package's name is AWS's 'group/version', so the name the SDK deletes by is
    that version's, not the group's (whose newest version moto deleted instead). Each version
    is deleted by its ARN or its name while listed, and a version number is never given twice."""
    from sagemaker.core.resources import ModelPackage

    sagemaker = sdk_session.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="kept")
    arns = [
        sagemaker.create_model_package(ModelPackageGroupName="kept", InferenceSpecification=INFERENCE)[
            "ModelPackageArn"
        ]
        for _ in range(3)
    ]
    assert [arn.rsplit("/", 2)[-2:] for arn in arns] == [["kept", "1"], ["kept", "2"], ["kept", "3"]]

    ModelPackage.get(model_package_name=arns[0], session=sdk_session, region="us-east-1").delete()
    assert listed(sagemaker, "kept") == arns[1:]  # the first version went, not the newest
    assert sagemaker.describe_model_package(ModelPackageName="kept/2")["ModelPackageArn"] == arns[1]

    newest = sagemaker.create_model_package(ModelPackageGroupName="kept", InferenceSpecification=INFERENCE)[
        "ModelPackageArn"
    ]
    assert newest.endswith("/kept/4") and listed(sagemaker, "kept") == arns[1:] + [newest]  # 3 is not given again

    sagemaker.delete_model_package(ModelPackageName=arns[1])  # by the second version's ARN
    sagemaker.delete_model_package(ModelPackageName="kept/3")  # by its name
    ModelPackage.get(model_package_name=newest, session=sdk_session, region="us-east-1").delete()
    assert listed(sagemaker, "kept") == []
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.delete_model_package(ModelPackageName=arns[1])
    sagemaker.delete_model_package_group(ModelPackageGroupName="kept")


def test_a_role_from_another_account_is_refused_on_a_strict_account(simulator, client):
    """aws-default keeps AWS's account rules: SageMaker cannot be passed another account's role."""
    simulator.reset(profile="aws-default", time_scale=0.01)
    sagemaker = client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model(
            ModelName="foreign",
            ExecutionRoleArn="arn:aws:iam::999999999999:role/theirs",
            PrimaryContainer={"Image": "img:1"},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == "Cross-account pass role is not allowed."
    sagemaker.create_model(ModelName="ours", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})


def test_names_lengths_and_patterns_are_checked_from_the_service_model_in_aws_words(simulator, client):
    """botocore's client checks only required members and minimum lengths; AWS checks the rest."""
    simulator.reset(profile="aws-default", time_scale=0.01)
    sagemaker = client("sagemaker")
    name = "model_" + "x" * 60
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        f"2 validation errors detected: Value '{name}' at 'modelName' failed to satisfy constraint: Member must "
        f"have length less than or equal to 63; Value '{name}' at 'modelName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
    )
    with pytest.raises(
        ClientError,
        match="at 'resourceConfig.instanceType' failed to satisfy constraint: "
        "Member must satisfy enum value set: \\[ml.m4.xlarge, ",
    ):
        sagemaker.create_training_job(
            TrainingJobName="enum",
            RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            ResourceConfig={"InstanceType": "ml.m99.huge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        )
    with pytest.raises(
        ClientError,
        match="1 validation error detected: .* at 'tags' failed to satisfy "
        "constraint: Member must have length less than or equal to 50",
    ):
        sagemaker.create_model(
            ModelName="many-tags",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "img:1"},
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )
    sagemaker.create_model(ModelName="fine-name", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})


def test_calm_keeps_motos_leniency_so_strictness_is_a_profile_choice(simulator, client):
    simulator.reset(profile="calm", time_scale=0.01)
    client("sagemaker").create_model(
        ModelName="model_" + "x" * 60, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"}
    )


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_an_image_from_another_region_is_refused_as_aws_refuses_it(simulator, client, region):
    simulator.reset(profile="aws-default", time_scale=0.01)
    sagemaker = client("sagemaker", region_name=region)
    foreign = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model(ModelName="foreign", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": foreign})
    assert refused.value.response["Error"]["Message"] == (
        f'Region of "{foreign}" does not match expected region of {region}. Cross region ECR image pulls are '
        "not allowed."
    )
    with pytest.raises(
        ClientError,
        match=f"Invalid DNS suffix 'amazonaws.com' for region 'us-east-1' in training "
        f"image. Please provide the valid <region>.<dns-suffix>: '{region}",
    ):
        sagemaker.create_training_job(
            TrainingJobName="foreign",
            RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": foreign, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        )
    own = foreign.replace("us-east-1", region)
    sagemaker.create_model(ModelName="own", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": own})


def test_a_bucket_outside_us_east_1_needs_its_regions_location_constraint(client):
    s3 = client("s3", region_name="eu-west-1")
    with pytest.raises(ClientError) as refused:
        s3.create_bucket(Bucket="no-constraint")
    assert refused.value.response["Error"]["Code"] == "IllegalLocationConstraintException"
    with pytest.raises(ClientError, match="IllegalLocationConstraintException"):
        s3.create_bucket(Bucket="wrong-constraint", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.create_bucket(Bucket="right-constraint", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="right-constraint")["LocationConstraint"] == "eu-west-1"
