"""Child processes a terminal's Ctrl-C does not reach, so the runner alone decides how they stop.

A terminal sends SIGINT to its whole foreground process group. A child in that group (the
embedded simulator, worker processes, the shared limiter's server) would die at once, before
the runner could tear down the pipelines through it. So children leave the group:

- a child started with `subprocess.Popen(..., start_new_session=True)` is detached before it runs;
- a `multiprocessing` child is started under `held_interrupts()` and calls `detach()` first
  thing: a Ctrl-C that arrives while it boots waits, blocked, and is then dropped.

A detached child must not outlive a runner killed with SIGKILL: `exit_with_parent` watches for
that.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Callable

_INTERRUPTS = {signal.SIGINT}


@contextlib.contextmanager
def held_interrupts():
    """Block SIGINT in this thread while starting a child (the child inherits the block). A
    SIGINT meant for this process is delivered to another thread, or once the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def detach() -> None:
    """In a child started under held_interrupts: ignore SIGINT (dropping one that is pending),
    leave the parent's session and process group, then unblock."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(PermissionError):  # already a session leader
        os.setsid()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)


def exit_with_parent(on_orphaned: Callable[[], None], interval: float = 0.5) -> threading.Thread:
    """Call `on_orphaned()` once this process's parent is gone (the runner killed with SIGKILL)."""
    parent = os.getppid()

    def watch():
        stopped = threading.Event()
        while not stopped.wait(interval):
            if os.getppid() != parent:
                on_orphaned()
                return

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def detach_for_good() -> None:
    """detach(), and exit when the parent is gone: for helper processes with no state to save."""
    detach()
    exit_with_parent(lambda: os._exit(0))
