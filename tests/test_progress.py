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
