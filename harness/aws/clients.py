"""One client factory per target: the simulator's URL, or real AWS through the standard
credential chain. Clients are made once per service (botocore clients are thread-safe;
sessions are not, so creation is locked). Under a botocore retry policy each worker gets its
own clients (`for_worker`): botocore keeps its retry state (adaptive rate, retry quota) per
client, and in production each pipeline is its own process with its own clients."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from harness.aws.hooks import CallHooks, EventRecorder
from harness.aws.limiter import Limiter
from harness.aws.policies import RetrySettings
from harness.clock import Clock

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_RETRIES = RetrySettings()  # the harness policy, 8 attempts (frozen: one can be shared)
# Set-up calls (the account guard's STS call, `harness doctor`'s reads) are a few quick reads
# before anything is made, under one policy whatever the run compares: botocore's standard mode
# with its own default of 3 attempts (a blip is retried), a 3 s connect timeout (a TCP connect
# to AWS takes well under a second; 3 s leaves room for one lost SYN, resent after 1 s) and a
# 10 s read timeout (each answers in about a second). An endpoint that does not answer then
# fails in about 2 s when refused and in 12 s at most when packets are dropped (3 connect
# timeouts and up to 3 s of backoff; no retry starts 10 s after the first attempt): the
# network or the region is said at once, not after minutes. A name that does not resolve
# takes what the system's resolver takes on top (botocore cannot time it).
SETUP_RETRIES = RetrySettings("botocore-standard", max_attempts=3, unreachable_seconds=10.0)
SETUP_CONNECT_TIMEOUT, SETUP_READ_TIMEOUT = 3.0, 10.0
SIM_CREDENTIALS = {"aws_access_key_id": "harness-sim", "aws_secret_access_key": "harness-sim"}

# Set while the factory makes a client of its own, so the instrumentation of users' code
# (harness.usercode.instrument) leaves it alone: the factory configures and hooks it itself.
_making_own: ContextVar[bool] = ContextVar("harness_making_own_client", default=False)


def making_own_client() -> bool:
    return _making_own.get()


@contextlib.contextmanager
def _own_clients() -> Iterator[None]:
    token = _making_own.set(True)
    try:
        yield
    finally:
        _making_own.reset(token)


@dataclass(frozen=True)
class Target:
    kind: str  # "sim" or "aws"
    region: str
    endpoint_url: str | None = None  # the simulator's URL (or an AWS stand-in for tests)
    profile: str | None = None  # an AWS config profile; None: the standard chain
    # a botocore `before-send` handler that answers in the calling thread: the simulator in this
    # process (harness.sim.inprocess, on virtual time), reached without a socket
    transport: Callable[..., Any] | None = field(default=None, compare=False)

    @classmethod
    def simulator(
        cls, endpoint_url: str, region: str = "us-east-1", transport: Callable[..., Any] | None = None
    ) -> "Target":
        return cls("sim", region, endpoint_url, transport=transport)

    @classmethod
    def aws(cls, region: str, profile: str | None = None, endpoint_url: str | None = None) -> "Target":
        if not region:
            raise ValueError("target 'aws' needs a region: set it in the scenario (there is no default)")
        return cls("aws", region, endpoint_url, profile)


def configured_region(profile: str | None = None) -> str | None:
    """The region the AWS CLI uses when none is given: AWS_REGION, then AWS_DEFAULT_REGION, then
    the profile's `region` (botocore reads the last two, not the first).
    https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html"""
    import os

    import botocore.session

    region = os.environ.get("AWS_REGION") or botocore.session.Session(profile=profile).get_config_variable("region")
    return str(region) if region else None


class ClientFactory:
    def __init__(
        self,
        target: Target,
        settings: RetrySettings = DEFAULT_RETRIES,
        recorder: EventRecorder | None = None,
        limiter: Limiter | None = None,
        time_scale: float = 1.0,
        max_pool_connections: int = 64,
        clock: Clock | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> None:
        """clock: the run's clock (default: the wall at `time_scale`); waits and backoff use it.
        connect_timeout, read_timeout: wall seconds (default: 10 and 60 AWS seconds, at least 2
        wall seconds)."""
        self.target, self.settings = target, settings
        self.clock = clock or Clock(time_scale)
        self.time_scale = self.clock.time_scale
        self.recorder = recorder
        self.limiter = limiter if settings.policy.uses_limiter else None
        if target.kind == "sim":
            self.session = boto3.Session(region_name=target.region, **SIM_CREDENTIALS)
        else:
            self.session = boto3.Session(region_name=target.region, profile_name=target.profile)
        self.config = Config(
            retries=settings.policy.botocore_retries(settings.max_attempts),
            max_pool_connections=max_pool_connections,
            connect_timeout=connect_timeout or max(2.0, 10 * time_scale),
            read_timeout=read_timeout or max(2.0, 60 * time_scale),
        )
        self._clients: dict[str, BaseClient] = {}
        self._sdk_session: boto3.Session | None = None
        self._lock = threading.Lock()

    def for_worker(self) -> "ClientFactory":
        """The factory one pipeline worker uses: this one when the policy keeps no per-client
        state (the harness's state is its shared limiter), else a sibling with its own clients
        and the same session, config and recorder."""
        if not self.settings.policy.per_client_state:
            return self
        sibling = copy.copy(self)
        sibling._clients, sibling._sdk_session = {}, None
        return sibling

    def sdk_session(self) -> boto3.Session:
        """A boto3 session for code that makes its own clients (the SageMaker SDK): each client
        it makes points at this target, uses this policy, and is paced and recorded like ours."""
        with self._lock:
            if self._sdk_session is None:
                credentials = SIM_CREDENTIALS if self.target.kind == "sim" else {}
                session = _PinnedSession(
                    self.target.endpoint_url,
                    self.config,
                    region_name=self.target.region,
                    profile_name=self.target.profile,
                    **credentials,
                )
                hooks = CallHooks(None, self.settings, self.time_scale, self.recorder, self.limiter, self.clock)
                hooks.register(session.events, self.target.transport)
                self.settings.policy.install(session.events, hooks)
                self._sdk_session = session
            return self._sdk_session

    def sim_credentials(self) -> dict[str, str]:
        return {
            "access_key": SIM_CREDENTIALS["aws_access_key_id"],
            "secret_key": SIM_CREDENTIALS["aws_secret_access_key"],
        }

    def config_for(self, theirs: Config | None) -> Config:
        """A client config for code that brings its own: its settings, but the run's retries
        (the policy decides them); none given, the factory's own."""
        if theirs is None:
            return self.config
        return theirs.merge(Config(retries=self.settings.policy.botocore_retries(self.settings.max_attempts)))

    def hooks_for_users_code(self, service: str | None, recorder: EventRecorder | None = None) -> CallHooks:
        """What paces and records attempts of users' code for this factory's run (`service` None:
        read from each event's name). Under the harness policy it also waits out a full
        concurrency quota, which the built-in pipelines queue for before they call."""
        hooks = CallHooks(service, self.settings, self.time_scale, recorder or self.recorder, self.limiter, self.clock)
        hooks.waits_out_full_quotas = True
        return hooks

    def hook(self, client: BaseClient) -> None:
        """Pace and record every attempt of `client`, and let the policy add what it needs."""
        service = client.meta.service_model.service_name  # the name it was made by ("logs", not "cloudwatch-logs")
        hooks = CallHooks(service, self.settings, self.time_scale, self.recorder, self.limiter, self.clock)
        hooks.register(client.meta.events, self.target.transport)
        self.settings.policy.install(client.meta.events, hooks, client)

    def client(self, service: str) -> BaseClient:
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        with self._lock:
            if service not in self._clients:
                with _own_clients():
                    made = self.session.client(service, endpoint_url=self.target.endpoint_url, config=self.config)
                self.hook(made)
                self._clients[service] = made
            return self._clients[service]


def setup_clients(target: Target) -> ClientFactory:
    """Clients for set-up calls: a few quick reads that fail in seconds (SETUP_RETRIES)."""
    return ClientFactory(target, SETUP_RETRIES, connect_timeout=SETUP_CONNECT_TIMEOUT, read_timeout=SETUP_READ_TIMEOUT)


class _PinnedSession(boto3.Session):  # type: ignore[misc]  # boto3 ships no type information
    """A boto3 session whose clients default to one endpoint URL and one client config."""

    def __init__(self, endpoint_url: str | None, config: Config, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pinned_endpoint, self._pinned_config = endpoint_url, config

    def client(self, *args: Any, **kwargs: Any) -> BaseClient:
        if self._pinned_endpoint and not kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = self._pinned_endpoint
        kwargs["config"] = self._pinned_config.merge(kwargs["config"]) if kwargs.get("config") else self._pinned_config
        with _own_clients():  # hooked through the session's events
            return super().client(*args, **kwargs)
