"""User pipelines for the tests, loaded as `module:function` like a user's own."""

from harness.pipelines import Pipeline, Stage
from harness.pipelines.workbench_light import data_source, teardown


def explode_for_worker_1(run):
    if "-w01-" in run.pipeline_id:
        raise RuntimeError("boom: a stage that raises")


def flaky() -> Pipeline:
    return Pipeline("flaky", (Stage("data_source", data_source), Stage("explode", explode_for_worker_1)), teardown)


def not_a_pipeline():
    return 42


def look_up_a_database_that_is_not_there(run):
    run.ctx.client("glue").get_database(Name="harness_no_such_database")


def missing_database() -> Pipeline:
    """Every pipeline fails on its first call: Glue answers EntityNotFoundException."""
    return Pipeline("missing-database", (Stage("lookup", look_up_a_database_that_is_not_there),))


def doze(run):
    import time

    time.sleep(0.5)  # code written for the wall, inside a pipeline


def dozes() -> Pipeline:
    """A stage that sleeps on the wall (time.sleep): virtual time catches it and sleeps it on its clock."""
    return Pipeline("dozes", (Stage("doze", doze),))


def pause(run):
    run.ctx.sleep(120)  # AWS seconds: in flight a while, on the run's clock


def short() -> Pipeline:
    """A few calls (workbench-light's data source and teardown) and a two-minute pause."""
    return Pipeline("short", (Stage("data_source", data_source), Stage("pause", pause)), teardown)
