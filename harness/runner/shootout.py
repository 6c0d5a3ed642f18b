"""The shoot-out: one scenario run once per retry policy, the same seed on the same simulator
profile, so the runs can be put side by side (harness/report/policies.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.aws.policies import SDK_DEFAULT
from harness.runner.result import RunResult
from harness.runner.run import Runner
from harness.runner.scenario import Scenario
from harness.runner.session import run_and_report


def shootout(
    load: Callable[[], Scenario],
    policies: list[str],
    levels: list[int] | None,
    reports: str | Path,
    max_attempts: int | str | None = None,
    endpoint_url: str | None = None,
    allow_accounts: list[str] | None = None,
) -> tuple[list[Path], RunResult | None]:
    """The run folders, in policy order, and the result of a run that was stopped (the policies
    after it were not run), or None. load(): a fresh scenario for each run."""
    if isinstance(max_attempts, str) and max_attempts != SDK_DEFAULT:
        raise ValueError(f"max_attempts {max_attempts!r}: expected an integer, or {SDK_DEFAULT!r}")
    run_dirs = []
    for policy in policies:
        scenario = load()
        scenario.policy = policy
        if max_attempts is not None:
            scenario.max_attempts = None if isinstance(max_attempts, str) else max_attempts  # a str: SDK_DEFAULT
        result = run_and_report(
            Runner(scenario, reports, levels, endpoint_url=endpoint_url, allow_accounts=allow_accounts)
        )
        run_dirs.append(result.run_dir)
        if result.stopped_by:
            return run_dirs, result
    return run_dirs, None
