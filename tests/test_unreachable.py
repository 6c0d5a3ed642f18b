"""An account that cannot be reached, or that refuses the credentials: said in seconds, in one
line that names the endpoint, the region and what to check; and one Ctrl-C stops a run that is
still waiting for the account. The "account" is a socket on 127.0.0.1 (nothing leaves the
machine): a closed port refuses, a listening socket that never answers hangs, a tiny server
answers as STS does when it refuses credentials."""

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from urllib3.exceptions import NameResolutionError

from harness.aws import ClientFactory, RetrySettings, Target
from harness.aws.reach import EXIT_CODE, unreachable

ROOT = Path(__file__).resolve().parents[1]
# Before, a refused STS call was retried for about 10 minutes. Now: 3 attempts and up to 3 s of
# backoff, on top of the interpreter's start and the SDK's import (20 s and more on a loaded
# 2-core machine running the suite on 3 workers): a bound that tells seconds from minutes.
SECONDS_TO_SAY_SO = 60


def aws_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "real.toml"
    path.write_text(
        'target = "aws"\nregion = "eu-west-1"\nallowed_accounts = ["123456789012"]\nlevels = [1]\n'
        'pipelines = "workbench-light"\n\n[account]\nrole_arn = "arn:aws:iam::123456789012:role/runner"\n'
    )
    return path


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def never_answering():
    """An endpoint that accepts connections and never answers. Yields (url, accepted): the
    event is set once a request's connection is in."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the socket closed: the test is over
            while True:
                held.append(server.accept()[0])
                accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    finally:
        server.close()
        for connection in held:
            connection.close()


@contextlib.contextmanager
def sts_refusing(code: str, message: str):
    """An endpoint that answers every request as STS answers credentials it refuses (403 and
    its query-protocol error document)."""
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    ).encode()

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def environment(**changes: str | None) -> dict[str, str]:
    """The user's environment with made-up credentials, no profile, and never the instance
    metadata service (a credential lookup would otherwise try it)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAFAILFAST", "AWS_SECRET_ACCESS_KEY": "fail-fast"}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "PYTHONUNBUFFERED": "1"})
    env.pop("AWS_PROFILE", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def harness(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or environment(),
    )
    return done, time.monotonic() - started


def test_a_run_against_a_refused_endpoint_ends_in_seconds_naming_the_endpoint_and_region(tmp_path):
    port = closed_port()
    reports = tmp_path / "reports"
    done, took = harness(
        "run", str(aws_scenario(tmp_path)), "--reports", str(reports), "--endpoint-url", f"http://127.0.0.1:{port}"
    )
    assert done.returncode == EXIT_CODE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == (
        f"error: cannot reach 127.0.0.1:{port} (region eu-west-1): the connection was refused. "
        "Check the network (a firewall, a proxy), or the endpoint URL"
    )
    assert "Traceback" not in done.stderr
    assert took < SECONDS_TO_SAY_SO
    assert not reports.exists()  # nothing was made


def test_doctor_against_a_refused_endpoint_says_it_is_the_network_not_the_credentials(tmp_path):
    port = closed_port()
    done, took = harness("doctor", str(aws_scenario(tmp_path)), "--endpoint-url", f"http://127.0.0.1:{port}")
    assert done.returncode == EXIT_CODE, done.stdout + done.stderr
    assert f"error: cannot reach 127.0.0.1:{port} (region eu-west-1): the connection was refused." in done.stderr
    assert "credentials" not in done.stdout + done.stderr
    assert took < SECONDS_TO_SAY_SO


def test_one_ctrl_c_while_the_account_guard_waits_for_sts_stops_the_run_at_once(tmp_path):
    reports = tmp_path / "reports"
    with never_answering() as (url, accepted):
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "run", str(aws_scenario(tmp_path)), "--reports", str(reports)]
            + ["--endpoint-url", url],
            cwd=ROOT,
            env=environment(),
            start_new_session=True,  # a terminal's foreground job: Ctrl-C goes to its process group
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert accepted.wait(60), "the run never called STS"
            time.sleep(0.5)  # well inside the call: its read timeout is 10 s
            os.killpg(process.pid, signal.SIGINT)  # once
            signalled = time.monotonic()
            _, err = process.communicate(timeout=30)
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130, err
    assert "SIGINT: stopped before the run began; nothing was made and there is no run folder" in err
    assert "Traceback" not in err
    assert took < 5, f"one Ctrl-C took {took:.1f} s to stop the run"
    assert not reports.exists()


@pytest.mark.parametrize(
    ("code", "message", "said", "fix"),
    [
        (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            "the access key id is not one AWS knows: InvalidClientTokenId",
            "use valid credentials",
        ),
        (
            "ExpiredToken",
            "The security token included in the request is expired",
            "the credentials have expired: ExpiredToken",
            "refresh them: aws sso login",
        ),
    ],
)
def test_doctor_names_refused_credentials_as_credentials_with_their_fix(tmp_path, code, message, said, fix):
    with sts_refusing(code, message) as url:
        done, _ = harness("doctor", str(aws_scenario(tmp_path)), "--endpoint-url", url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"NO  identity: {said}" in done.stdout
    assert f"fix: {fix}" in done.stdout


def test_doctor_without_any_credentials_says_how_to_configure_them(tmp_path):
    nowhere = str(tmp_path / "no-such-file")
    env = environment(
        AWS_ACCESS_KEY_ID=None,
        AWS_SECRET_ACCESS_KEY=None,
        AWS_SESSION_TOKEN=None,
        AWS_CONFIG_FILE=nowhere,
        AWS_SHARED_CREDENTIALS_FILE=nowhere,
        AWS_WEB_IDENTITY_TOKEN_FILE=None,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=None,
        AWS_CONTAINER_CREDENTIALS_FULL_URI=None,
    )
    port = closed_port()  # never reached: nothing is sent without credentials
    done, _ = harness("doctor", str(aws_scenario(tmp_path)), "--endpoint-url", f"http://127.0.0.1:{port}", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NO  identity: no credentials found: NoCredentialsError" in done.stdout
    assert "fix: configure credentials (aws configure, AWS_PROFILE, or the scenario's aws_profile)" in done.stdout


def name_not_resolving(host: str) -> EndpointConnectionError:
    """What botocore raises when a name does not resolve, made here (no lookup leaves the machine)."""
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as lookup:
            raise NameResolutionError(host, None, lookup) from lookup  # type: ignore[arg-type]
    except NameResolutionError as failed:
        return EndpointConnectionError(endpoint_url=f"https://{host}/", error=failed)


def test_a_name_that_does_not_resolve_in_a_region_botocore_does_not_list_is_a_wrong_region():
    said = str(unreachable(name_not_resolving("sts.eu-west-9.amazonaws.com"), "eu-west-9"))
    assert said.startswith(
        "cannot reach sts.eu-west-9.amazonaws.com (region eu-west-9): the region eu-west-9 does not exist or has no "
        "endpoint"
    )
    assert said.endswith("Check the region: the scenario's region, or --region")


def test_a_name_that_does_not_resolve_in_a_real_region_is_no_network():
    said = str(unreachable(name_not_resolving("sts.eu-west-1.amazonaws.com"), "eu-west-1"))
    assert said == (
        "cannot reach sts.eu-west-1.amazonaws.com (region eu-west-1): no network: the name does not resolve. "
        "Check the network (DNS, a VPN), or the region"
    )


class Attempts:
    """A recorder that keeps the attempts."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def record(self, kind: str, **fields) -> None:
        if kind == "api_attempt":
            self.outcomes.append(fields["outcome"])


@pytest.mark.parametrize("policy", ["harness", "botocore-standard"])
def test_a_pipelines_call_to_a_refused_endpoint_is_retried_seconds_not_minutes(policy):
    """Under every policy a call whose endpoint does not answer at all is retried (a blip is
    waited out) but gives up after `unreachable_seconds`, long before its attempt budget and
    its deadline would end it."""
    settings = RetrySettings(policy, max_attempts=50, deadline_seconds=3600, unreachable_seconds=2)
    attempts = Attempts()
    target = Target.aws("eu-west-1", endpoint_url=f"http://127.0.0.1:{closed_port()}")
    s3 = ClientFactory(target, settings, recorder=attempts).client("s3")
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError):
        s3.list_buckets()
    assert time.monotonic() - started < 2 + 1.5  # the budget, and at most a last refused attempt
    assert len(attempts.outcomes) >= 2 and set(attempts.outcomes) == {"exception"}
