"""A pipeline is a named, ordered list of stages plus a teardown that always runs.

Stages share one PipelineRun: the pipeline's AwsContext, its resource base name, parameters,
and whatever earlier stages made (so teardown knows what to delete).
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable

from harness.artifacts.context import AwsContext
from harness.stopping import StopSignal


@dataclass
class PipelineRun:
    ctx: AwsContext
    pipeline_id: str
    base_name: str  # unique per pipeline: carries the run id and the pipeline id
    params: dict = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    made: dict = field(default_factory=dict)  # stage outputs, e.g. made["feature_set"]
    # the run's second signal (grace period over, or a second Ctrl-C): users' code, which cleans up
    # after itself, may go on calling AWS until this one, not just until the first
    abort: StopSignal | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[PipelineRun], None]


# A parameter's type -> the values a TOML file may give for it, and how to say so.
PARAM_KINDS = {
    bool: ((bool,), "true or false"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
}


@dataclass(frozen=True)
class Param:
    """A key of the scenario's [params] that a pipeline reads; its type is its default's."""

    name: str
    default: bool | int | float | str
    help: str
    positive: bool = False  # a number that must be above 0 (an interval: 0 would never move time)

    @property
    def kind(self) -> str:
        kind = PARAM_KINDS[type(self.default)][1]
        return f"{kind} above 0" if self.positive else kind

    def accepts(self, value) -> bool:
        # TOML true is no integer here, though Python's bool is an int
        typed = isinstance(value, PARAM_KINDS[type(self.default)][0]) and (
            isinstance(self.default, bool) or not isinstance(value, bool)
        )
        return typed and (not self.positive or value > 0)


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[Stage, ...]
    teardown: Callable[[PipelineRun], None] | None = None
    description: str = ""
    # the [params] it reads; None: not declared (a user's module:function pipeline may read any key),
    # so its scenario's params are not checked against it
    params: tuple[Param, ...] | None = None


def delete_all(steps: Iterable[tuple[str, Callable[[], None]]]) -> None:
    """Run every (what, delete) step even after one fails, then report all failures at once:
    a teardown deletes as much as it can."""
    errors = []
    for what, delete in steps:
        try:
            delete()
        except Exception as err:  # noqa: BLE001 - try every deletion, then report them all
            errors.append(f"{what}: {err}")
    if errors:
        raise RuntimeError("teardown left resources behind: " + "; ".join(errors))


def builtin_pipelines() -> dict[str, Callable[[], Pipeline]]:
    from harness.pipelines.sdk import sdk_pipeline
    from harness.pipelines.workbench import workbench_pipeline
    from harness.pipelines.workbench_light import workbench_light_pipeline

    return {"workbench": workbench_pipeline, "workbench-light": workbench_light_pipeline, "workbench-sdk": sdk_pipeline}


def load_pipeline(spec: str) -> Pipeline:
    """A built-in pipeline by name; a user's own code as `function:module:function` (a plain
    function) or `command:ARGV` (a program: harness/pipelines/own_code.py); or `module:function`
    returning a Pipeline."""
    builtins = builtin_pipelines()
    if spec in builtins:
        return builtins[spec]()
    if spec.startswith("function:"):
        from harness.pipelines.own_code import function_pipeline

        return function_pipeline(spec)
    if spec.startswith("command:"):
        from harness.pipelines.own_code import command_pipeline

        return command_pipeline(spec)
    if ":" not in spec:
        raise ValueError(
            f"pipeline {spec!r} is not one of {', '.join(builtins)}, function:module:function nor module:function"
        )
    module_name, _, function = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"pipeline {spec!r} cannot be loaded: {err}") from None
    pipeline = factory()
    if not isinstance(pipeline, Pipeline):
        raise ValueError(f"pipeline {spec!r} returned {type(pipeline).__name__}, not a Pipeline")
    return pipeline
