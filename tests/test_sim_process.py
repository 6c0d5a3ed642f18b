"""The simulator as a process: loopback only, profiles validated, counters served."""

import subprocess
import sys

import pytest

from harness.config import ConfigError
from harness.sim import Simulator, available_profiles, load_profile
from harness.profiles import parse_profile


def test_the_simulator_refuses_a_non_loopback_bind_address():
    with pytest.raises(ValueError, match="loopback"):
        Simulator("calm", host="0.0.0.0")
    Simulator("calm", host="0.0.0.0", allow_remote=True)  # explicit permission: accepted


def test_the_cli_refuses_a_non_loopback_bind_address():
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "sim", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60
    )
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


def test_a_client_reuses_its_connection_and_a_chunked_body_still_arrives_whole(simulator, client):
    """Connections are kept alive as AWS keeps them, so a call costs no new TCP connection; a
    body sent in chunks (no Content-Length) is read whole and that connection closed after."""
    import http.client
    from urllib.parse import urlparse

    url = urlparse(simulator.endpoint_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    sockets = []
    for _ in range(3):
        connection.request("GET", "/_sim/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection") != "close"
        sockets.append(connection.sock)
    assert sockets[0] is sockets[1] is sockets[2]

    s3 = client("s3")
    s3.create_bucket(Bucket="chunks")
    connection.request(
        "PUT",
        "/chunks/k",
        body=iter([b"a" * 1000, b"b" * 24]),
        headers={"Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 200 and response.getheader("Connection") == "close"
    assert s3.get_object(Bucket="chunks", Key="k")["Body"].read() == b"a" * 1000 + b"b" * 24
    connection.close()
