"""The `harness` command line: run, sweep, shootout and plan run a scenario (runs.py); report,
compare, whatif and calibrate read run folders (reports.py); sim, doctor, cleanup and quotas
work on an account or stand in for one (account.py). Flags are checked as they are read
(options.py): a bad one is one line and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws.reach import CONNECTION_ERRORS, EXIT_CODE as UNREACHABLE, Unreachable, unreachable
from harness.config import ConfigError
from harness.runner.result import NotStarted


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ml-pipeline-stress-harness")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line naming what was wrong, and exit code 2 (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from harness.cli import account, reports, runs

    parser = OneLineParser(prog="harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    runs.add_parsers(sub)
    reports.add_parsers(sub)
    account.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done; 1 a pipeline failed (or a check did); 2 bad input; 3 stopped at
    max_cost_usd; 4 the report could not be rendered; 5 the account's endpoint did not answer;
    99 a threshold failed (it stopped the run, or was judged at its end); 130 and 143 Ctrl-C and
    SIGTERM (a run's own are RunResult.exit_code)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Unreachable as err:
        print(f"error: {err}", file=sys.stderr)
        return UNREACHABLE
    except CONNECTION_ERRORS as err:  # a call past the set-up (its region not at hand)
        print(f"error: {unreachable(err, None)}", file=sys.stderr)
        return UNREACHABLE
    except NotStarted as stop:
        print(stop, file=sys.stderr)
        return stop.exit_code
    except (ConfigError, ValueError, OSError, ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
