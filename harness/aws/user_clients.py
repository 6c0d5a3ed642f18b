"""Every botocore client a user's code creates, instrumented as the harness's own are.

While a run's instrumentation is installed (`instrumented(factory)`), each client made in this
process through botocore's `ClientCreator` (plain boto3, the SageMaker SDK, awswrangler: they all
end there) is, in order:

- routed: on the simulator every client goes to its endpoint with its credentials, whatever the
  code asked for, so an explicit regional AWS URL (the SageMaker SDK builds one for STS) cannot
  leave the machine;
- configured: the run's retry policy decides botocore's retries; the code's other settings stay;
- hooked: the run's limiter paces each attempt (harness policy), each attempt is recorded, and a
  stopping run refuses new calls (`harness.aws.hooks.CallHooks`).

Attempts are attributed to the pipeline of the thread making the call; a call from a thread the
code started itself (which has no pipeline) is attributed to the pipeline that created the
client. The harness's own clients (`ClientFactory`) are left alone.

This wraps one botocore method, as OpenTelemetry's botocore instrumentation does; nothing in the
user's code or its libraries changes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from botocore.client import ClientCreator
from botocore.config import Config
from botocore.credentials import Credentials

from harness.aws.clients import making_own_client
from harness.events.context import CallContext, bound, current

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from harness.aws.clients import ClientFactory
    from harness.aws.hooks import EventRecorder

_lock = threading.Lock()
_installed: list[ClientFactory] = []  # the runs' factories, innermost last; the wrapper is on while any is
_original_create_client: Any = None
_here: ContextVar[ClientFactory | None] = ContextVar("harness_user_code_factory", default=None)


@contextlib.contextmanager
def instrumented(factory: ClientFactory) -> Iterator[None]:
    """Within the block, clients made in this thread use `factory`; clients made elsewhere in
    the process (the code's own threads) use the innermost factory installed."""
    _install(factory)
    token = _here.set(factory)
    try:
        yield
    finally:
        _here.reset(token)
        _uninstall(factory)


def installed() -> bool:
    return bool(_installed)


def _install(factory: ClientFactory) -> None:
    global _original_create_client
    with _lock:
        if not _installed:
            _original_create_client = ClientCreator.create_client
            ClientCreator.create_client = _create_client
        _installed.append(factory)


def _uninstall(factory: ClientFactory) -> None:
    global _original_create_client
    with _lock:
        _installed.remove(factory)
        if not _installed:
            ClientCreator.create_client = _original_create_client
            _original_create_client = None


def _factory() -> ClientFactory | None:
    if making_own_client():
        return None
    here = _here.get()
    if here is not None:
        return here
    with _lock:
        return _installed[-1] if _installed else None


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
    factory = _factory()
    original = _original_create_client
    if factory is None or original is None:
        return original(
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
    target = factory.target
    if target.kind == "sim":
        endpoint_url = target.endpoint_url
        credentials = Credentials(**factory.sim_credentials())
        region_name = region_name or target.region
    client = original(
        self,
        service_name,
        region_name,
        is_secure,
        endpoint_url,
        verify,
        credentials,
        scoped_config,
        api_version,
        factory.config_for(client_config),
        auth_token,
    )
    factory.hook(client, recorder=_Attributed(factory.recorder, current()) if factory.recorder else None)
    return client


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
