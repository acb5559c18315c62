"""Trivial reference maps, scored once per image and stored like a method.

``ref:zeros`` is an all-zero map, ``ref:const128`` a map of 128 everywhere: what a map that finds nothing
scores on the same images (tables show them labelled "reference", never best; see
:mod:`samis.tables.references`). They depend on the ground truth only, so each image's row is scored once
with the per-image scorer every method uses (:func:`samis.evaluation.scoring_worker`) and kept in the
results store beside the methods' (``results/<dataset>/_ref-zeros.parquet``, ``_ref-const128.parquet``;
a leading ``_`` marks samis's own files), keyed by the mask's content hash. A page or report then reads
them instead of scoring every image again: at 150,000 images that was 300,000 maps scored and every mask
held in memory on each cold Compare page. ``evaluate`` fills them for the split it scores.
"""

from __future__ import annotations

import numpy as np

from samis.datasets import Sample
from samis.evaluation import CACHE_VERSION, MethodResult, ground_truth_of_pair, scoring_worker
from samis.metrics import CURVES, IMAGE_METRICS
from samis.result_cache import ground_truth_keys, indexed_ground_truth_keys
from samis.results_store import SUFFIX, ParquetRowCache
from samis.runner import EngineSpec, Task, Unit, UnitStore, run_task
from samis.runs import ProgressCallback
from samis.workspace import Workspace

#: reference id → the constant value of its map, and what it is
REFERENCE_MAPS = {"ref:zeros": (0, "reference: an all-zero map (finds nothing), not a method"),
                  "ref:const128": (128, "reference: every pixel 128 (no information), not a method")}


def reference_cache(workspace: Workspace, dataset_id: str, reference: str) -> ParquetRowCache:
    """The stored per-image rows of one reference map on a dataset (rows keyed by the reference id and the
    mask's hash)."""
    name = "_" + reference.replace(":", "-")
    return ParquetRowCache(workspace.results_dir(dataset_id) / f"{name}{SUFFIX}", IMAGE_METRICS, CURVES, CACHE_VERSION)


def read_reference(job: tuple[str, str, str, str]) -> tuple[np.ndarray, np.ndarray, str]:
    """(the reference map, ground truth, image id) of ``job`` = (image id, mask path, mask hash, reference id)."""
    stem, gt_path, gt_hash, reference = job
    gt = ground_truth_of_pair(stem, gt_path, gt_hash)
    return np.full(gt.shape, REFERENCE_MAPS[reference][0], np.uint8), gt, stem


REFERENCE_SCORING = Task("references", read_reference, scoring_worker, unit="image-reference pairs", batch_size=64,
                         parallel_min=48, count_cached=False)


class _ReferenceRows(UnitStore):
    """The reference caches as one store (units' group = reference id, key = (reference id, mask hash))."""

    def __init__(self, caches: dict[str, ParquetRowCache]):
        self.caches = caches

    def has(self, unit: Unit) -> bool:
        return self.caches[unit.group].lookup(unit.id) == unit.key

    def put(self, unit: Unit, result) -> None:
        self.caches[unit.group].put(unit.id, (0, 0), *unit.key, {"scalars": result[0], "histograms": result[1]})

    def flush(self) -> None:
        for cache in self.caches.values():
            cache.save()


def reference_results(workspace: Workspace, dataset_id: str, samples: list[Sample], *, trusting: bool = False,
                      workers: int | None = None, progress: ProgressCallback | None = None,
                      engine: EngineSpec | None = None) -> dict[str, MethodResult]:
    """Each reference map's per-image results on ``samples``: read from the store, the images it lacks (or whose
    mask changed) scored first and stored.

    Args:
        trusting: for views (pages, ``report``): when the store holds a row of every sample, use the rows without
            a look at any mask (masks are not edited in place: the trust of
            :func:`samis.evaluation.evaluate_trusting_generation`); otherwise every mask's stat is checked.

    Raises:
        EvaluationError: a mask that cannot be read (as for any method).
    """
    caches = {reference: reference_cache(workspace, dataset_id, reference) for reference in REFERENCE_MAPS}
    stems = [s.id for s in samples]
    if not (trusting and all(all(cache.lookup(stem) is not None for stem in stems) for cache in caches.values())):
        fill_references(workspace, dataset_id, samples, caches, engine=engine, workers=workers, progress=progress)
    return {reference: MethodResult(reference, stems, cache.rows_for(stems, curves=False)["scalars"],
                                    cache.curve_rows(stems)) for reference, cache in caches.items()}


def fill_references(workspace: Workspace, dataset_id: str, samples: list[Sample],
                    caches: dict[str, ParquetRowCache] | None = None, masks_checked: bool = False,
                    **run_options) -> int:
    """Score and store the reference rows of ``samples`` that are missing or were made from another mask (every
    mask's stat checked, as ``evaluate`` does; with ``masks_checked``, the caller has just checked them in the same
    command, and their hashes come from the index that check saved); ``run_options`` go to
    :func:`samis.runner.run_task`. Returns the number of rows scored now."""
    if caches is None:
        caches = {reference: reference_cache(workspace, dataset_id, reference) for reference in REFERENCE_MAPS}
    for cache in caches.values():  # rows of an older store format hold no histograms: scored again, once
        cache.score_old_rows_again()
    indexed = indexed_ground_truth_keys(workspace.results_dir(dataset_id), [s.id for s in samples]) \
        if masks_checked else None
    if indexed is not None:
        gt_keys, save_gt_index = indexed, lambda: None
    else:
        gt_keys, save_gt_index = ground_truth_keys(workspace.results_dir(dataset_id),
                                                   {s.id: s.gt_path for s in samples})
    units = []
    for sample in samples:  # an image's two references one after another: its mask is read once
        for reference, cache in caches.items():
            key = (reference, gt_keys[sample.id])
            if cache.lookup(sample.id) != key:
                units.append(Unit(sample.id, key, (sample.id, str(sample.gt_path), key[1], reference), group=reference))
    run_task(REFERENCE_SCORING, units, _ReferenceRows(caches), **run_options)
    save_gt_index()
    return len(units)
