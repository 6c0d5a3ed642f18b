"""Over its quota the simulator answers as AWS does, and botocore sees throttling."""

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from simhelpers import write_profile

TINY_QUOTAS = """
quota_table = "none"
""" + "".join(
    f"""
[[quota]]
service = "{service}"
operation = "*"
rate = 0.001
burst = 1
"""
    for service in ("sagemaker", "glue", "athena", "s3", "sagemaker-featurestore-runtime", "sts")
)

CALLS = {
    "sagemaker": lambda c: c.list_models(),
    "glue": lambda c: c.get_databases(),
    "athena": lambda c: c.list_work_groups(),
    "s3": lambda c: c.list_buckets(),
    "sagemaker-featurestore-runtime": lambda c: c.get_record(FeatureGroupName="any", RecordIdentifierValueAsString="1"),
    "sts": lambda c: c.get_caller_identity(),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_a_throttled_call_is_classified_as_throttling_by_botocore(simulator, client, tmp_path, service):
    simulator.reset(profile=write_profile(tmp_path, TINY_QUOTAS))
    aws = client(service)
    try:
        CALLS[service](aws)  # the one token in the bucket
    except ClientError:
        pass  # e.g. the feature group does not exist: admitted all the same
    with pytest.raises(ClientError) as raised:
        CALLS[service](aws)
    context = RetryContext(attempt_number=1, parsed_response=raised.value.response)
    assert ThrottledRetryableChecker().is_retryable(context), raised.value.response["Error"]
    stats = simulator.stats()
    assert sum(op["throttled"] for op in stats["operations"].values()) == 1


def test_a_rate_quota_admits_rate_times_seconds_plus_burst(simulator, client, tmp_path):
    """On manual time (AWS time moves only when the test advances it), so the count is exact
    however busy the machine: the burst at once, then rate x seconds."""
    rate, burst, seconds, step = 20.0, 5, 3.0, 0.25  # a step refills exactly the burst
    simulator.reset(
        profile=write_profile(
            tmp_path,
            f"""
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "ListModels"
rate = {rate}
burst = {burst}
""",
        ),
        manual_time=True,
    )
    aws = client("sagemaker")

    def drain() -> int:
        admitted = 0
        while True:
            try:
                aws.list_models()
                admitted += 1
            except ClientError as err:
                assert err.response["Error"]["Code"] == "ThrottlingException"
                return admitted

    admitted = drain()
    assert admitted == burst
    for _ in range(int(seconds / step)):
        simulator.advance(step)
        admitted += drain()
    assert admitted == rate * seconds + burst
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["throttled"] == int(seconds / step) + 1


def test_time_scale_multiplies_rates(monkeypatch):
    """At time_scale 1/10 a 1/s quota admits 10 calls per wall second: the simulator's buckets run
    on its AWS clock, wall time divided by the time scale. Checked on a fake monotonic clock."""
    from harness.quotas import Quota, QuotaTable
    from harness.sim import app as sim_app
    from harness.sim import lifecycle
    from harness.sim.calls import Call
    from harness.profiles import Profile
    from harness.sim.wire import HttpRequest

    wall = [1000.0]
    monkeypatch.setattr(lifecycle.time, "monotonic", lambda: wall[0])
    app = sim_app.SimulatorApp(
        Profile("one-per-second", quotas=QuotaTable([Quota("sagemaker", "ListModels", rate=1, burst=1)])),
        time_scale=0.1,
    )
    request = HttpRequest("POST", "/", {}, {"x-amz-target": "SageMaker.ListModels"}, b"{}", "us-east-1", "sagemaker")
    call = Call(app.router.route(request), request, sim_app.ACCOUNT)
    admitted = 0
    for _ in range(100):  # one wall second in steps of 10 ms
        admitted += app._admit(call)
        wall[0] += 0.01
    assert admitted == 1 + 9  # the burst, then one per 0.1 wall second (1 AWS second) of the next 0.99
