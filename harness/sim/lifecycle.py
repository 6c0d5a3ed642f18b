"""Resource lifecycles in scaled AWS time.

moto makes every resource final at once. Here each created resource gets a lifecycle: its status in
describe and list answers is rewritten from that lifecycle (Creating -> Created/InService/Completed,
Deleting -> gone), so moto stays the store and this module only decides *when*.
Feature groups also get their offline store late: OfflineStoreStatus turns Active after a delay
and the Glue table (plus an S3 object under the offline-store prefix) appears later still, or,
for a configured share of feature groups, never (partial state).

One clock: AWS time, here, is also the time every timestamp the simulator answers is on. Its
date is `epoch` (the wall date when the simulator started or was reset) plus the AWS seconds
since; a request is handled at one instant of it (`Lifecycles.instant`), and moto, which stamps
what it makes with its own `utcnow`, reads that instant too while the simulator calls it
(`moto_time`). So an endpoint created after its endpoint configuration is dated after it at any
time scale, and a feature group, its Glue table and the records in it agree.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from harness.profiles import Profile

KINDS = ("feature_group", "training_job", "endpoint")


@dataclass
class Lifecycle:
    kind: str
    name: str
    account: str
    region: str
    ready_at: float  # AWS seconds since the simulator started
    fails: bool = False
    failure: str | None = None  # training jobs: the FailureReason when its input was refused
    offline_at: float | None = None  # feature groups: OfflineStoreStatus Active from here
    table_at: float | None = None  # feature groups: Glue table appears here; None = never
    table_made: bool = False
    offline_table: tuple[str, str] | None = None  # feature groups: (database, table) once made
    deleting_until: float | None = None  # set while Deleting; the resource is gone after
    stopping_until: float | None = None  # training jobs: set by StopTrainingJob; Stopped after
    started_at: float = 0.0  # AWS seconds: when it was created


class Lifecycles:
    def __init__(self, profile: Profile, seed: int, time_scale: float, manual_time: bool = False) -> None:
        """manual_time: AWS time stands still until `advance` moves it (a client that runs on a
        virtual lifecycle drives it, as `harness plan`'s dry run does); else it follows the wall."""
        self.profile, self.seed, self.time_scale = profile, seed, time_scale
        self._start = time.monotonic()
        self.epoch = time.time()  # the date AWS time 0 stands for, in every timestamp answered
        self.manual_time = 0.0 if manual_time else None
        self._frozen = threading.local()  # per request thread: the instant it is handled at
        self._lifecycles: dict[tuple[str, str, str, str], Lifecycle] = {}
        self._draws: dict[str, random.Random] = {}
        self._lock = threading.Lock()
        self.transitions = 0

    def now(self) -> float:
        """AWS seconds since the simulator started (or was reset)."""
        frozen: float | None = getattr(self._frozen, "now", None)
        if frozen is not None:
            return frozen
        if self.manual_time is not None:
            return self.manual_time
        return (time.monotonic() - self._start) / self.time_scale

    def unix(self) -> float:
        """Now as a Unix time on the simulator's one clock: epoch + AWS seconds."""
        return self.epoch + self.now()

    @contextmanager
    def instant(self) -> Iterator[float]:
        """AWS time stands still on this thread while the context lasts: a request is handled at
        one instant, so everything it dates (moto's objects, a lifecycle's start) agrees."""
        if getattr(self._frozen, "now", None) is not None:  # already inside one
            yield self._frozen.now
            return
        self._frozen.now = self.now()
        try:
            yield self._frozen.now
        finally:
            self._frozen.now = None

    def advance(self, aws_seconds: float) -> float:
        if self.manual_time is None:
            raise ValueError("time is not manual: reset the simulator with manual_time = true first")
        self.manual_time += max(0.0, aws_seconds)
        return self.manual_time

    def _fate(self, kind: str) -> random.Random:
        """One generator per kind, drawn in creation order: the n-th feature group (or job,
        or endpoint) gets the same durations and the same fate for a seed, whatever the
        resource is called (and the n-th deletion the same deletion time: "endpoint:delete").
        Names carry the run id, so drawing by name would give every run, and every policy in a
        shoot-out, a different share of failures (and virtual time would not repeat itself)."""
        with self._lock:
            rng = self._draws.setdefault(kind, random.Random(f"{self.seed}:{kind}"))
            return random.Random(rng.random())

    def _jittered(self, rng: random.Random, seconds: float) -> float:
        j = self.profile.jitter
        return seconds * rng.uniform(1 - j, 1 + j)

    def start(self, kind: str, account: str, region: str, name: str) -> Lifecycle:
        rng, now, p = self._fate(kind), self.now(), self.profile
        if kind == "feature_group":
            ready = now + self._jittered(rng, p.feature_group.create_seconds)
            offline = ready + self._jittered(rng, p.feature_group.offline_store_seconds)
            never = rng.random() < p.feature_group.never_fraction
            table = None if never else offline + self._jittered(rng, p.feature_group.table_seconds)
            lifecycle = Lifecycle(kind, name, account, region, ready, offline_at=offline, table_at=table)
        elif kind == "training_job":
            lifecycle = Lifecycle(
                kind,
                name,
                account,
                region,
                now + self._jittered(rng, p.training_job.run_seconds),
                fails=rng.random() < p.training_job.fail_fraction,
            )
        else:
            lifecycle = Lifecycle(
                kind,
                name,
                account,
                region,
                now + self._jittered(rng, p.endpoint.create_seconds),
                fails=rng.random() < p.endpoint.fail_fraction,
            )
        lifecycle.started_at = now
        with self._lock:
            self._lifecycles[(kind, account, region, name)] = lifecycle
        return lifecycle

    def get(self, kind: str, account: str, region: str, name: str) -> Lifecycle | None:
        return self._lifecycles.get((kind, account, region, name))

    def start_deleting(self, lifecycle: Lifecycle) -> None:
        seconds = {
            "feature_group": self.profile.feature_group.delete_seconds,
            "endpoint": self.profile.endpoint.delete_seconds,
        }.get(lifecycle.kind, 0.0)
        if lifecycle.deleting_until is None:
            lifecycle.deleting_until = self.now() + self._jittered(self._fate(f"{lifecycle.kind}:delete"), seconds)

    def start_stopping(self, lifecycle: Lifecycle) -> None:
        """StopTrainingJob: Stopping now, Stopped after the profile's stop_seconds."""
        if lifecycle.stopping_until is None:
            seconds = self.profile.training_job.stop_seconds
            lifecycle.stopping_until = self.now() + self._jittered(self._fate(f"{lifecycle.kind}:stop"), seconds)

    def forget(self, lifecycle: Lifecycle) -> None:
        with self._lock:
            self._lifecycles.pop((lifecycle.kind, lifecycle.account, lifecycle.region, lifecycle.name), None)

    def status(self, lifecycle: Lifecycle) -> str:
        now = self.now()
        if lifecycle.kind == "feature_group":
            if lifecycle.deleting_until is not None:
                return "Deleting"
            return "Creating" if now < lifecycle.ready_at else "Created"
        if lifecycle.kind == "training_job":
            if lifecycle.stopping_until is not None:
                return "Stopping" if now < lifecycle.stopping_until else "Stopped"
            if now < lifecycle.ready_at:
                return "InProgress"
            return "Failed" if lifecycle.fails else "Completed"
        if lifecycle.deleting_until is not None:
            return "Deleting"
        if now < lifecycle.ready_at:
            return "Creating"
        return "Failed" if lifecycle.fails else "InService"

    def in_progress(self, kind: str, account: str, region: str) -> int:
        """Resources that hold a concurrency quota: feature groups Creating, training jobs
        InProgress or Stopping, endpoints Creating or InService (their instances are in use)."""
        busy = {
            "feature_group": {"Creating"},
            "training_job": {"InProgress", "Stopping"},
            "endpoint": {"Creating", "InService"},
        }[kind]
        with self._lock:
            lifecycles = [
                c for c in self._lifecycles.values() if c.kind == kind and c.account == account and c.region == region
            ]
        return sum(1 for c in lifecycles if self.status(c) in busy)

    def due(self) -> tuple[list[Lifecycle], list[Lifecycle]]:
        """(feature groups whose Glue table is now due, resources whose deletion has finished)."""
        now = self.now()
        with self._lock:
            lifecycles = list(self._lifecycles.values())
        tables = [
            c
            for c in lifecycles
            if c.kind == "feature_group"
            and not c.table_made
            and c.deleting_until is None
            and c.table_at is not None
            and now >= c.table_at
        ]
        gone = [c for c in lifecycles if c.deleting_until is not None and now >= c.deleting_until]
        return tables, gone

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            lifecycles = list(self._lifecycles.values())
        out: dict[str, dict[str, int]] = {k: {} for k in KINDS}
        for lifecycle in lifecycles:
            status = self.status(lifecycle)
            out[lifecycle.kind][status] = out[lifecycle.kind].get(status, 0) + 1
        return out


# --- moto on the same clock ---------------------------------------------------------------------
_moto_clock = threading.local()  # per request thread: Unix seconds moto's utcnow reads, or wall
_wall_utcnow: Callable[[], datetime] | None = None


def _utcnow() -> datetime:
    """moto's utcnow (a naive UTC datetime), on the simulator's clock while one is set."""
    clock: Callable[[], float] | None = getattr(_moto_clock, "clock", None)
    if clock is None:
        assert _wall_utcnow is not None
        return _wall_utcnow()
    return datetime.fromtimestamp(clock(), timezone.utc).replace(tzinfo=None)


def install_moto_clock() -> None:
    """moto dates what it makes with moto.core.utils.utcnow, which its modules import by name: the
    function is replaced there (modules imported later get it) and in every moto module already
    imported. Outside `moto_time` it still answers the wall time. Idempotent."""
    global _wall_utcnow
    import moto.core.utils as core

    if core.utcnow is _utcnow:
        return
    _wall_utcnow = core.utcnow
    core.utcnow = _utcnow
    for name, module in list(sys.modules.items()):
        if (name == "moto" or name.startswith("moto.")) and getattr(module, "utcnow", None) is _wall_utcnow:
            vars(module)["utcnow"] = _utcnow


@contextmanager
def moto_time(clock: Callable[[], float]) -> Iterator[None]:
    """While the context lasts, moto's timestamps on this thread are clock() (Unix seconds)."""
    previous = getattr(_moto_clock, "clock", None)
    _moto_clock.clock = clock
    try:
        yield
    finally:
        _moto_clock.clock = previous
