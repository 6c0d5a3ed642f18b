"""Every botocore client a user's code creates, instrumented as the harness's own are.

Within `instrumented(factory)` (a pipeline of the user's code, in its worker thread), and in
every thread that code starts, each client made through botocore's `ClientCreator` (plain
boto3, the SageMaker SDK, awswrangler: they all end there) is, in order:

- routed: to the run's target with its credentials and region, whatever the code asked for. On
  the simulator an explicit regional AWS URL (the SageMaker SDK builds one for STS) cannot leave
  the machine; on AWS the code runs as the scenario's profile in its region, never as whoever
  runs the harness;
- configured: the run's retry policy decides botocore's retries; the code's other settings stay;
- hooked: the run's limiter paces each attempt (harness policy), each attempt is recorded, and a
  run past its grace period refuses new calls (`harness.aws.hooks.CallHooks`).

A thread the code starts carries the pipeline's context (its attribution and its stop signal):
`threading.Thread.start` copies it, as asyncio copies contexts into tasks. Outside the code's
threads nothing changes: the harness's own clients (`ClientFactory`) and anyone else's are made
as botocore makes them.

The wrapper stays on botocore once put there, doing nothing outside users' code: a thread of the
code that outlives its pipeline keeps its context, so its clients are still routed, never sent
to a real account with someone's own credentials.

This wraps two methods, as OpenTelemetry's botocore instrumentation does; nothing in the
user's code or its libraries changes.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from botocore.client import ClientCreator
from botocore.config import Config
from botocore.credentials import Credentials

from harness.aws.clients import making_own_client
from harness.events.context import CallContext, bound, current

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from harness.aws.clients import ClientFactory
    from harness.aws.hooks import CallHooks, EventRecorder

_lock = threading.Lock()
_original_create_client: Any = None
_original_thread_start: Any = None
_here: ContextVar[ClientFactory | None] = ContextVar("harness_user_code_factory", default=None)
_active = 0  # pipelines of users' code running now


@contextlib.contextmanager
def instrumented(factory: ClientFactory) -> Iterator[None]:
    """Within the block, and in threads started from it, clients are made for `factory`'s run."""
    global _active
    _install()
    token = _here.set(factory)
    with _lock:
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
        _here.reset(token)


def active() -> int:
    """How many pipelines of users' code are inside `instrumented` now."""
    return _active


def _install() -> None:
    global _original_create_client, _original_thread_start
    with _lock:
        if _original_create_client is None:
            _original_create_client = ClientCreator.create_client
            ClientCreator.create_client = _create_client
            _original_thread_start = threading.Thread.start
            threading.Thread.start = _start_thread  # type: ignore[method-assign]


def _start_thread(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    if _here.get() is not None:  # started by users' code: the thread carries the pipeline's context
        context, run = contextvars.copy_context(), self.run
        self.run = lambda: context.run(run)  # type: ignore[method-assign]
    _original_thread_start(self, *args, **kwargs)


def _create_client(
    self: ClientCreator,
    service_name: str,
    region_name: str | None,
    is_secure: bool = True,
    endpoint_url: str | None = None,
    verify: Any = None,
    credentials: Credentials | None = None,
    scoped_config: Any = None,
    api_version: str | None = None,
    client_config: Config | None = None,
    auth_token: Any = None,
) -> BaseClient:
    factory = None if making_own_client() else _here.get()
    if factory is not None:
        target = factory.target
        region_name = target.region
        if target.kind == "sim":
            endpoint_url = target.endpoint_url
            credentials = Credentials(**factory.sim_credentials())
        else:  # the scenario's account, as the harness reaches it
            credentials = factory.session.get_credentials()
            endpoint_url = target.endpoint_url or endpoint_url
        client_config = factory.config_for(client_config)
    client = _original_create_client(
        self,
        service_name,
        region_name,
        is_secure,
        endpoint_url,
        verify,
        credentials,
        scoped_config,
        api_version,
        client_config,
        auth_token,
    )
    if factory is not None:
        _PerRun(factory, current(), client).register()
    return client


class _PerRun:
    """A client's hooks for the run using it now: the run of the thread making the call, else the
    run it was made in. A client made at a module's import outlives its run (the module stays
    imported): in a later run of the same process its calls go to that run's simulator, limiter
    and recorder. (Its botocore retry configuration stays the one it was made with.)"""

    def __init__(self, made_with: ClientFactory, made_in: CallContext, client: BaseClient) -> None:
        self.made_with, self.made_in, self.client = made_with, made_in, client
        self.service = client.meta.service_model.service_name
        self._hooks: weakref.WeakKeyDictionary[ClientFactory, CallHooks] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def register(self) -> None:
        events, policy = self.client.meta.events, self.made_with.settings.policy
        events.register("before-send", self.before_send)
        events.register("response-received", self.response_received)
        if policy.uses_limiter:  # the run decides each retry (the harness policy)
            events.register("needs-retry", self.needs_retry)
        else:  # botocore's own modes: on the run's clock
            policy.install(events, self._now()[1], self.client)

    def _now(self) -> tuple[ClientFactory, CallHooks]:
        factory = _here.get() or self.made_with
        with self._lock:
            hooks = self._hooks.get(factory)
            if hooks is None:
                recorder = _Attributed(factory.recorder, self.made_in) if factory.recorder else None
                hooks = self._hooks[factory] = factory.hooks_for_users_code(self.service, recorder)
        return factory, hooks

    def before_send(self, event_name: str, request: Any = None, **kwargs: Any) -> None:
        factory, hooks = self._now()
        target = factory.target
        if target.kind == "sim" and target.endpoint_url and request is not None:
            _reroute(request, target.endpoint_url)
        hooks.before_send(event_name, request=request, **kwargs)

    def response_received(self, event_name: str, **kwargs: Any) -> None:
        self._now()[1].response_received(event_name, **kwargs)

    def needs_retry(self, **kwargs: Any) -> float | None:
        return self._now()[1].needs_retry(**kwargs)


def _reroute(request: Any, endpoint_url: str) -> None:
    """The request, sent to the simulator it belongs to now (its path and query unchanged)."""
    to, sent = urlsplit(endpoint_url), urlsplit(request.url)
    if (sent.scheme, sent.netloc) != (to.scheme, to.netloc):
        request.url = urlunsplit((to.scheme, to.netloc, sent.path, sent.query, sent.fragment))
        if "host" in request.headers:
            request.headers["host"] = to.netloc


class _Attributed:
    """A recorder that fills in the creating pipeline's context for a call from a thread that
    has none of its own."""

    def __init__(self, recorder: EventRecorder, made_in: CallContext) -> None:
        self.recorder, self.made_in = recorder, made_in

    def record(self, kind: str, **fields: Any) -> None:
        if current().pipeline is None and self.made_in.pipeline is not None:
            with bound(**asdict(self.made_in)):
                self.recorder.record(kind, **fields)
        else:
            self.recorder.record(kind, **fields)
