"""The family table measured: saliency scores with intervals, inspection metrics with intervals, and speed.

:func:`measure_family` is what ``report DATASET --family`` and the Compare page's "SAM family" preset call: one
evaluation of the family's methods (:mod:`samis.evaluation`), a bootstrap over its images (:mod:`samis.stats`),
the inspection metrics at a threshold set on the calibration split with their own bootstrap
(:mod:`samis.pixel_level`), and the speed rows of the dataset's saved speed record (or of a timing just made),
put together by :func:`samis.tables.family.family_table`. Every number is the module's own; nothing is
recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from samis.datasets import Dataset
from samis.errors import DatasetError, EvaluationError, StatsError
from samis.evaluation import evaluate_trusting_generation
from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level_summarized
from samis.runs import ProgressCallback
from samis.speed.records import speed_records
from samis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap
from samis.tables.columns import EVALUATION_KEYS, TABLE_METRICS, resolve_metrics
from samis.tables.family import INSPECTION_METRICS, FamilyMeasures, FamilyTable, ModelSpeed, family_methods, family_table
from samis.workspace import Workspace


@dataclass(frozen=True)
class FamilyQuery:
    """What the family table is asked for.

    Attributes:
        methods: method ids (only those a registry model made are kept; None: every method with maps).
        split: the evaluated split.
        metrics: saliency table metrics.
        resamples: bootstrap B for the intervals (None: no intervals).
        seed: the bootstrap seed.
        allow_missing: score methods on the images they have maps for.
    """

    methods: tuple[str, ...] | None = None
    split: str = "all"
    metrics: tuple[str, ...] = TABLE_METRICS
    resamples: int | None = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    allow_missing: bool = False


def measure_family(workspace: Workspace, dataset: Dataset, query: FamilyQuery = FamilyQuery(),
                   speed: dict[str, ModelSpeed] | None = None, progress: ProgressCallback | None = None) -> FamilyTable:
    """The family table of a dataset split, every column measured.

    Args:
        speed: model label → speed, where the caller just timed the models (None: the dataset's saved record).

    Raises:
        ReportError: no maps of a registry model among the methods.
        EvaluationError, StatsError: as :func:`samis.evaluation.evaluate` and :func:`samis.stats.bootstrap`.
    """
    methods = family_methods(list(query.methods) if query.methods is not None
                             else workspace.prediction_methods(dataset.id))
    metrics = resolve_metrics(query.metrics)
    evaluation = evaluate_trusting_generation(workspace, dataset, methods, query.split,
                                              allow_missing=query.allow_missing, progress=progress)
    measures = FamilyMeasures()
    if query.resamples is not None and methods:
        _saliency_intervals(evaluation, methods, metrics, query, measures)
    if methods:
        _inspection(workspace, dataset, methods, query, measures, progress)
    if speed is not None:
        measures.speed = dict(speed)
        measures.notes.append("FPS and peak MB: timed now on this machine (`--speed`)")
    else:
        _saved_speed(workspace, dataset.id, measures)
    return family_table(dataset.id, query.split, evaluation.scores, metrics, measures=measures)


def _saliency_intervals(evaluation, methods: list[str], metrics: tuple[str, ...], query: FamilyQuery,
                        measures: FamilyMeasures) -> None:
    names = [EVALUATION_KEYS[m] for m in metrics]
    try:
        boot = bootstrap(evaluation, methods, names, resamples=query.resamples, seed=query.seed)
    except StatsError as error:
        measures.notes.append(f"no intervals for the saliency metrics: {error}")
        return
    for method in methods:
        measures.intervals[method] = {m: tuple(boot.interval(method, EVALUATION_KEYS[m])) for m in metrics}
    strata = f"stratified by defect class ({boot.strata} classes)" if boot.strata > 1 else "not stratified"
    measures.notes.append(f"(low–high): {boot.confidence:.0%} percentile bootstrap interval over {boot.n_images} "
                          f"images (B = {boot.resamples}, seed {boot.seed}, {strata}); the inspection metrics' with "
                          "the same B and seed")


def _inspection(workspace: Workspace, dataset: Dataset, methods: list[str], query: FamilyQuery,
                measures: FamilyMeasures, progress: ProgressCallback | None) -> None:
    options = PixelLevelOptions(resamples=query.resamples, seed=query.seed, allow_missing=query.allow_missing)
    try:
        result = evaluate_pixel_level_summarized(workspace, dataset, methods, query.split, options, progress=progress)
    except (EvaluationError, DatasetError) as error:
        measures.notes.append(f"no inspection metrics: {error}")
        return
    for method, found in result.methods.items():
        measures.inspection[method] = {title: found.values.get(name) for title, name in INSPECTION_METRICS.items()}
        if found.intervals is not None:
            measures.inspection_intervals[method] = {title: tuple(found.intervals[name])
                                                     for title, name in INSPECTION_METRICS.items()}
    measures.notes.append(f"pixel AUROC, AUPRO@0.3 (pixel FPR up to 0.3): samis.pixel_level on split {query.split}, "
                          f"threshold set on split {result.calibration_split}")
    measures.notes.extend(result.notes)


def _saved_speed(workspace: Workspace, dataset_id: str, measures: FamilyMeasures) -> None:
    records, problems = speed_records(workspace)
    measures.notes.extend(f"speed: {p}" for p in problems)
    record = records.get(dataset_id)
    if record is None:
        return
    for row in record.table.rows:
        measures.speed[row.method] = ModelSpeed(row.fps, row.peak_mb, row.memory, row.device)
    measures.notes.append(f"FPS and peak MB: the speed record of {dataset_id} (measured {record.shown_time} on "
                          f"{record.device or 'an unnamed device'}; speed/{record.path.name})")
