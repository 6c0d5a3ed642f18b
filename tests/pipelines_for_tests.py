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
