"""Injected faults and latency are drawn from the seed: the same seed, the same sequence."""

import time

import pytest
from botocore.exceptions import ClientError

from harness.timing import INJECTED_HEADER, SERVED_HEADER
from simhelpers import write_profile

FAULTY = """
quota_table = "none"
[[fault]]
service = "sagemaker"
operation = "ListModels"
error_rate = 0.3
"""


def fault_sequence(simulator, client, profile, seed, calls=40):
    simulator.reset(profile=profile, seed=seed)
    aws = client("sagemaker")
    outcomes = []
    for _ in range(calls):
        try:
            aws.list_models()
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    return outcomes


def test_the_same_seed_gives_the_same_faults(simulator, client, tmp_path):
    profile = write_profile(tmp_path, FAULTY)
    first = fault_sequence(simulator, client, profile, seed=5)
    again = fault_sequence(simulator, client, profile, seed=5)
    other = fault_sequence(simulator, client, profile, seed=6)
    assert first == again
    assert first != other
    assert {"InternalFailure", "ServiceUnavailable"} <= set(first) | set(other)
    assert 4 <= sum(o != "ok" for o in first) <= 24
    stats = simulator.stats()["operations"]["sagemaker.ListModels"]
    assert stats["faults"] == sum(o != "ok" for o in other)


def test_timeouts_hold_the_answer_past_the_read_timeout(simulator, client, tmp_path):
    from botocore.exceptions import ReadTimeoutError

    simulator.reset(
        profile=write_profile(
            tmp_path,
            """
quota_table = "none"
timeout_seconds = 2.0
[[fault]]
service = "sagemaker"
operation = "ListModels"
timeout_rate = 1.0
""",
        )
    )
    aws = client("sagemaker", read_timeout=0.5, connect_timeout=1)
    with pytest.raises(ReadTimeoutError):  # the client gave up before the answer came
        aws.list_models()
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["timeouts"] == 1


def test_latency_follows_the_profile(simulator, client, tmp_path):
    simulator.reset(
        profile=write_profile(
            tmp_path,
            """
quota_table = "none"
[[latency]]
service = "sagemaker"
p50_ms = 60
p99_ms = 60
""",
        )
    )
    aws = client("sagemaker")
    aws.list_models()
    start = time.monotonic()
    for _ in range(5):
        aws.list_models()
    mean = (time.monotonic() - start) / 5
    # at least the profile's latency; the upper bound only catches a wrong unit (60 s for 60 ms),
    # loose enough for a loaded machine
    assert 0.055 <= mean <= 1.0, mean
    # and every response says how much of it was the profile's: the rest is the measurement's own
    headers = aws.list_models()["ResponseMetadata"]["HTTPHeaders"]
    assert float(headers[INJECTED_HEADER]) == pytest.approx(60.0, rel=1e-3)
    assert float(headers[SERVED_HEADER]) >= float(headers[INJECTED_HEADER])
