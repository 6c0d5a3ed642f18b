"""Who is making a call: level, worker, pipeline and stage, set by the runner per thread."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class CallContext:
    level: int | None = None
    worker: int | None = None
    pipeline: str | None = None
    stage: str | None = None


# CallContext is frozen: the shared default cannot be changed through it
_current: ContextVar[CallContext] = ContextVar("harness_call_context", default=CallContext())  # noqa: B039


def current() -> CallContext:
    return _current.get()


@contextlib.contextmanager
def bound(**fields):
    """Within the block, events carry these fields (others keep their current values)."""
    token = _current.set(replace(_current.get(), **fields))
    try:
        yield
    finally:
        _current.reset(token)
