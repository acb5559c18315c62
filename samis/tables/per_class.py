"""Scores per defect class: one dataset metric for every method, per class and over all images."""

from __future__ import annotations

import pandas as pd

from samis.evaluation import EvaluationResult
from samis.metrics import DATASET_METRICS, HIGHER_IS_BETTER


def per_class_table(result: EvaluationResult, metric: str) -> pd.DataFrame:
    """Methods × classes: ``metric`` over each class's images, then over all images.

    Columns are named ``<class> (<images>)`` and ``all``; a method without maps for a class has NaN.

    Args:
        result: an evaluation (its per-image results are regrouped by class; nothing is rescored).
        metric: a dataset metric of :data:`samis.metrics.DATASET_METRICS`.

    Raises:
        ValueError: unknown metric.
    """
    if metric not in DATASET_METRICS:
        raise ValueError(f"unknown metric {metric!r} (choose from {', '.join(DATASET_METRICS)})")
    columns = {}
    for cls, per_method in result.class_scores().items():
        images = max((s["n_images"] for s in per_method.values()), default=0)
        columns[f"{cls} ({images})"] = {m: s[metric] for m, s in per_method.items()}
    columns["all"] = {m: s[metric] for m, s in result.scores.items()}
    frame = pd.DataFrame(columns)
    frame.index.name = "method"
    return frame


def better_direction(metric: str) -> str:
    """``higher`` or ``lower``: which values of a metric are better."""
    return "higher" if HIGHER_IS_BETTER[metric] else "lower"
