"""Over its quota the simulator answers as AWS does, and botocore sees throttling."""
import threading
import time

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from simhelpers import write_profile

TINY_QUOTAS = """
quota_table = "none"
""" + "".join(f"""
[[quota]]
service = "{service}"
operation = "*"
rate = 0.001
burst = 1
""" for service in ("sagemaker", "glue", "athena", "s3", "sagemaker-featurestore-runtime", "sts"))

CALLS = {
    "sagemaker": lambda c: c.list_models(),
    "glue": lambda c: c.get_databases(),
    "athena": lambda c: c.list_work_groups(),
    "s3": lambda c: c.list_buckets(),
    "sagemaker-featurestore-runtime": lambda c: c.get_record(
        FeatureGroupName="any", RecordIdentifierValueAsString="1"),
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
    rate, burst, seconds = 20.0, 5, 3.0
    simulator.reset(profile=write_profile(tmp_path, f"""
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "ListModels"
rate = {rate}
burst = {burst}
"""))
    aws = client("sagemaker", max_pool_connections=16)
    admitted, lock = [0], threading.Lock()
    start = time.monotonic()

    def hammer():
        while time.monotonic() - start < seconds:
            try:
                aws.list_models()
                with lock:
                    admitted[0] += 1
            except ClientError:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = rate * seconds + burst
    assert abs(admitted[0] - expected) <= 0.1 * expected, (admitted[0], expected)
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["throttled"] > 0


def test_time_scale_multiplies_rates(simulator, client, tmp_path):
    """At time_scale 1/10 a 1/s quota admits 10 calls per wall second."""
    simulator.reset(profile=write_profile(tmp_path, """
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "ListModels"
rate = 1
burst = 1
"""), time_scale=0.1)
    aws = client("sagemaker")
    ok = 0
    start = time.monotonic()
    while time.monotonic() - start < 1.0:
        try:
            aws.list_models()
            ok += 1
        except ClientError:
            time.sleep(0.01)
    assert 8 <= ok <= 13, ok
