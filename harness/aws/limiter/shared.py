"""The limiter's state shared by worker processes: one LocalStore served by a
multiprocessing manager (a local socket with an auth key), reached through a proxy that speaks
the same LimiterStore interface, so callers do not change. A proxy cannot wake a waiter, so
waiters in worker processes look again every few AWS seconds (see Limiter._pause)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from multiprocessing.context import BaseContext
from multiprocessing.managers import BaseManager
from typing import TypeAlias

from harness.aws.limiter.stores import LimiterStore, LocalStore
from harness.clock import Clock
from harness.detach import detach_for_good, held_interrupts

_served: LocalStore | None = None
_time_scale = 1.0
# where a manager listens, as multiprocessing takes it: a socket or pipe path, or (host, port)
Address: TypeAlias = str | bytes | tuple[str, int]
EXPOSED = ("ask_token", "leave", "feedback", "ask_slot", "release", "renew", "waiters", "now", "rate")


def _store() -> LocalStore:
    global _served
    if _served is None:
        _served = LocalStore(Clock(_time_scale))
    return _served


def _start_server(time_scale: float) -> None:
    """Initializer of the manager's process."""
    global _time_scale
    _time_scale = time_scale
    detach_for_good()


class _Manager(BaseManager):
    store: Callable[[], LimiterStore]  # registered below: a proxy to the served LocalStore


_Manager.register("store", callable=_store, exposed=EXPOSED)


class SharedLimiterServer:
    """Start it in the runner; hand `address` and `authkey` to each worker process. Its process
    is detached from the terminal (a Ctrl-C must not take the limiter away from workers that
    are tearing down) and exits with the runner. Its clock runs at the run's time scale."""

    def __init__(self, context: BaseContext | None = None, time_scale: float = 1.0) -> None:
        self.authkey = secrets.token_bytes(16)
        self.time_scale = time_scale
        self._manager = _Manager(authkey=self.authkey, ctx=context)

    def start(self) -> "SharedLimiterServer":
        with held_interrupts():
            self._manager.start(initializer=_start_server, initargs=(self.time_scale,))
        return self

    @property
    def address(self) -> Address:
        """Where the started server listens."""
        address = self._manager.address
        if address is None:  # the manager learns it from its process as that starts
            raise RuntimeError("the shared limiter's server has not been started")
        return address

    def stop(self) -> None:
        self._manager.shutdown()


def connect(address: Address, authkey: bytes) -> LimiterStore:
    manager = _Manager(address=address, authkey=authkey)
    manager.connect()
    return manager.store()
