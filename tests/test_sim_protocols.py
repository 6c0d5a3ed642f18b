"""The simulator speaks every wire protocol botocore's models define, driven by real botocore
clients built from each model: Athena as `json` (botocore up to 1.44.8) and as `rest-json`
(from 1.44.18); SageMaker and the other JSON services as `smithy-rpc-v2-cbor`, before AWS moves
them; CloudWatch in each of the three protocols its model lists. What it cannot route it refuses
in the caller's protocol, never with an HTML page."""

from __future__ import annotations

import json
from datetime import datetime

import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker
from hypothesis import HealthCheck, given, settings, strategies as st

from simhelpers import ROLE, client_speaking, wait_for, write_profile

ATHENA = """
jitter = 0.0
[[quota]]
service = "athena"
operation = "StartQueryExecution"
concurrency = 2
[lifecycle.athena_query]
queued_seconds = 1
count_seconds = 2
select_seconds = 3
ddl_seconds = 1
"""
OUTPUT = {"OutputLocation": "s3://athena-results/queries/"}


@pytest.fixture(params=["json", "rest-json"])
def athena(request, simulator, client, tmp_path):
    """An Athena client in one protocol, on a manual-time account holding lake.sales."""
    simulator.reset(profile=write_profile(tmp_path, ATHENA), manual_time=True)
    s3, glue = client("s3"), client("glue")
    s3.create_bucket(Bucket="athena-results")
    s3.create_bucket(Bucket="lake-data")
    s3.put_object(Bucket="lake-data", Key="sales/part-0.csv", Body=b"id,region\n1,eu\n2,us\n3,eu\n")
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(
        DatabaseName="lake",
        TableInput={
            "Name": "sales",
            "Parameters": {"skip.header.line.count": "1"},
            "StorageDescriptor": {
                "Location": "s3://lake-data/sales/",
                "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "region", "Type": "string"}],
                # comma-separated text, as awswrangler's CSV tables name it (Athena reads no bare table)
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    return client_speaking("athena", request.param, simulator.endpoint_url, tmp_path)


def test_athena_answers_alike_in_json_and_rest_json(athena, simulator):
    start = lambda sql: athena.start_query_execution(  # noqa: E731
        QueryString=sql, QueryExecutionContext={"Database": "lake"}, ResultConfiguration=OUTPUT
    )["QueryExecutionId"]
    count, regions = start("SELECT COUNT(*) FROM sales"), start("SELECT region FROM sales WHERE id < 3")
    with pytest.raises(ClientError) as full:  # the account's 2 active queries are taken
        start("SELECT 1")
    assert full.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert full.value.response["Reason"] == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    simulator.advance(4)
    described = athena.batch_get_query_execution(QueryExecutionIds=[count, regions, "nope"])
    assert [q["Status"]["State"] for q in described["QueryExecutions"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert described["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "nope"
    status = athena.get_query_execution(QueryExecutionId=count)["QueryExecution"]["Status"]
    assert (
        isinstance(status["SubmissionDateTime"], datetime)
        and status["CompletionDateTime"] > status["SubmissionDateTime"]
    )
    rows = athena.get_query_results(QueryExecutionId=regions)["ResultSet"]["Rows"]
    assert [[d.get("VarCharValue") for d in r["Data"]] for r in rows] == [["region"], ["eu"], ["us"]]
    assert athena.list_query_executions()["QueryExecutionIds"][:2] == [regions, count]
    with pytest.raises(ClientError) as unknown:
        athena.get_query_execution(QueryExecutionId="no-such-query")
    assert unknown.value.response["Error"]["Code"] == "InvalidRequestException"
    assert unknown.value.response["AthenaErrorCode"] == "INVALID_INPUT"

    athena.create_work_group(Name="team", Configuration={"ResultConfiguration": OUTPUT})
    assert athena.get_work_group(WorkGroup="team")["WorkGroup"]["Configuration"]["ResultConfiguration"] == OUTPUT
    assert [g["Name"] for g in athena.list_work_groups()["WorkGroups"]] == ["primary", "team"]
    athena.delete_work_group(WorkGroup="team")
    with pytest.raises(ClientError, match="WorkGroup team is not found"):
        athena.get_work_group(WorkGroup="team")


def test_an_athena_call_the_simulator_lacks_is_refused_in_the_callers_protocol(athena):
    """Neither the simulator nor moto has DeleteNamedQuery: moto routes it where its botocore model
    is json, and raises; where it is rest-json, moto has no route at all. Either way, one answer."""
    with pytest.raises(ClientError) as lacking:
        athena.delete_named_query(NamedQueryId="any")
    error = lacking.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (501, "NotImplemented")
    assert "athena.DeleteNamedQuery" in error["Error"]["Message"]


@pytest.fixture(params=["json", "smithy-rpc-v2-cbor"])
def sagemaker(request, simulator, tmp_path):
    simulator.reset(profile="calm", time_scale=0.01)
    return client_speaking("sagemaker", request.param, simulator.endpoint_url, tmp_path)


def test_sagemaker_works_alike_as_json_and_as_cbor(sagemaker, client, simulator):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"
    for name in ("m-1", "m-2"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image})
    model = sagemaker.describe_model(ModelName="m-1")
    assert model["PrimaryContainer"]["Image"] == image and isinstance(model["CreationTime"], datetime)
    first = sagemaker.list_models(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    assert [m["ModelName"] for m in first["Models"]] == ["m-1"]
    rest = sagemaker.list_models(MaxResults=1, SortBy="Name", SortOrder="Ascending", NextToken=first["NextToken"])
    assert [m["ModelName"] for m in rest["Models"]] == ["m-2"]
    arn = model["ModelArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    sagemaker.create_endpoint_config(
        EndpointConfigName="ec-1",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m-1", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName="ep-1", EndpointConfigName="ec-1")
    assert sagemaker.describe_endpoint(EndpointName="ep-1")["EndpointStatus"] == "Creating"
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="ep-1")["EndpointStatus"] == "InService", timeout=60)
    answer = client("sagemaker-runtime").invoke_endpoint(EndpointName="ep-1", Body=b"1,2\n3,4", ContentType="text/csv")
    assert answer["ContentType"] == "text/csv" and len(answer["Body"].read().splitlines()) == 2

    with pytest.raises(ClientError) as missing:
        sagemaker.describe_feature_group(FeatureGroupName="no-such-group")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as taken:
        sagemaker.create_model(ModelName="m-1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image})
    assert taken.value.response["Error"]["Code"] == "ValidationException"


def test_a_throttled_cbor_call_is_throttling_to_botocore(simulator, tmp_path):
    simulator.reset(
        profile=write_profile(
            tmp_path,
            """
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "ListModels"
rate = 0.001
burst = 1
""",
        )
    )
    sagemaker = client_speaking("sagemaker", "smithy-rpc-v2-cbor", simulator.endpoint_url, tmp_path)
    sagemaker.list_models()
    with pytest.raises(ClientError) as throttled:
        sagemaker.list_models()
    context = RetryContext(attempt_number=1, parsed_response=throttled.value.response)
    assert ThrottledRetryableChecker().is_retryable(context), throttled.value.response["Error"]


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_cloudwatch_in_each_protocol_its_model_lists(simulator, tmp_path, protocol):
    """moto speaks all three (it routes by the installed model): the call goes to it as sent."""
    cloudwatch = client_speaking("cloudwatch", protocol, simulator.endpoint_url, tmp_path)
    cloudwatch.put_metric_data(Namespace="harness", MetricData=[{"MetricName": "queue", "Value": 3.0}])
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace="harness")["Metrics"]] == ["queue"]


# One read of each service the harness calls, in every protocol its model lists or has listed,
# and as smithy-rpc-v2-cbor for each `json` service, before AWS moves it.
READS = {
    "glue": lambda c: c.get_databases()["DatabaseList"],
    "logs": lambda c: c.describe_log_groups()["logGroups"],
    "service-quotas": lambda c: c.list_service_quotas(ServiceCode="sagemaker")["Quotas"],
    "sagemaker": lambda c: c.list_feature_groups()["FeatureGroupSummaries"],
    "athena": lambda c: c.list_work_groups()["WorkGroups"],
    "s3": lambda c: c.list_buckets()["Buckets"],
    "sts": lambda c: c.get_caller_identity()["Account"],
    "iam": lambda c: c.list_roles()["Roles"],
    "sagemaker-featurestore-runtime": lambda c: c.batch_get_record(
        Identifiers=[{"FeatureGroupName": "none", "RecordIdentifiersValueAsString": ["1"]}]
    )["Errors"],
}
SPOKEN = [
    ("glue", "json"),
    ("glue", "smithy-rpc-v2-cbor"),
    ("logs", "json"),
    ("logs", "smithy-rpc-v2-cbor"),
    ("service-quotas", "json"),
    ("service-quotas", "smithy-rpc-v2-cbor"),
    ("sagemaker", "json"),
    ("sagemaker", "smithy-rpc-v2-cbor"),
    ("athena", "json"),
    ("athena", "rest-json"),
    ("s3", "rest-xml"),
    ("sts", "query"),
    ("iam", "query"),
    ("sagemaker-featurestore-runtime", "rest-json"),
]


@pytest.mark.parametrize("service, protocol", SPOKEN)
def test_every_service_the_harness_calls_answers_in_each_protocol(simulator, tmp_path, service, protocol):
    READS[service](client_speaking(service, protocol, simulator.endpoint_url, tmp_path))


def test_an_operation_no_service_has_is_unknown_to_botocore_as_to_aws(simulator, tmp_path):
    """A newer botocore's operation, which this simulator's models lack."""
    import copy
    import botocore.session

    model = copy.deepcopy(
        botocore.session.Session().get_component("data_loader").load_service_model("sagemaker", "service-2")
    )
    model["operations"]["ListFutureThings"] = {**model["operations"]["ListModels"], "name": "ListFutureThings"}
    folder = tmp_path / "future" / "sagemaker" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path / "future"))
    future = session.create_client("sagemaker", endpoint_url=simulator.endpoint_url, region_name="us-east-1")
    with pytest.raises(ClientError) as unknown:
        future.list_future_things()
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def signed(simulator, service: str, method: str, path: str, headers: dict, body: bytes = b""):
    """A raw request signed as an SDK signs it, and the simulator's answer (status, headers, body)."""
    request = AWSRequest(method=method, url=simulator.endpoint_url + path, data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
    answer = URLLib3Session().send(request.prepare())
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.content


@pytest.mark.parametrize(
    "service, method, path, headers, body, status, code",
    [
        (
            "sagemaker",
            "POST",
            "/",
            {"X-Amz-Target": "SageMaker.NoSuchThing", "Content-Type": "application/x-amz-json-1.1"},
            b"{}",
            400,
            "UnknownOperationException",
        ),
        (
            "sagemaker",
            "POST",
            "/service/SageMaker/operation/NoSuchThing",
            {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"},
            cbor2.dumps({}),
            400,
            "UnknownOperationException",
        ),
        ("athena", "GET", "/no-such-thing", {}, b"", 404, "UnknownOperationException"),
        (
            "sts",
            "POST",
            "/",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Action=NoSuchThing&Version=2011-06-15",
            400,
            "InvalidAction",
        ),
        ("s3", "PATCH", "/some-bucket", {}, b"", 405, "MethodNotAllowed"),
    ],
)
def test_a_request_for_no_operation_is_refused_in_its_own_protocol(
    simulator, service, method, path, headers, body, status, code
):
    got, answer_headers, answer = signed(simulator, service, method, path, headers, body)
    assert got == status and not answer_headers.get("content-type", "").startswith("text/html")
    content_type = answer_headers.get("content-type", "")
    if content_type == "application/cbor":
        assert cbor2.loads(answer)["__type"] == code
    elif "json" in content_type:
        assert (json.loads(answer).get("__type") or answer_headers.get("x-amzn-errortype")) == code
    else:
        assert "xml" in content_type and f"<Code>{code}</Code>".encode() in answer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    service=st.sampled_from(["sagemaker", "athena", "glue", "s3", "sts", "sagemaker-featurestore-runtime"]),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    path=st.lists(
        st.sampled_from(
            ["FeatureGroup", "x", "query-executions", "service", "operation", "%2F", "endpoints", "invocations", "_"]
        ),
        max_size=4,
    ).map(lambda p: "/" + "/".join(p)),
    target=st.sampled_from([None, "SageMaker.ListModels", "Nope.Nothing", "AWSGlue.GetDatabases"]),
    body=st.binary(max_size=24),
)
def test_no_html_page_ever_reaches_a_client(simulator, service, method, path, target, body):
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"} if target else {}
    status, answer_headers, _ = signed(simulator, service, method, path, headers, body)
    assert not answer_headers.get("content-type", "").startswith("text/html"), (status, method, path, target)


def test_a_rest_payloads_own_content_type_never_picks_the_protocol(client):
    """An S3 object stored as CBOR, or as a form that says Action=, is an upload like any other."""
    s3 = client("s3")
    s3.create_bucket(Bucket="payloads")
    s3.put_object(Bucket="payloads", Key="a.cbor", Body=cbor2.dumps({"x": 1}), ContentType="application/cbor")
    assert cbor2.loads(s3.get_object(Bucket="payloads", Key="a.cbor")["Body"].read()) == {"x": 1}
    s3.put_object(
        Bucket="payloads", Key="form", Body=b"Action=Subscribe&x=1", ContentType="application/x-www-form-urlencoded"
    )  # (moto keeps no body for a form)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="payloads")["Contents"]] == ["a.cbor", "form"]
    with pytest.raises(ClientError) as missing:  # moto's bodiless 404: AWS's, not a gap
        s3.head_object(Bucket="payloads", Key="nope")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_operations_that_share_a_path_or_an_action_are_told_apart(simulator, client):
    s3, elbv2 = client("s3"), client("elbv2")
    s3.create_bucket(Bucket="rules")
    s3.put_bucket_lifecycle_configuration(
        Bucket="rules",
        LifecycleConfiguration={
            "Rules": [{"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]
        },
    )
    elbv2.describe_load_balancers()  # elb has an action of that name too, in another API version
    client("ec2").describe_vpcs()  # EC2's query dialect goes to moto as sent
    operations = simulator.stats()["operations"]
    assert "s3.PutBucketLifecycleConfiguration" in operations and "s3.PutBucketLifecycle" not in operations
    assert "elbv2.DescribeLoadBalancers" in operations and "elb.DescribeLoadBalancers" not in operations
    assert operations["ec2.DescribeVpcs"]["errors"] == 0
