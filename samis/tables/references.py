"""Trivial reference rows: what a map that finds nothing scores on the same images.

``ref:zeros`` is an all-zero map, ``ref:const128`` a map of 128 everywhere. They are computed on the fly
from the ground truth of the images the measured rows are scored on (never stored as predictions), with
the same per-image scorer and aggregate as every method (:mod:`samis.metrics`, pysodmetrics), so a
reader sees at once when a method scores like an empty map (small defects make MAE and Sa of an empty
map look good). Tables show them labelled "reference" and never mark them best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from samis.metrics import IMAGE_METRICS, aggregate, score_image

#: reference id → the constant value of its map, and what it is
REFERENCE_MAPS = {"ref:zeros": (0, "reference: an all-zero map (finds nothing), not a method"),
                  "ref:const128": (128, "reference: every pixel 128 (no information), not a method")}


def reference_scores(samples: Sequence) -> dict[str, dict]:
    """Dataset scores of each reference map on ``samples`` (anything with ``id`` and ``read_gt()``).

    Returns:
        reference id → the score dict :func:`samis.metrics.aggregate` gives (``n_images``, ``Sa`` …).

    Raises:
        DatasetError: a ground truth that cannot be read (as for any method).
    """
    samples = list(samples)
    truths = [sample.read_gt() for sample in samples]
    names = [sample.id for sample in samples]
    found = {}
    for reference, (level, _) in REFERENCE_MAPS.items():
        scores = [score_image(np.full(gt.shape, level, np.uint8), gt) for gt in truths]
        scalars = np.array([s.scalars for s in scores]).reshape(len(scores), len(IMAGE_METRICS))
        curves = np.array([s.curves for s in scores])
        found[reference] = aggregate(scalars, curves, names)
    return found


def reference_rows(samples: Sequence, dataset: str, split: str, metrics=None) -> list:
    """Table rows (source ``measured``, ``reference=True``) of the reference maps on ``samples``."""
    from samis.tables.model import measured_rows  # import cycle: model → report → references; loaded on use

    rows = measured_rows(reference_scores(samples), dataset, split, metrics=metrics)
    for row in rows:
        row.reference = True
        row.note = REFERENCE_MAPS[row.method][1]
    return rows
