"""What a run ends with: its folder, how it stopped, its counts, what it left behind; the report
rendered from its folder; and the exit code a command that ran it gives."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.runner.leftovers import Resource


STOP_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


class NotStarted(Exception):
    """The run was stopped while it was being set up (Ctrl-C or SIGTERM while the account was
    checked): nothing was made, there is no run folder. The command exits as the signal says."""

    def __init__(self, stopped_by: str) -> None:
        super().__init__(f"{stopped_by}: stopped before the run began; nothing was made and there is no run folder")
        self.stopped_by = stopped_by

    @property
    def exit_code(self) -> int:
        return STOP_EXIT_CODES.get(self.stopped_by, 1)


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    stopped_by: str | None = None
    pipelines: int = 0
    failed: int = 0
    leftovers: list[Resource] = field(default_factory=list)  # what the run's cleanup could not delete
    report_failed: str | None = None  # why the report could not be rendered (the events are kept)
    thresholds_failed: list[str] = field(default_factory=list)  # "expression: what was measured", once rendered

    @property
    def exit_code(self) -> int:
        """What a command that ran it exits with (README, "Exit codes")."""
        stopped = self.stopped_by or ""
        if stopped in STOP_EXIT_CODES:
            return STOP_EXIT_CODES[stopped]
        if stopped.startswith("threshold"):
            return 99  # k6's exit code for failed thresholds
        if stopped == "max_cost_usd":
            return 3
        if stopped == "setup failed":
            return 1
        if self.report_failed:
            return 4  # a harness bug: the run's events are kept, the report is not there to read
        if self.thresholds_failed:
            return 99  # as an abort threshold does (k6 exits 99 for failed thresholds too)
        return 1 if self.failed else 0

    def render(self, say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> "RunResult":
        """The report, from the run folder alone; a report that cannot be rendered is said (and
        kept in report_failed), the events are safe and it can be rebuilt."""
        from harness.report import render

        try:
            paths = render(self.run_dir)
            say(f"report: {paths['html']}")
        except Exception as err:  # noqa: BLE001 - the events are safe; the report can be rebuilt
            self.report_failed = f"{type(err).__name__}: {err}"
            say(f"report could not be rendered ({self.report_failed}); rebuild with: harness report {self.run_dir}")
            return self
        verdicts = json.loads(paths["metrics"].read_text()).get("thresholds", [])
        self.thresholds_failed = [f"{v['expression']}: {v['message']}" for v in verdicts if v["result"] == "failed"]
        for line in self.thresholds_failed:
            say(f"threshold failed: {line}")
        if verdicts:
            results = [v["result"] for v in verdicts]
            counts = ", ".join(f"{results.count(r)} {r}" for r in ("passed", "failed", "skipped") if r in results)
            say(f"thresholds: {counts} (JUnit: {paths['junit']})")
        return self
