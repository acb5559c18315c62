"""Trivial reference rows: what a map that finds nothing scores on the same images.

``ref:zeros`` is an all-zero map, ``ref:const128`` a map of 128 everywhere (:mod:`samis.reference_maps`:
scored per image once, with the same per-image scorer and aggregate as every method, pysodmetrics, and kept
in the results store). A reader sees at once when a method scores like an empty map (small defects make
MAE and Sa of an empty map look good). Tables show them labelled "reference" and never mark them best.
"""

from __future__ import annotations

from collections.abc import Sequence

from samis.reference_maps import REFERENCE_MAPS, reference_results

__all__ = ["REFERENCE_MAPS", "reference_scores", "reference_rows"]


def reference_scores(workspace, dataset_id: str, samples: Sequence, *, trusting: bool = True) -> dict[str, dict]:
    """Dataset scores of each reference map on ``samples`` (a dataset's samples), from the stored per-image rows
    (scored first where missing; ``trusting``: see :func:`samis.reference_maps.reference_results`).

    Returns:
        reference id → the score dict :func:`samis.metrics.aggregate` gives (``n_images``, ``Sa`` …).

    Raises:
        EvaluationError: a ground truth that cannot be read (as for any method).
    """
    found = reference_results(workspace, dataset_id, list(samples), trusting=trusting)
    return {reference: result.scores() for reference, result in found.items()}


def reference_rows(workspace, dataset_id: str, samples: Sequence, split: str, metrics=None) -> list:
    """Table rows (source ``measured``, ``reference=True``) of the reference maps on ``samples``."""
    from samis.tables.model import measured_rows  # import cycle: model → report → references; loaded on use

    rows = measured_rows(reference_scores(workspace, dataset_id, samples), dataset_id, split, metrics=metrics)
    for row in rows:
        row.reference = True
        row.note = REFERENCE_MAPS[row.method][1]
    return rows
