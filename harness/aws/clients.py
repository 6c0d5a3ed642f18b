"""One client factory per backend: the simulator's URL, or real AWS through the standard
credential chain. Clients are made once per service and shared by every worker thread
(botocore clients are thread-safe; sessions are not, so creation is locked)."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import boto3
from botocore.config import Config

from harness.aws.hooks import CallHooks
from harness.aws.limiter import Limiter
from harness.aws.policies import RetrySettings

SIM_CREDENTIALS = {"aws_access_key_id": "harness-sim", "aws_secret_access_key": "harness-sim"}


@dataclass(frozen=True)
class Backend:
    kind: str  # "sim" or "aws"
    region: str
    endpoint_url: str | None = None  # the simulator's URL (or an AWS stand-in for tests)
    profile: str | None = None  # an AWS config profile; None: the standard chain

    @classmethod
    def simulator(cls, endpoint_url: str, region: str = "us-east-1") -> "Backend":
        return cls("sim", region, endpoint_url)

    @classmethod
    def aws(cls, region: str, profile: str | None = None, endpoint_url: str | None = None) -> "Backend":
        if not region:
            raise ValueError("backend 'aws' needs a region: set it in the scenario (there is no default)")
        return cls("aws", region, endpoint_url, profile)


class ClientFactory:
    def __init__(self, backend: Backend, settings: RetrySettings = RetrySettings(),
                 recorder=None, limiter: Limiter | None = None, time_scale: float = 1.0,
                 max_pool_connections: int = 64):
        self.backend, self.settings, self.time_scale = backend, settings, time_scale
        self.recorder = recorder
        self.limiter = limiter if settings.uses_limiter else None
        if backend.kind == "sim":
            self.session = boto3.Session(region_name=backend.region, **SIM_CREDENTIALS)
        else:
            self.session = boto3.Session(region_name=backend.region, profile_name=backend.profile)
        self.config = Config(
            retries=settings.botocore_retries(),
            max_pool_connections=max_pool_connections,
            connect_timeout=max(2.0, 10 * time_scale),
            read_timeout=max(2.0, 60 * time_scale),
        )
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()

    def sdk_session(self) -> boto3.Session:
        """A boto3 session for code that makes its own clients (the SageMaker SDK): each client
        it makes points at this backend, uses this policy, and is paced and recorded like ours."""
        with self._lock:
            if getattr(self, "_sdk_session", None) is None:
                credentials = SIM_CREDENTIALS if self.backend.kind == "sim" else {}
                session = _PinnedSession(self.backend.endpoint_url, self.config, region_name=self.backend.region,
                                         profile_name=self.backend.profile, **credentials)
                CallHooks(None, self.settings, self.time_scale, self.recorder, self.limiter).register(session.events)
                self._sdk_session = session
            return self._sdk_session

    def client(self, service: str):
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        with self._lock:
            if service not in self._clients:
                made = self.session.client(service, endpoint_url=self.backend.endpoint_url,
                                           config=self.config)
                CallHooks(service, self.settings, self.time_scale, self.recorder,
                          self.limiter).register(made.meta.events)
                if self.settings.policy.startswith("botocore-"):
                    scale_botocore_backoff(made, self.time_scale)
                self._clients[service] = made
            return self._clients[service]


class _PinnedSession(boto3.Session):
    """A boto3 session whose clients default to one endpoint URL and one client config."""

    def __init__(self, endpoint_url: str | None, config: Config, **kwargs):
        super().__init__(**kwargs)
        self._pinned_endpoint, self._pinned_config = endpoint_url, config

    def client(self, *args, **kwargs):
        if self._pinned_endpoint and not kwargs.get("endpoint_url"):
            kwargs["endpoint_url"] = self._pinned_endpoint
        kwargs["config"] = self._pinned_config.merge(kwargs["config"]) if kwargs.get("config") else self._pinned_config
        return super().client(*args, **kwargs)


def scale_botocore_backoff(client, time_scale: float) -> None:
    """botocore sleeps its retry delays in wall time. On a simulator running in scaled AWS time
    they must shrink by the same factor, or botocore's modes would back off 30 times longer
    than they do against AWS (an unfair fight with the harness policy, which scales its own).

    botocore registers its retry handler under a known unique id; we swap in a wrapper that
    scales the delay it returns. (This reaches into botocore's emitter; checked by a test.)
    """
    if time_scale == 1.0:
        return
    name = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{name}", f"retry-config-{name}"
    emitter = getattr(client.meta.events, "_emitter", client.meta.events)
    entry = getattr(emitter, "_unique_id_handlers", {}).get(unique_id)
    if entry is None:
        raise RuntimeError(f"botocore's retry handler for {name} was not found; cannot scale its backoff")
    original = entry["handler"]

    def scaled(**kwargs):
        delay = original(**kwargs)
        return delay if delay is None or delay is False else delay * time_scale

    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, scaled, unique_id=unique_id)
