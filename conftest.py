"""Shared fixtures: one simulator per test process (pytest-xdist worker), reset between tests."""
from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config

from harness.sim import Simulator

# Tests never reach real AWS: fake credentials, and a region so nothing falls back to defaults.
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def simulator_process():
    with Simulator("calm", seed=0) as sim:
        yield sim


@pytest.fixture
def simulator(simulator_process):
    """A simulator with empty state and the calm profile; tests may reset it to another."""
    simulator_process.reset(profile="calm", seed=0, time_scale=1.0)
    yield simulator_process


@pytest.fixture
def client(simulator):
    """client('sagemaker') -> a plain boto3 client on the simulator, botocore retries off."""
    def make(service: str, **config):
        settings = {"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}
        return boto3.client(service, endpoint_url=simulator.endpoint_url, region_name="us-east-1",
                            config=Config(**settings))
    return make
