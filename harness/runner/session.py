"""The one way a command runs a scenario: Ctrl-C and SIGTERM handled as a person expects (stop,
then stop waiting, then quit), the report rendered after the run, and the exit code the result
owns (`RunResult.exit_code`)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import FrameType

from harness.runner.result import RunResult
from harness.runner.run import Runner


def run_and_report(runner: Runner) -> RunResult:
    restore = stop_handlers(runner)
    try:
        result = runner.run()
    finally:
        restore()
    return result.render(runner.say)


def stop_handlers(runner: Runner) -> Callable[[], None]:
    """Ctrl-C or SIGTERM once: the run stops gracefully (teardown, cleanup, report). Twice:
    teardowns stop waiting. Three times: quit at once (the events are safe; `harness cleanup
    SCENARIO --run-id ID --yes` removes what is left). Returns a function that restores the previous handlers.

    The handler only notes the signal; a relay thread acts on it. A handler runs between two
    bytecodes of the main thread, which may hold a lock that stopping needs (an event's, or
    stderr's), so doing the work in the handler could deadlock."""
    import contextlib
    import signal

    received: list[str] = []
    done = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)  # atomic; never blocks
        if len(received) >= 3:
            raise KeyboardInterrupt

    def relay() -> None:
        acted = 0
        while not done.wait(0.05):
            while acted < min(len(received), 2):
                runner.request_stop(received[acted])
                acted += 1
            if len(received) >= 3:
                print(
                    "quitting at once; to delete what is left: "
                    f"harness cleanup {runner.scenario.source} --run-id {runner.run_id} --yes",
                    file=sys.stderr,
                )
                return

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    threading.Thread(target=relay, name="stop-relay", daemon=True).start()

    def restore() -> None:
        done.set()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)

    return restore
