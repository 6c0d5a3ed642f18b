"""Deprecations, announced once per process, exactly as the 0.9 road map words them."""

from __future__ import annotations

import logging
import sys
import threading
import warnings

_announced: set[str] = set()
_lock = threading.Lock()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (not what it was at import)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


log = logging.getLogger("harness.deprecation")
if not log.handlers:
    _handler = _StderrHandler()
    _handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.addHandler(_handler)
    log.propagate = False


def deprecated(name: str, version: str = "0.9") -> None:
    """Log `WARNING <name> is deprecated and will be removed in version <version>.` and raise a
    DeprecationWarning, the first time only."""
    with _lock:
        if name in _announced:
            return
        _announced.add(name)
    message = f"{name} is deprecated and will be removed in version {version}."
    log.warning(message)
    warnings.warn(message, DeprecationWarning, stacklevel=3)


class AWSServiceBroker:
    """Deprecated: use Meta. Kept importable; every attribute delegates to a Meta."""

    def __init__(self, meta):
        self._meta = meta

    def __getattr__(self, name: str):
        deprecated("AWSServiceBroker")
        return getattr(self._meta, name)
