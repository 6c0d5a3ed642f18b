"""The limiter's state shared by worker processes: one LocalBackend served by a
multiprocessing manager (a local socket with an auth key), reached through a proxy that
speaks the same LimiterBackend interface, so callers do not change."""
from __future__ import annotations

import secrets
from multiprocessing.managers import BaseManager

from harness.aws.limiter import LimiterBackend, LocalBackend
from harness.detach import detach_for_good, held_interrupts

_served: LocalBackend | None = None


def _backend() -> LocalBackend:
    global _served
    if _served is None:
        _served = LocalBackend()
    return _served


class _Manager(BaseManager):
    pass


_Manager.register("backend", callable=_backend)


class SharedLimiterServer:
    """Start it in the runner; hand `address` and `authkey` to each worker process. Its process
    is detached from the terminal (a Ctrl-C must not take the limiter away from workers that
    are tearing down) and exits with the runner."""

    def __init__(self, context=None):
        self.authkey = secrets.token_bytes(16)
        self._manager = _Manager(authkey=self.authkey, ctx=context)

    def start(self) -> "SharedLimiterServer":
        with held_interrupts():
            self._manager.start(initializer=detach_for_good)
        return self

    @property
    def address(self):
        return self._manager.address

    def stop(self) -> None:
        self._manager.shutdown()


def connect(address, authkey: bytes) -> LimiterBackend:
    manager = _Manager(address=address, authkey=authkey)
    manager.connect()
    return manager.backend()
