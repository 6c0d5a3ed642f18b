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


@dataclass
class PipelineRun:
    ctx: AwsContext
    pipeline_id: str
    base_name: str  # unique per pipeline: carries the run id and the pipeline id
    params: dict = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    made: dict = field(default_factory=dict)  # stage outputs, e.g. made["feature_set"]


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[PipelineRun], None]


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[Stage, ...]
    teardown: Callable[[PipelineRun], None] | None = None
    description: str = ""


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
    """A built-in pipeline by name, or a user's as `module:function` returning a Pipeline."""
    builtins = builtin_pipelines()
    if spec in builtins:
        return builtins[spec]()
    if ":" not in spec:
        raise ValueError(f"pipeline {spec!r} is not one of {', '.join(builtins)} nor module:function")
    module_name, _, function = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"pipeline {spec!r} cannot be loaded: {err}") from None
    pipeline = factory()
    if not isinstance(pipeline, Pipeline):
        raise ValueError(f"pipeline {spec!r} returned {type(pipeline).__name__}, not a Pipeline")
    return pipeline
