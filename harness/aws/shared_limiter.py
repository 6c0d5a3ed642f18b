"""The limiter's state shared by worker processes: one LocalBackend served by a
multiprocessing manager (a local socket with an auth key), reached through a proxy that
speaks the same LimiterBackend interface, so callers do not change."""
from __future__ import annotations

import secrets
from multiprocessing.managers import BaseManager

from harness.aws.limiter import LimiterBackend, LocalBackend

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
    """Start it in the runner; hand `address` and `authkey` to each worker process."""

    def __init__(self):
        self.authkey = secrets.token_bytes(16)
        self._manager = _Manager(authkey=self.authkey)

    def start(self) -> "SharedLimiterServer":
        self._manager.start()
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
