"""The simulator as a process: loopback only, profiles validated, counters served."""
import subprocess
import sys

import pytest

from harness.config import ConfigError
from harness.sim import Simulator, available_profiles, load_profile
from harness.sim.profile import parse_profile


def test_the_simulator_refuses_a_non_loopback_bind_address():
    with pytest.raises(ValueError, match="loopback"):
        Simulator("calm", host="0.0.0.0")
    Simulator("calm", host="0.0.0.0", allow_remote=True)  # explicit permission: accepted


def test_the_cli_refuses_a_non_loopback_bind_address():
    done = subprocess.run([sys.executable, "-m", "harness.cli", "sim", "--host", "0.0.0.0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_every_shipped_profile_loads():
    assert {"calm", "aws-default", "throttle-storm", "partial-state"} <= set(available_profiles())
    for name in available_profiles():
        assert load_profile(name).name == name


def test_a_bad_profile_names_file_key_value_and_what_is_allowed():
    with pytest.raises(ConfigError) as raised:
        parse_profile({"lifecycle": {"endpoint": {"create_secnds": 5}}}, "my.toml", "my")
    message = str(raised.value)
    assert "my.toml" in message and "lifecycle.endpoint.create_secnds" in message and "create_seconds" in message
    with pytest.raises(ConfigError, match=r"fault\[0\].error_rate = 2"):
        parse_profile({"fault": [{"error_rate": 2}]}, "my.toml", "my")
    with pytest.raises(ConfigError, match="one of aws-default, calm"):
        load_profile("no-such-profile")


def test_counters_are_served_on_loopback(simulator, client):
    client("sagemaker").list_models()
    stats = simulator.stats()
    assert stats["operations"]["sagemaker.ListModels"]["requests"] == 1
    assert stats["profile"] == "calm" and stats["max_in_flight"] >= 1
