"""Resources take time in the simulator, as in AWS, and partial state can be made to last."""

import pytest
from botocore.exceptions import ClientError

from simhelpers import ROLE, create_feature_group, wait_for, write_profile

# Durations in AWS seconds; the tests run at time_scale 1/100, so 100 s of AWS time is 1 s.
LIFECYCLE = """
quota_table = "none"
jitter = 0.0
[lifecycle.feature_group]
create_seconds = 50
offline_store_seconds = 50
table_seconds = 100
never_fraction = {never}
delete_seconds = 50
[lifecycle.training_job]
run_seconds = 50
[lifecycle.endpoint]
create_seconds = 50
delete_seconds = 50
"""


@pytest.fixture
def scaled(simulator, tmp_path):
    def reset(never=0.0):
        simulator.reset(profile=write_profile(tmp_path, LIFECYCLE.format(never=never)), time_scale=0.01)

    reset()
    return reset


def glue_table(glue, sagemaker, name):
    catalog = sagemaker.describe_feature_group(FeatureGroupName=name)["OfflineStoreConfig"]["DataCatalogConfig"]
    try:
        return glue.get_table(DatabaseName=catalog["Database"], Name=catalog["TableName"])
    except ClientError:
        return None


def test_a_feature_group_is_created_then_its_offline_store_appears(scaled, client):
    sagemaker, s3, glue = client("sagemaker"), client("s3"), client("glue")
    create_feature_group(sagemaker, s3, "fg-life")
    first = sagemaker.describe_feature_group(FeatureGroupName="fg-life")
    assert first["FeatureGroupStatus"] == "Creating"
    assert "OfflineStoreStatus" not in first
    wait_for(lambda: sagemaker.describe_feature_group(FeatureGroupName="fg-life")["FeatureGroupStatus"] == "Created")
    assert glue_table(glue, sagemaker, "fg-life") is None  # created, offline store not there yet
    wait_for(lambda: sagemaker.describe_feature_group(FeatureGroupName="fg-life").get("OfflineStoreStatus"))
    table = wait_for(lambda: glue_table(glue, sagemaker, "fg-life"))
    location = table["Table"]["StorageDescriptor"]["Location"]
    prefix = location.split("offline-bucket/", 1)[1]
    assert s3.list_objects_v2(Bucket="offline-bucket", Prefix=prefix)["KeyCount"] == 1


def test_a_never_resolving_partial_state_stays_partial(scaled, client):
    scaled(never=1.0)
    sagemaker, s3, glue = client("sagemaker"), client("s3"), client("glue")
    create_feature_group(sagemaker, s3, "fg-partial")
    wait_for(lambda: sagemaker.describe_feature_group(FeatureGroupName="fg-partial").get("OfflineStoreStatus"))
    import time

    time.sleep(2.5)  # 250 AWS seconds: well past when the table would have appeared
    assert glue_table(glue, sagemaker, "fg-partial") is None
    assert sagemaker.describe_feature_group(FeatureGroupName="fg-partial")["FeatureGroupStatus"] == "Created"


def test_put_record_then_get_record_round_trips(scaled, client):
    sagemaker, s3 = client("sagemaker"), client("s3")
    runtime = client("sagemaker-featurestore-runtime")
    create_feature_group(sagemaker, s3, "fg-records")
    record = [
        {"FeatureName": "id", "ValueAsString": "42"},
        {"FeatureName": "event_time", "ValueAsString": "2026-11-26T00:00:00Z"},
        {"FeatureName": "x", "ValueAsString": "0.5"},
    ]
    with pytest.raises(ClientError) as creating:
        runtime.put_record(FeatureGroupName="fg-records", Record=record)
    assert creating.value.response["Error"]["Code"] == "ResourceNotFound"
    wait_for(lambda: sagemaker.describe_feature_group(FeatureGroupName="fg-records")["FeatureGroupStatus"] == "Created")
    runtime.put_record(FeatureGroupName="fg-records", Record=record)
    assert runtime.get_record(FeatureGroupName="fg-records", RecordIdentifierValueAsString="42")["Record"] == record
    batch = runtime.batch_get_record(
        Identifiers=[{"FeatureGroupName": "fg-records", "RecordIdentifiersValueAsString": ["42", "43"]}]
    )
    assert [r["RecordIdentifierValueAsString"] for r in batch["Records"]] == ["42"]
    runtime.delete_record(
        FeatureGroupName="fg-records", RecordIdentifierValueAsString="42", EventTime="2026-11-26T00:00:01Z"
    )
    assert "Record" not in runtime.get_record(FeatureGroupName="fg-records", RecordIdentifierValueAsString="42")


def test_delete_feature_group_goes_through_deleting_to_not_found(scaled, client):
    sagemaker, s3 = client("sagemaker"), client("s3")
    create_feature_group(sagemaker, s3, "fg-gone")
    assert [g["FeatureGroupName"] for g in sagemaker.list_feature_groups()["FeatureGroupSummaries"]] == ["fg-gone"]
    sagemaker.delete_feature_group(FeatureGroupName="fg-gone")
    assert sagemaker.describe_feature_group(FeatureGroupName="fg-gone")["FeatureGroupStatus"] == "Deleting"

    def gone():
        try:
            sagemaker.describe_feature_group(FeatureGroupName="fg-gone")
        except ClientError as err:
            return err.response["Error"]["Code"]

    assert wait_for(gone) == "ResourceNotFound"
    assert sagemaker.list_feature_groups()["FeatureGroupSummaries"] == []


def test_unknown_feature_group_is_resource_not_found(simulator, client):
    with pytest.raises(ClientError) as raised:
        client("sagemaker").describe_feature_group(FeatureGroupName="nope")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_list_feature_groups_paginates(simulator, client):
    sagemaker, s3 = client("sagemaker"), client("s3")
    for i in range(5):
        create_feature_group(sagemaker, s3, f"fg-page-{i}", bucket=f"bucket-{i}")
    pages = sagemaker.get_paginator("list_feature_groups").paginate(PaginationConfig={"PageSize": 2})
    names = [g["FeatureGroupName"] for page in pages for g in page["FeatureGroupSummaries"]]
    assert sorted(names) == [f"fg-page-{i}" for i in range(5)]


def test_at_most_four_feature_groups_are_creating_at_once(simulator, client, tmp_path):
    simulator.reset(
        profile=write_profile(
            tmp_path,
            """
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "CreateFeatureGroup"
concurrency = 4
[lifecycle.feature_group]
create_seconds = 600
""",
        )
    )
    sagemaker, s3 = client("sagemaker"), client("s3")
    for i in range(4):
        create_feature_group(sagemaker, s3, f"fg-c{i}", bucket=f"b-{i}")
    with pytest.raises(ClientError) as raised:
        create_feature_group(sagemaker, s3, "fg-c4", bucket="b-4")
    assert raised.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert simulator.stats()["operations"]["sagemaker.CreateFeatureGroup"]["limited"] == 1


def make_model(sagemaker, name):
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1",
            "ModelDataUrl": "s3://models/model.tar.gz",
        },
    )


def start_training_job(sagemaker, name):
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1",
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/r",
        OutputDataConfig={"S3OutputPath": "s3://models/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def test_training_job_runs_then_completes(scaled, client):
    sagemaker = client("sagemaker")
    start_training_job(sagemaker, "tj-1")
    assert sagemaker.describe_training_job(TrainingJobName="tj-1")["TrainingJobStatus"] == "InProgress"
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName="tj-1")["TrainingJobStatus"] == "Completed")


def test_a_stopped_training_job_goes_stopping_then_stopped_and_frees_its_slot(simulator, client, tmp_path):
    simulator.reset(
        profile=write_profile(
            tmp_path, LIFECYCLE.format(never=0.0).replace("run_seconds = 50", "run_seconds = 100000\nstop_seconds = 50")
        ),
        time_scale=0.01,
    )
    sagemaker = client("sagemaker")
    start_training_job(sagemaker, "tj-stop")
    sagemaker.stop_training_job(TrainingJobName="tj-stop")
    job = sagemaker.describe_training_job(TrainingJobName="tj-stop")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopping", "Stopping")
    assert simulator.stats()["lifecycle"]["training_job"] == {"Stopping": 1}
    sagemaker.stop_training_job(TrainingJobName="tj-stop")  # again while Stopping: accepted, as AWS does
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName="tj-stop")["TrainingJobStatus"] == "Stopped")
    assert simulator.stats()["resources"]["sagemaker.training_job_in_progress"] == 0
    with pytest.raises(ClientError, match="in status Stopped") as stopped:
        sagemaker.stop_training_job(TrainingJobName="tj-stop")
    assert stopped.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as unknown:
        sagemaker.stop_training_job(TrainingJobName="no-such-job")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFound"


def test_endpoint_goes_in_service_answers_and_deletes(scaled, client):
    sagemaker, runtime = client("sagemaker"), client("sagemaker-runtime")
    make_model(sagemaker, "m-1")
    assert "VpcConfig" not in sagemaker.describe_model(ModelName="m-1")
    sagemaker.create_endpoint_config(
        EndpointConfigName="ec-1",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m-1", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName="ep-1", EndpointConfigName="ec-1")
    assert sagemaker.describe_endpoint(EndpointName="ep-1")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(EndpointName="ep-1", Body=b"1,2,3", ContentType="text/csv")
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="ep-1")["EndpointStatus"] == "InService")
    answer = runtime.invoke_endpoint(EndpointName="ep-1", Body=b"1,2,3\n4,5,6", ContentType="text/csv")
    assert len(answer["Body"].read().decode().splitlines()) == 2
    sagemaker.delete_endpoint(EndpointName="ep-1")
    assert sagemaker.describe_endpoint(EndpointName="ep-1")["EndpointStatus"] == "Deleting"
    wait_for(lambda: sagemaker.list_endpoints()["Endpoints"] == [])


def test_the_nth_resource_has_the_same_fate_for_a_seed_whatever_it_is_called():
    from harness.sim.lifecycle import Lifecycles
    from harness.profiles import parse_profile

    profile = parse_profile(
        {"lifecycle": {"feature_group": {"never_fraction": 0.5}, "training_job": {"fail_fraction": 0.5}}},
        "test",
        "test",
    )

    def fates(run_id):
        clocks = Lifecycles(profile, seed=1, time_scale=1.0)
        return (
            [clocks.start("feature_group", "a", "r", f"{run_id}-fg{i}").table_at is None for i in range(8)],
            [clocks.start("training_job", "a", "r", f"{run_id}-tj{i}").fails for i in range(8)],
        )

    assert fates("run1") == fates("run2")  # two runs (or two policies in a shoot-out) meet the same faults
    never, fails = fates("run1")
    assert 0 < sum(never) < 8 and 0 < sum(fails) < 8


def test_in_manual_time_aws_time_moves_only_when_a_client_advances_it(simulator, client, tmp_path):
    """What `harness plan`'s dry run relies on: the simulator's clock follows the harness's manual
    clock, so lifecycles end exactly when the client's virtual time says, however busy the machine."""
    simulator.reset(profile=write_profile(tmp_path, LIFECYCLE.format(never=0.0)), manual_time=True)
    sagemaker, s3 = client("sagemaker"), client("s3")
    create_feature_group(sagemaker, s3, "fg-manual")
    status = lambda: sagemaker.describe_feature_group(FeatureGroupName="fg-manual")["FeatureGroupStatus"]  # noqa: E731
    assert status() == "Creating"
    assert simulator.advance(49.9) == pytest.approx(49.9)
    assert status() == "Creating"
    simulator.advance(0.2)
    assert status() == "Created"
    simulator.reset(profile="calm")
    with pytest.raises(Exception, match="409"):
        simulator.advance(1)  # time follows the wall again


def test_add_tags_overwrites_by_key_and_a_resource_holds_at_most_50(client):
    sagemaker = client("sagemaker")
    arn = sagemaker.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})[
        "ModelArn"
    ]
    for value in ("one", "two"):
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": value}])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "two"}]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    with pytest.raises(ClientError) as refused:
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["stage"])
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "v"}])  # room again
    assert len(sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn).build_full_result()["Tags"]) == 50
