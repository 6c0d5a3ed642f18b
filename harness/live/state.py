"""A run's live figures, folded from its events as they are recorded: each level's pipelines,
elapsed time, ETA and throughput; throttles and waits per operation; the quotas busiest now.

Times follow the events' columns (harness/events/schema.py): `wall_time` is the machine's clock
(what "now" and "elapsed" mean to the person watching), `mono_time` the run's clock, whose
seconds divided by the level's time scale are AWS seconds (on virtual time the scale is 1).
Wait seconds and pipelines per hour are in AWS time, as in the report.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from harness.quotas import QuotaTable
    from harness.runner.scenario import Scenario

# "Now", for the busiest quotas and recent throttles: the last this many wall seconds.
RECENT_SECONDS = 10.0
BUSIEST_SHOWN = 5
# The kinds the view reads; the rest of a run's events are not its business.
KINDS = (
    "level_start",
    "level_end",
    "pipeline_start",
    "pipeline_end",
    "api_attempt",
    "limiter_wait",
    "quota_wait",
    "run_end",
)


class LiveEvent(NamedTuple):
    """One recorded event, as much of it as the view reads (events.db's columns of these names)."""

    wall_time: float
    mono_time: float
    level: int | None
    kind: str
    service: str | None = None
    operation: str | None = None
    outcome: str | None = None
    duration: float | None = None
    detail: str | None = None  # JSON as recorded; read for level_start and run_end only


@dataclass
class OperationFigures:
    """One call (service.operation) in one level. Wait seconds are AWS seconds."""

    attempts: int = 0
    throttled: int = 0
    limiter_waits: int = 0
    limiter_wait_seconds: float = 0.0
    quota_waits: int = 0
    quota_wait_seconds: float = 0.0

    @property
    def pressure(self) -> int:
        return self.throttled + self.limiter_waits + self.quota_waits


@dataclass
class LevelFigures:
    level: int
    label: str
    total: int  # the pipelines the level runs; 0 when it starts them for a duration instead
    duration_seconds: float  # AWS seconds new pipelines start for (0: a counted batch)
    time_scale: float  # wall seconds per AWS second, as the level ran
    started_wall: float
    started_mono: float
    latest_mono: float  # the run's clock at the level's latest event (its end, once ended)
    ended_wall: float | None = None
    started: int = 0
    done: int = 0
    failed: int = 0
    stopped: int = 0
    operations: dict[tuple[str, str], OperationFigures] = field(default_factory=dict)

    def operation(self, service: str, operation: str) -> OperationFigures:
        return self.operations.setdefault((service, operation), OperationFigures())


class LiveState:
    """Thread-safe: a feed calls `observe` with new events, the server calls `snapshot`."""

    def __init__(
        self,
        run_id: str,
        scenario: str,
        levels: list[int],
        *,
        iterations: int = 1,
        arrivals: bool = False,
        policy: str = "",
        time_mode: str = "wall",
        quota_table: QuotaTable | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run_id, self.scenario, self.planned = run_id, scenario, list(levels)
        self.iterations, self.arrivals, self.policy, self.time_mode = iterations, arrivals, policy, time_mode
        self.quota_table = quota_table
        self._clock = clock
        self._lock = threading.Lock()
        self._levels: dict[int, LevelFigures] = {}
        self._current: LevelFigures | None = None
        self._outcome: str | None = None
        self._recent: deque[tuple[float, str, str, str]] = deque()  # (wall_time, service, operation, what)
        self.events_read = 0

    @classmethod
    def for_run(cls, run_id: str, scenario: Scenario, levels: list[int]) -> LiveState:
        return cls(
            run_id,
            scenario.name,
            levels,
            iterations=scenario.iterations,
            arrivals=scenario.arrivals,
            policy=scenario.policy,
            time_mode=scenario.time,
            quota_table=scenario.quota_table(),  # the limiter's table
        )

    # --- fed by the feed ---------------------------------------------------------------------
    def observe(self, events: Iterable[LiveEvent]) -> None:
        with self._lock:
            for event in events:
                self._observe(event)
                self.events_read += 1
            self._forget_before(self._clock() - RECENT_SECONDS)

    def _observe(self, e: LiveEvent) -> None:
        if e.kind == "run_end":
            self._outcome = str(_detail(e).get("outcome") or "complete")
            return
        if e.level is None:
            return
        if e.kind == "level_start":
            self._start_level(e)
            return
        figures = self._levels.get(e.level)
        if figures is None:
            return  # a level whose start the view did not see
        if figures.ended_wall is None:
            figures.latest_mono = max(figures.latest_mono, e.mono_time)
        if e.kind == "level_end":
            figures.ended_wall = e.wall_time
        elif e.kind == "pipeline_start":
            figures.started += 1
        elif e.kind == "pipeline_end":
            if e.outcome == "ok":
                figures.done += 1
            elif e.outcome == "stopped":
                figures.stopped += 1
            else:
                figures.failed += 1
        elif e.service is not None and e.operation is not None:
            self._call(figures, e)

    def _start_level(self, e: LiveEvent) -> None:
        assert e.level is not None
        detail = _detail(e)
        duration = float(detail.get("duration_seconds") or 0.0)
        workers = int(detail.get("workers") or e.level)
        figures = LevelFigures(
            level=e.level,
            label=f"{e.level} arriving/h" if self.arrivals else f"N={e.level}",
            total=0 if duration or self.arrivals else workers * self.iterations,
            duration_seconds=duration,
            time_scale=float(detail.get("time_scale") or 1.0),
            started_wall=e.wall_time,
            started_mono=e.mono_time,
            latest_mono=e.mono_time,
        )
        self._levels[e.level] = self._current = figures

    def _call(self, figures: LevelFigures, e: LiveEvent) -> None:
        assert e.service is not None and e.operation is not None
        op = figures.operation(e.service, e.operation)
        aws_seconds = (e.duration or 0.0) / figures.time_scale
        if e.kind == "api_attempt":
            op.attempts += 1
            if e.outcome == "throttled":
                op.throttled += 1
                self._recent.append((e.wall_time, e.service, e.operation, "throttled"))
        elif e.kind == "limiter_wait":
            op.limiter_waits += 1
            op.limiter_wait_seconds += aws_seconds
            self._recent.append((e.wall_time, e.service, e.operation, "limiter_wait"))
        elif e.kind == "quota_wait":
            op.quota_waits += 1
            op.quota_wait_seconds += aws_seconds
            self._recent.append((e.wall_time, e.service, e.operation, "quota_wait"))

    def _forget_before(self, since: float) -> None:
        while self._recent and self._recent[0][0] < since:
            self._recent.popleft()

    # --- read by the server ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The figures as the page shows them (the JSON of /api/state)."""
        with self._lock:
            now = self._clock()
            self._forget_before(now - RECENT_SECONDS)
            recent = Counter((service, operation, what) for _, service, operation, what in self._recent)
            current = self._current
            return {
                "run_id": self.run_id,
                "scenario": self.scenario,
                "policy": self.policy,
                "time": self.time_mode,
                "levels_planned": self.planned,
                "status": self._status(),
                "outcome": self._outcome,
                "level": current.level if current else None,
                "now": now,
                "recent_seconds": RECENT_SECONDS,
                "events_read": self.events_read,
                "levels": [self._level(figures, now) for figures in self._levels.values()],
                "quotas": self._busiest_quotas(current, recent),
                "operations": self._operations(current, recent),
            }

    def _status(self) -> str:
        if self._outcome is not None:
            return "finished"
        if self._current is None:
            return "starting"
        return "running" if self._current.ended_wall is None else "between levels"

    def _level(self, f: LevelFigures, now: float) -> dict[str, Any]:
        running = f.ended_wall is None
        elapsed = (now if running else f.ended_wall or now) - f.started_wall
        aws = (f.latest_mono - f.started_mono) / f.time_scale
        finished = f.done + f.failed + f.stopped
        eta = None  # as the progress line: the time so far per pipeline finished, for those left
        if running and f.total and finished:
            eta = max(0.0, elapsed / finished * (f.total - finished))
        ops = f.operations.values()
        return {
            "level": f.level,
            "label": f.label,
            "state": "running" if running else "done",
            "total": f.total or None,
            "started": f.started,
            "running": f.started - finished,
            "done": f.done,
            "failed": f.failed,
            "stopped": f.stopped,
            "elapsed_seconds": round(elapsed, 3),
            "aws_seconds": round(aws, 3),
            "eta_seconds": None if eta is None else round(eta, 3),
            # a level that starts pipelines for a duration: how much of it is left
            "starts_left_aws_seconds": (
                round(max(0.0, f.duration_seconds - aws), 3) if running and f.duration_seconds else None
            ),
            "pipelines_per_hour": round(f.done / aws * 3600.0, 3) if aws > 0 and finished else None,
            "attempts": sum(o.attempts for o in ops),
            "throttled": sum(o.throttled for o in ops),
            "limiter_wait_seconds": round(sum(o.limiter_wait_seconds for o in ops), 3),
            "quota_wait_seconds": round(sum(o.quota_wait_seconds for o in ops), 3),
        }

    def _operations(self, current: LevelFigures | None, recent: Counter[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """The current level's calls, those under the most pressure (throttles, waits) first."""
        if current is None:
            return []
        rows = sorted(current.operations.items(), key=lambda item: (-item[1].pressure, -item[1].attempts, item[0]))
        return [
            {
                "operation": f"{service}.{operation}",
                "attempts": op.attempts,
                "throttled": op.throttled,
                "throttled_recent": recent[(service, operation, "throttled")],
                "limiter_waits": op.limiter_waits,
                "limiter_wait_seconds": round(op.limiter_wait_seconds, 3),
                "quota_waits": op.quota_waits,
                "quota_wait_seconds": round(op.quota_wait_seconds, 3),
            }
            for (service, operation), op in rows
        ]

    def _busiest_quotas(
        self, current: LevelFigures | None, recent: Counter[tuple[str, str, str]]
    ) -> list[dict[str, Any]]:
        """Quotas by what pressed on them in the last RECENT_SECONDS, then in the level: a
        call's rate quota by its throttles and limiter waits, its concurrency quota by waits
        for a slot. Named as the report names them (`sagemaker.CreateEndpoint concurrency`)."""
        pressed: dict[tuple[str, str, str], Counter[str]] = {}

        def add(service: str, operation: str, kind: str, what: str, count: int) -> None:
            if count:
                row = pressed.setdefault((service, operation, kind), Counter())
                row[what] += count

        for (service, operation, what), count in recent.items():
            kind = "concurrency" if what == "quota_wait" else "rate"
            add(service, operation, kind, "throttled_recent" if what == "throttled" else "waits_recent", count)
        level_operations = current.operations if current else {}
        for (service, operation), op in level_operations.items():
            add(service, operation, "rate", "throttled", op.throttled)
            add(service, operation, "rate", "waits", op.limiter_waits)
            add(service, operation, "concurrency", "waits", op.quota_waits)

        def busiest(item: tuple[tuple[str, str, str], Counter[str]]) -> tuple[int, int, tuple[str, str, str]]:
            key, counts = item
            lately = counts["throttled_recent"] + counts["waits_recent"]
            return -lately, -(counts["throttled"] + counts["waits"]), key

        rows = [
            {
                "quota": f"{service}.{operation} {kind}",
                "limit": self._limit(service, operation, kind),
                "throttled_recent": counts["throttled_recent"],
                "waits_recent": counts["waits_recent"],
                "throttled": counts["throttled"],
                "waits": counts["waits"],
            }
            for (service, operation, kind), counts in sorted(pressed.items(), key=busiest)
        ]
        return rows[:BUSIEST_SHOWN]

    def _limit(self, service: str, operation: str, kind: str) -> str | None:
        """The limit in the limiter's quota table, and the row it comes from when that is a family."""
        row = self.quota_table.lookup(service, operation) if self.quota_table else None
        if row is None:
            return None
        family = f" ({row.service}.{row.operation})" if "*" in row.service + row.operation else ""
        if kind == "rate" and row.rate is not None:
            return f"{row.rate:g}/s{family}"
        if kind == "concurrency" and row.concurrency is not None:
            return f"{row.concurrency} at once{family}"
        return None


def _detail(e: LiveEvent) -> dict[str, Any]:
    try:
        detail = json.loads(e.detail) if e.detail else {}
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}
