"""Evaluation against ground truth with the field's standard metrics (mir_eval)."""

from .annotations import Annotation, read_annotations, track_name
from .metrics import (beat_metrics, cover_metrics, key_metrics, separation_metrics, si_sdr, structure_metrics,
                      tempo_metrics)
from .run import TASKS, Evaluation, evaluate, evaluate_model

__all__ = ["Annotation", "Evaluation", "TASKS", "beat_metrics", "cover_metrics", "evaluate", "evaluate_model", "key_metrics",
           "read_annotations", "separation_metrics", "si_sdr", "structure_metrics", "tempo_metrics", "track_name"]
