"""Batch work: input discovery, unique output names, the process-pool runner."""

from .inputs import expand_inputs, output_stems
from .runner import default_jobs, run_batch

__all__ = ["default_jobs", "expand_inputs", "output_stems", "run_batch"]
