"""The live progress line: an eta from the count of pipelines, or a clock when the level has a duration."""

import io

from harness.runner.progress import Progress


def test_a_counted_level_extrapolates_an_eta_from_the_pipelines_finished():
    progress = Progress(io.StringIO())
    progress.start_level(4, total=8)
    progress.level_started -= 10.0  # ten seconds in
    for ok in (True, True, False, True):
        progress.pipeline_started()
        progress.pipeline_ended(ok)
    line = progress.line()
    assert line.startswith("N=4: 3 done, 0 running, 1 failed of 8") and "eta 10s" in line
    progress.close()


def test_a_level_with_a_duration_counts_down_to_its_last_start_then_says_it_is_finishing():
    progress = Progress(io.StringIO())
    progress.start_level(32, total=0, starts_for=40.0)
    progress.level_started -= 15.0
    assert "new pipelines for 25s more" in progress.line()
    progress.level_started -= 30.0
    assert "in-flight pipelines finishing" in progress.line()
    progress.close()


def test_counters_read_back_from_worker_processes_replace_the_last_reading():
    """A runner polls the events of its worker processes for totals: each reading replaces the
    previous one (adding them made one failure count as three, and tripped abort thresholds)."""
    import io

    from harness.runner.progress import Progress

    progress = Progress(io.StringIO())
    for _ in range(3):
        progress.set_counts({"done": 4, "failed": 1})
    assert progress.counts["failed"] == 1 and progress.counts["done"] == 4


class FakeClock:
    """The machine's seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_before_any_pipeline_ends_the_eta_is_the_plan_s_and_says_so():
    """4 workers started over 2 minutes, one 12.5-minute pipeline each by the plan: a minute in,
    the level ends in about 13.5 minutes. Once one of its own pipelines has ended (9 minutes),
    the level's own length replaces the plan's, and the line no longer says "(plan)"."""
    from harness.runner.progress import LevelShape

    clock = FakeClock()
    progress = Progress(io.StringIO(), clock=clock)
    progress.start_level(4, total=4, shape=LevelShape(last_start=120.0, iterations=1, planned_pipeline=750.0))
    assert progress.line().endswith("0s elapsed, eta ~14m (plan)")
    clock.now += 60
    assert progress.line().endswith("60s elapsed, eta ~14m (plan)")
    for _ in range(4):
        progress.pipeline_started()
    clock.now += 480  # the first worker's pipeline ends 9 minutes after it started
    progress.pipeline_ended(True, seconds=540.0)
    assert progress.line().endswith("540s elapsed, eta 2m")  # the last worker started at 2 min: 2 + 9 - 9
    progress.close()


def test_past_the_plan_the_eta_says_so_and_without_a_plan_it_is_unknown():
    from harness.runner.progress import LevelShape

    clock = FakeClock()
    progress = Progress(io.StringIO(), clock=clock)
    progress.start_level(2, total=2, shape=LevelShape(last_start=0.0, iterations=1, planned_pipeline=600.0))
    clock.now += 700
    assert progress.line().endswith("eta ? (past the plan's ~10m)")
    progress.start_level(2, total=2, shape=LevelShape(last_start=0.0, iterations=1))
    assert progress.line().endswith("eta ?")
    progress.close()


def test_the_plan_is_asked_only_where_a_pipeline_lasts_half_a_wall_minute_or_more():
    """A dry run takes seconds: not worth it at 1/100 (a pipeline is seconds of wall time), nor on
    virtual time (AWS seconds are not the machine's), nor where the level has a clock of its own."""
    from dataclasses import replace

    from harness.runner.plan import planned_pipeline_seconds
    from harness.runner.scenario import load_scenario

    smoke = load_scenario("smoke")  # time scale 1/100
    assert planned_pipeline_seconds(smoke, [4]) is None
    assert planned_pipeline_seconds(replace(smoke, time="virtual", time_scale=1.0), [4]) is None
    assert planned_pipeline_seconds(replace(smoke, time_scale=1 / 30, duration_seconds=600.0), [4]) is None
    planned = planned_pipeline_seconds(replace(smoke, time_scale=1 / 30), [4])  # a dry run
    assert planned is not None and 600 < planned < 3600  # the smoke pipeline alone: about 18 AWS minutes
