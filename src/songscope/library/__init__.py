"""Batch work: input discovery, unique output names, the process-pool runner."""

from .inputs import AUDIO_SUFFIXES, expand_inputs, output_stems
from .runner import Failure, default_jobs, run_batch

__all__ = ["AUDIO_SUFFIXES", "Failure", "default_jobs", "expand_inputs", "output_stems", "run_batch"]
