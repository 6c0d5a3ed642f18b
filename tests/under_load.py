"""Run a command while other processes keep every core busy; `make test-under-load` runs the
suite this way, several times in a row. A timing claim that holds only on an idle machine
fails here.

    python tests/under_load.py --runs 3 -- python -m pytest -n auto -q
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

BUSY = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="run the command this many times; stop at a failure")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy processes (default: one per core)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.hogs)]
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            print(f"under load ({args.hogs} busy processes), run {run} of {args.runs}: {' '.join(command)}", flush=True)
            code = subprocess.call(command)
            print(f"run {run}: exit code {code} after {time.monotonic() - started:.0f} s", flush=True)
            if code != 0:
                return code
        return 0
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


if __name__ == "__main__":
    sys.exit(main())
