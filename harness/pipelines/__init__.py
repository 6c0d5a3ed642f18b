"""Pipelines: named, ordered stages that build ML artifacts, and the built-in ones."""

from harness.pipelines.base import Param, Pipeline, PipelineRun, Stage, load_pipeline

__all__ = ["Param", "Pipeline", "PipelineRun", "Stage", "load_pipeline"]
