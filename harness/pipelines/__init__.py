"""Pipelines: named, ordered stages that build ML artifacts, and the built-in ones."""
from harness.pipelines.base import Pipeline, PipelineRun, Stage, load_pipeline

__all__ = ["Pipeline", "PipelineRun", "Stage", "load_pipeline"]
