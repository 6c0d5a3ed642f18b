"""The `aws_sim` fixture: a test's own AWS account on the simulator, as moto's `mock_aws` gives
a plain one.

One simulator process per test session (per pytest-xdist worker), on 127.0.0.1; every test that
asks for `aws_sim` gets it reset to an empty account playing the profile its `aws_sim` marker
names (harness/pytest_plugin/account.py), and, for the test's duration, an environment in which
any boto3 client reaches it: `AWS_ENDPOINT_URL`, fake credentials and the region, with
`AWS_PROFILE` and any service's own endpoint variable removed, so nothing leaves the machine.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest_plugin.account import MARKER

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient

    from harness.pytest_plugin.account import SimAccount
    from harness.pytest_plugin.at_once import AtOnce, PipelineSpec
    from harness.sim import Simulator

# what would take a client elsewhere than the simulator, or as someone else
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
UNSET_PREFIXES = ("AWS_ENDPOINT_URL_",)  # AWS_ENDPOINT_URL_S3 and the like win over AWS_ENDPOINT_URL


class AwsSim:
    """The test's account on the simulator: its endpoint, clients and session, its counters,
    its clock (on manual time), and `run_at_once` for the test's pipeline N at once."""

    def __init__(self, server: Simulator, account: SimAccount, folder: Path, test: str = "a test") -> None:
        self.server, self.account, self.folder, self.test = server, account, folder, test
        self.profile = account.simulator_profile(folder)  # the name or path the simulator loads

    @property
    def endpoint_url(self) -> str:
        assert self.server.endpoint_url is not None  # started by the session fixture
        return self.server.endpoint_url

    @property
    def region(self) -> str:
        return self.account.region

    @property
    def credentials(self) -> dict[str, str]:
        """Fake keys: the simulator's account, the same one a harness run's clients use."""
        from harness.aws.clients import SIM_CREDENTIALS

        return dict(SIM_CREDENTIALS)

    def environment(self) -> dict[str, str]:
        """What the fixture puts in the test's environment: any boto3 client made without an
        endpoint reaches the simulator."""
        keys = self.credentials
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",  # else a config file could turn it off
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str, **config: Any) -> BaseClient:
        """A boto3 client on the simulator; `config`: botocore Config settings
        (retries={"total_max_attempts": 1}, say), botocore's defaults otherwise."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=Config(**config) if config else None,
            **self.credentials,
        )

    @functools.cached_property
    def session(self) -> boto3.Session:
        """A boto3 Session with the fake keys and the region, for code that takes one
        (awswrangler's boto3_session, say); its clients reach the simulator through the
        environment's AWS_ENDPOINT_URL."""
        import boto3

        return boto3.Session(region_name=self.region, **self.credentials)

    def reset(self, manual_time: bool | None = None) -> None:
        """Forget every resource and counter: an empty account playing the test's profile.
        manual_time: None keeps the marker's."""
        manual = self.account.manual_time if manual_time is None else manual_time
        self.server.reset(self.profile, self.account.seed, self.account.time_scale, manual_time=manual)

    def stats(self) -> dict[str, Any]:
        """The simulator's counters: per operation (`stats()["operations"]["s3.PutObject"]`)
        requests, throttled, faults, timeouts, limited, errors; and the resources it holds."""
        return self.server.stats()

    def advance(self, aws_seconds: float) -> float:
        """Move the account's clock on (manual time only); returns its AWS time now."""
        if not self.server.stats().get("manual_time"):
            raise RuntimeError(
                f"aws_sim.advance({aws_seconds!r}) needs the simulator on manual time: "
                f"@pytest.mark.{MARKER}(manual_time=True)"
            )
        return self.server.advance(aws_seconds)

    def run_at_once(self, pipeline: PipelineSpec, n: int = 4, **options: Any) -> AtOnce:
        """The pipeline `n` times at once on this account, through the harness's runner; see
        harness.pytest_plugin.at_once.run_at_once."""
        from harness.pytest_plugin.at_once import run_at_once

        return run_at_once(self, pipeline, n, **options)


def scrub(env: pytest.MonkeyPatch) -> None:
    """Take out of the environment what points clients at a real account."""
    for name in list(os.environ):
        if name in UNSET or name.startswith(UNSET_PREFIXES):
            env.delenv(name)


@pytest.fixture(scope="session")
def aws_sim_server() -> Any:
    """The session's simulator process (one per pytest-xdist worker); `aws_sim` resets it."""
    from harness.sim import Simulator

    with pytest.MonkeyPatch.context() as env:  # moto, inside it, makes clients too
        scrub(env)
        server = Simulator("calm", seed=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_sim(
    aws_sim_server: Simulator, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """An empty AWS account on the simulator, playing the profile of the test's `aws_sim` marker
    (aws-default on the wall clock without one); boto3 reaches it from anywhere in the test."""
    from harness.config import ConfigError
    from harness.pytest_plugin.account import SimAccount

    test = request.node.nodeid
    try:
        account = SimAccount.from_markers(
            request.node.iter_markers(MARKER), f"@pytest.mark.{MARKER} on {test}", request.config.rootpath
        )
        sim = AwsSim(aws_sim_server, account, tmp_path / "aws_sim", test)
    except ConfigError as bad:  # the marker's mistake, in one line: no traceback into the plugin
        pytest.fail(str(bad), pytrace=False)
    sim.reset()
    scrub(monkeypatch)
    for name, value in sim.environment().items():
        monkeypatch.setenv(name, value)
    yield sim
