"""One client factory per backend: the simulator's URL, or real AWS through the standard
credential chain. Clients are made once per service (botocore clients are thread-safe;
sessions are not, so creation is locked). Under a botocore retry policy each worker gets its
own clients (`for_worker`): botocore keeps its retry state (adaptive rate, retry quota) per
client, and in production each pipeline is its own process with its own clients."""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.retries import adaptive, bucket, standard, throttling

from harness.aws.hooks import CallHooks
from harness.aws.limiter import Limiter
from harness.aws.policies import RetrySettings
from harness.clock import Clock

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
                 max_pool_connections: int = 64, clock: Clock | None = None):
        """clock: the run's clock (default: the wall at `time_scale`); waits and backoff use it."""
        self.backend, self.settings = backend, settings
        self.clock = clock or Clock(time_scale)
        self.time_scale = self.clock.time_scale
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
        self._sdk_session: boto3.Session | None = None
        self._lock = threading.Lock()

    def for_worker(self) -> "ClientFactory":
        """The factory one pipeline worker uses: this one when the policy keeps no per-client
        state (the harness's state is its shared limiter), else a sibling with its own clients
        and the same session, config and recorder."""
        if not self.settings.per_client_state:
            return self
        sibling = copy.copy(self)
        sibling._clients, sibling._sdk_session = {}, None
        return sibling

    def sdk_session(self) -> boto3.Session:
        """A boto3 session for code that makes its own clients (the SageMaker SDK): each client
        it makes points at this backend, uses this policy, and is paced and recorded like ours."""
        with self._lock:
            if self._sdk_session is None:
                credentials = SIM_CREDENTIALS if self.backend.kind == "sim" else {}
                session = _PinnedSession(self.backend.endpoint_url, self.config, region_name=self.backend.region,
                                         profile_name=self.backend.profile, **credentials)
                CallHooks(None, self.settings, self.time_scale, self.recorder, self.limiter,
                          self.clock).register(session.events)
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
                CallHooks(service, self.settings, self.time_scale, self.recorder, self.limiter,
                          self.clock).register(made.meta.events)
                if self.settings.policy.startswith("botocore-"):
                    scale_botocore_time(made, self.clock)
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


def scale_botocore_time(client, clock: Clock) -> None:
    """botocore sleeps and measures in wall time. On a simulator running in scaled AWS time its
    clocks must run at the same scale, or botocore's modes would back off 30 times longer (and
    adaptive mode refill its rate 30 times slower) than they do against AWS: an unfair fight
    with the harness policy, which scales its own. Its retry delay is slept on the run's clock
    (so a stopping run cuts it short, at any scale) and, in adaptive mode, the client-side rate
    limiter runs on an AWS-time clock."""
    _sleep_retry_delay_on(client, clock)
    if clock.time_scale != 1.0:
        _scale_adaptive_clock(client, clock.time_scale)


def _emitter(client):
    return getattr(client.meta.events, "_emitter", client.meta.events)


def _sleep_retry_delay_on(client, clock: Clock) -> None:
    """botocore registers its retry handler under a known unique id; we swap in a wrapper that
    sleeps the delay it decides (AWS seconds) on the run's clock and tells botocore to sleep 0.
    (This reaches into botocore's emitter; checked by a test.)"""
    name = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{name}", f"retry-config-{name}"
    entry = getattr(_emitter(client), "_unique_id_handlers", {}).get(unique_id)
    if entry is None:
        raise RuntimeError(f"botocore's retry handler for {name} was not found; cannot scale its backoff")
    original = entry["handler"]

    def slept_here(**kwargs):
        delay = original(**kwargs)
        if delay is None or delay is False:
            return delay
        clock.sleep(delay)  # Stopped when the run stops meanwhile
        return 0

    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, slept_here, unique_id=unique_id)


class ScaledClock:
    """botocore's retry clock (bucket.Clock's interface) running in AWS time."""

    def __init__(self, time_scale: float):
        self.time_scale = time_scale

    def current_time(self) -> float:
        return time.monotonic() / self.time_scale

    def sleep(self, amount: float) -> None:
        time.sleep(amount * self.time_scale)


class ScaledTokenBucket(bucket.TokenBucket):
    """botocore's TokenBucket waits on a condition variable for its sleep amount in clock units
    (not through clock.sleep): on an AWS-time clock that wait must shrink to wall time."""

    def _sleep_amount(self, amount):
        return super()._sleep_amount(amount) * self._clock.time_scale


def _scale_adaptive_clock(client, time_scale: float) -> None:
    """Adaptive mode's ClientRateLimiter (token bucket, cubic rate, measured send rate) shares
    one wall clock. Replace it with an identical limiter built on an AWS-time clock, made the
    way botocore's adaptive.register_retry_handler makes it."""
    emitter = _emitter(client)
    found = [h for h in emitter._handlers.prefix_search("before-send")
             if isinstance(getattr(h, "__self__", None), adaptive.ClientRateLimiter)]
    if not found:
        return  # not adaptive mode
    old = found[0].__self__
    clock = ScaledClock(time_scale)
    limiter = adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
        rate_clocker=adaptive.RateClocker(clock),
        token_bucket=ScaledTokenBucket(max_rate=1, clock=clock),
        throttling_detector=standard.ThrottlingErrorDetector(retry_event_adapter=standard.RetryEventAdapter()),
        clock=clock)
    client.meta.events.unregister("before-send", old.on_sending_request)
    client.meta.events.unregister("needs-retry", old.on_receiving_response)
    # first, as botocore's was: its pacing happens before our hook times the attempt
    client.meta.events.register_first("before-send", limiter.on_sending_request)
    client.meta.events.register("needs-retry", limiter.on_receiving_response)
