"""Library calls behind Streamlit caches, so a rerun recomputes nothing.

Every cached function takes the workspace root as text and a ``fingerprint`` (from
:func:`samis.dashboard.coverage.workspace_fingerprint`): the fingerprint changes when predictions,
the registry or the splits change, which makes the cache miss exactly when the workspace content
changed. Nothing here computes a metric; the functions call :mod:`samis.evaluation`,
:mod:`samis.tables`, :mod:`samis.paper` and :mod:`samis.figures`.

- the evaluation is held summarized (:mod:`samis.evaluation_summary`): per-image scalars and the scores over
  the split and each class, never the per-image curves (images × 4 × 256 per method: 15 GB at 150,000 images ×
  12 methods); the few views that resample images read the curves from the results cache when asked for.
- ``st.cache_resource`` holds objects that are large or must not be copied (the per-image tables of Cases,
  bootstrap resamples), shared by every session and bounded by ``max_entries``. Treat them as read-only.
- loaded SAM models live in one :class:`samis.sam.model_cache.ModelCache` (:func:`model_cache`, a
  ``st.cache_resource``: one per server process), bounded by bytes, least recently used evicted first;
  a page run leases the models it uses with ``with data.model_cache().using():``.
- ``st.cache_data`` holds the small things pages show (score tables, per-image frames, figures);
  Streamlit hands each caller its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from samis.cases import operating_point_wide, per_image_tables
from samis.tables.per_class import per_class_table
from samis.tables.report import ComparisonQuery, ComparisonRows, comparison_rows_of
from samis.tables.report import paper_key as tables_paper_key
from samis.datasets import Dataset, get_split, load_dataset
from samis.evaluation import EvaluationResult, evaluate_trusting_generation
from samis.evaluation_summary import summarize_evaluation, summarized
from samis.family_report import FamilyQuery, measure_family
from samis.speed.records import record_path
from samis.tables.family import FamilyTable, family_methods
from samis.figures import image_cells as cells_of
from samis.figures import false_alarm_figure, missed_region_picture, png_bytes, qualitative_figure
from samis.image_level import ImageLevelResult, ground_truth_facts, image_level_trusting_generation
from samis.image_level import unscored_pairs as unscored_image_level
from samis.pixel_level import (DEFAULT_CALIBRATION_SPLIT, SUMMARY_REGIONS, PixelLevelMethod, PixelLevelOptions,
                                PixelLevelResult, pixel_level_trusting_generation)
from samis.pixel_level import unscored_pairs as unscored_pixel_level
from samis.paper import load_paper_table, load_speed_table
from samis.plots import rank_stability_figure, significance_matrix_figure
from samis.review import Exclusion, ReviewStore
from samis.review import exclusion as review_exclusion
from samis import stats
from samis.store import prediction_files
from samis.workspace import Workspace

from samis.dashboard import coverage as coverage_module
from samis.dashboard import ui
from samis.dashboard.jobs import JobBoard
from samis.sam.model_cache import ModelCache, active_cache
from samis.mask_explorer import all_masks_overlay, chosen_overlay, explore_masks, fig4_figure, resolve_model


def fingerprint(root: str, dataset_id: str | None = None) -> str:
    """The content key of a workspace (or of one dataset in it); cheap, not cached."""
    return coverage_module.workspace_fingerprint(Workspace(root), dataset_id)


@st.cache_resource(show_spinner=False, max_entries=8)
def dataset(root: str, dataset_id: str, fingerprint: str) -> Dataset:
    """The loaded dataset (raises the library's DatasetError/WorkspaceError); one object for every session and
    rerun, not a copy per call (150,000 samples): treat it as read-only."""
    return load_dataset(Workspace(root), dataset_id)


@st.cache_data(show_spinner=False, max_entries=64)
def split_ids(root: str, dataset_id: str, split: str, fingerprint: str) -> list[str]:
    """Image ids of a split, in id order (makes and freezes the split file on first use)."""
    workspace = Workspace(root)
    return [s.id for s in get_split(workspace, load_dataset(workspace, dataset_id), split)]


@st.cache_resource
def _jobs() -> JobBoard:
    """The server's background computations (scoring), shared by every session."""
    return JobBoard(keep=6)


@dataclass(frozen=True)
class Scope:
    """What a page's scores are of: a workspace, a dataset, a split, the methods, and the workspace's
    content key. Frozen and hashable: the cache key of every function below that reads the evaluation."""

    root: str
    dataset_id: str
    split: str
    methods: tuple[str, ...]
    fingerprint: str
    # images left out by their review tags (see :func:`without_tagged`): the tags, the sorted image ids and the
    # line saying whose tags they were, so a colleague's new tag is a new key (never a stale cache)
    exclude_tags: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    left_out: str = ""

    def whole(self) -> "Scope":
        """This scope over the whole split (no image left out by its tags)."""
        return replace(self, exclude_tags=(), excluded=(), left_out="")


def without_tagged(scope: Scope, tags: tuple[str, ...]) -> tuple[Scope, Exclusion]:
    """``scope`` less the images of its split tagged with any of ``tags`` in the review store, and what was left
    out (how many, by whose tags). Read on every rerun, uncached, so a colleague's new tag counts at once.

    Raises:
        ReviewError: a bad tag, or a review store that cannot be read (damaged, from a newer samis).
    """
    within = set(split_ids(scope.root, scope.dataset_id, scope.split, scope.fingerprint))
    found = review_exclusion(ReviewStore(scope.root, read_only=True), scope.dataset_id, tags, within=within)
    return replace(scope, exclude_tags=tuple(found.tags), excluded=tuple(sorted(found.images)),
                   left_out=found.describe()), found


def evaluation(scope: Scope) -> EvaluationResult:
    """Every requested method scored on the split (methods with missing maps scored on what they have), less
    the images the scope leaves out by their tags, summarized: per-image scalars and the scores over the split
    and each class, without the per-image curves (:mod:`samis.evaluation_summary`; the server holds no
    images × 4 × 256 arrays). What needs the curves (:func:`bootstrap`, :func:`paired`) reads them again.

    Scoring runs in the background (see :mod:`samis.dashboard.jobs`): the page shows its progress, and
    work done before a widget or page change is kept, not redone. Leaving images out rescores nothing.
    """
    leave_out = (scope.excluded, scope.left_out) if scope.exclude_tags else None
    if leave_out is not None:
        evaluation(scope.whole())  # scored once, by the whole split's job; this one then only reads the cache

    def work(progress):
        workspace = Workspace(scope.root)
        loaded = load_dataset(workspace, scope.dataset_id)

        def one(methods: list[str], progress) -> EvaluationResult:
            # pages trust a store checked against the maps the methods hold now (no file is looked at then)
            return evaluate_trusting_generation(workspace, loaded, methods=methods, split=scope.split,
                                                allow_missing=True, progress=progress)

        if not scope.methods:  # evaluate's own error (no predictions / none chosen)
            return summarized(one([], progress))
        return summarize_evaluation(lambda method, joined: one([method], joined), scope.methods, leave_out, progress)

    job = _jobs().get_or_start(("evaluation", scope), work)
    return ui.wait_for(job, f"{scope.dataset_id}/{scope.split}")


def full_evaluation(scope: Scope, methods: tuple[str, ...] | None = None) -> EvaluationResult:
    """The full result with per-image curves (of ``methods``, default the scope's), read from the results
    cache and not kept: for the few views that resample images. Less the images the scope leaves out."""
    workspace = Workspace(scope.root)
    result = evaluate_trusting_generation(workspace, load_dataset(workspace, scope.dataset_id),
                                          methods=list(methods or scope.methods), split=scope.split,
                                          allow_missing=True)
    return result.without(scope.excluded, scope.left_out) if scope.exclude_tags else result


def comparison(scope: Scope, paper: bool, measured: bool, references: bool = False) -> ComparisonRows:
    """The comparison rows of the Compare page (the same function as ``report``), over the evaluation;
    ``references``: with the reference rows (``ref:zeros``, ``ref:const128``) on the same split."""
    result = evaluation(scope) if measured else None
    return _comparison(scope, paper, measured, references, result)


@st.cache_resource(show_spinner=False, max_entries=6)
def _comparison(scope: Scope, paper: bool, measured: bool, references: bool,
                _result: EvaluationResult | None) -> ComparisonRows:
    query = ComparisonQuery(scope.dataset_id, paper=paper, measured=measured, split=scope.split, allow_missing=True,
                            exclude_tags=scope.exclude_tags, references=references)
    return comparison_rows_of(Workspace(scope.root), query, _result)


def bootstrap(scope: Scope, resamples: int = stats.DEFAULT_RESAMPLES, seed: int = stats.DEFAULT_SEED) -> stats.Bootstrap:
    """Bootstrap of every method of the evaluation (see :func:`samis.stats.bootstrap`); read-only."""
    evaluation(scope)  # scored (with progress) before the curves are read again
    return _bootstrap(scope, resamples, seed)


@st.cache_resource(show_spinner="Resampling the images (bootstrap)…", max_entries=6)
def _bootstrap(scope: Scope, resamples: int, seed: int) -> stats.Bootstrap:
    return stats.bootstrap(full_evaluation(scope), resamples=resamples, seed=seed)


def uncertainty_figures(scope: Scope, metric: str, colors: dict):
    """(rank-stability figure, significance-matrix figure) of one metric over the bootstrap."""
    return _uncertainty_figures(scope, metric, colors, bootstrap(scope))


@st.cache_data(show_spinner=False, max_entries=32)
def _uncertainty_figures(scope: Scope, metric: str, colors: dict, _boot: stats.Bootstrap):
    return (rank_stability_figure(_boot, metric, colors),
            significance_matrix_figure(stats.significance_matrix(_boot, metric)))


def paired(scope: Scope, a: str, b: str, images: tuple[str, ...]) -> stats.PairedComparison:
    """A vs B on the given images of the evaluation (see :func:`samis.stats.compare_methods`)."""
    evaluation(scope)  # scored (with progress) before the curves are read again
    return _paired(scope, a, b, images)


@st.cache_data(show_spinner="Comparing A and B (bootstrap, Wilcoxon)…", max_entries=32)
def _paired(scope: Scope, a: str, b: str, images: tuple[str, ...]) -> stats.PairedComparison:
    return stats.compare_methods(full_evaluation(scope, (a, b)), a, b, images=list(images))


def class_table(scope: Scope, metric: str) -> pd.DataFrame:
    """Methods × classes of one dataset metric (see :func:`samis.tables.per_class.per_class_table`)."""
    return _class_table(scope, metric, evaluation(scope))


@st.cache_data(show_spinner=False, max_entries=32)
def _class_table(scope: Scope, metric: str, _result: EvaluationResult) -> pd.DataFrame:
    return per_class_table(_result, metric)


def per_image(scope: Scope) -> pd.DataFrame:
    """Long per-image table: image, method, class and every value of :data:`IMAGE_METRICS` (built on each
    call, not cached: at 150,000 images × 12 methods it is 1.8 million rows)."""
    return evaluation(scope).per_image_frame()


def per_image_wide(scope: Scope) -> dict[str, pd.DataFrame]:
    """metric → frame indexed by image id: ``class`` then one column per method (NaN = no map). Held once for
    every session and rerun (not copied per call): treat it as read-only."""
    return _per_image_wide(scope, evaluation(scope))


@st.cache_resource(show_spinner=False, max_entries=4)
def _per_image_wide(scope: Scope, _result: EvaluationResult) -> dict[str, pd.DataFrame]:
    ids = split_ids(scope.root, scope.dataset_id, scope.split, scope.fingerprint)
    by_id = dataset(scope.root, scope.dataset_id, scope.fingerprint).by_id()
    return per_image_tables(_result.per_image_frame(), ids, {i: by_id[i].cls for i in ids}, scope.methods)


@st.cache_data(show_spinner=False, max_entries=8)
def coverage(root: str, fingerprint: str) -> tuple[list, list]:
    """(dataset statuses, coverage cells) of the whole workspace."""
    workspace = Workspace(root)
    return coverage_module.dataset_statuses(workspace), coverage_module.coverage(workspace)


@st.cache_data(show_spinner=False, max_entries=32)
def prediction_paths(root: str, dataset_id: str, methods: tuple[str, ...], fingerprint: str) -> dict[str, dict[str, Path]]:
    """method → {image id → stored map path}."""
    workspace = Workspace(root)
    return {m: prediction_files(workspace, dataset_id, m) for m in methods}


@st.cache_data(show_spinner=False, max_entries=64)
def grid_png(root: str, dataset_id: str, image_ids: tuple[str, ...], methods: tuple[str, ...], mode: str,
             threshold: int, cell: int, fingerprint: str) -> bytes:
    """The qualitative grid of some images as PNG bytes (see :func:`samis.figures.qualitative_figure`)."""
    loaded = dataset(root, dataset_id, fingerprint)
    by_id = loaded.by_id()
    samples = [by_id[i] for i in image_ids]
    paths = prediction_paths(root, dataset_id, methods, fingerprint)
    figure = qualitative_figure(samples, paths, list(methods), mode=mode, threshold=threshold, cell=cell)
    return png_bytes(figure)


@st.cache_data(show_spinner=False, max_entries=64)
def image_cells(root: str, dataset_id: str, image_id: str, methods: tuple[str, ...], mode: str, threshold: int,
                fingerprint: str) -> list[tuple[str, bytes | None, str]]:
    """One image's cells (image, ground truth, each method) as PNG bytes with titles and captions."""
    sample = dataset(root, dataset_id, fingerprint).by_id()[image_id]
    paths = prediction_paths(root, dataset_id, methods, fingerprint)
    return [(title, None if picture is None else png_bytes(picture), caption)
            for title, picture, caption in cells_of(sample, paths, list(methods), mode, threshold)]


#: the most (method, image) pairs a page scores without being asked: a larger job (a cold store of 150,000 images
#: × 12 methods is 1.8 million pairs, most of an hour on two cores) waits for a click, or for the CLI
PAGE_SCORING_LIMIT = 20_000


def _in_background(key: tuple, work, pending, label: str, command: str, wait: bool = True, reads: int = 0):
    """The result of the background job ``key`` (``work(progress)``, which stores ``label``; see
    :mod:`samis.dashboard.jobs`), its progress shown until it is done. A job that is not running yet starts when ``pending()`` (the pairs it
    would score) is within :data:`PAGE_SCORING_LIMIT`, else only when the visitor clicks to start it
    (:func:`samis.dashboard.ui.offer_job`, which also names ``command``, the same work on the CLI); None until
    then. Without ``wait`` the job itself is returned, waited for only when both what it scores and ``reads``
    (the stored pairs it reads) are within the limit (a large one is returned running, for the page to say so
    and go on: reading 1.8 million stored pairs takes minutes too)."""
    job = _jobs().find(key)
    if job is None:
        count = pending()
        if count > PAGE_SCORING_LIMIT and not ui.offer_job(count, label, command, key=f"start_{key[0]}"):
            return None
        job = _jobs().get_or_start(key, work, size=count)
    if wait:
        return ui.wait_for(job, label)
    if job.size is not None and job.size <= PAGE_SCORING_LIMIT and reads <= PAGE_SCORING_LIMIT:
        ui.wait_for(job, label)
    return job


def image_level(root: str, dataset_id: str, split: str, methods: tuple[str, ...], min_area: int | None,
                fingerprint: str) -> ImageLevelResult | None:
    """Image-level detection on good parts (see :func:`samis.image_level.evaluate_image_level`), scored in the
    background (:func:`_in_background`; None while a large job waits for a click); read-only."""
    workspace = Workspace(root)
    loaded = dataset(root, dataset_id, fingerprint)  # cached: listing 150,000 images on every rerun took seconds

    def work(progress) -> ImageLevelResult:
        return image_level_trusting_generation(workspace, loaded, methods=list(methods), split=split,
                                               min_area=min_area, allow_missing=True, progress=progress)

    area = "" if min_area is None else f" --min-area {min_area}"
    return _in_background(("image-level", root, dataset_id, split, methods, min_area, fingerprint), work,
                          lambda: unscored_image_level(workspace, loaded, list(methods), split, min_area),
                          "image-level values (for good parts)",
                          f"python -m samis evaluate {dataset_id} --image-level --split {split}{area}")


def _pixel_level_command(dataset_id: str, split: str, calibration_split: str) -> str:
    return (f"python -m samis evaluate {dataset_id} --pixel-level --split {split}"
            + ("" if calibration_split == DEFAULT_CALIBRATION_SPLIT else f" --calibration-split {calibration_split}"))


def pixel_level(root: str, dataset_id: str, split: str, methods: tuple[str, ...], options: PixelLevelOptions,
                fingerprint: str) -> PixelLevelResult | None:
    """Inspection metrics (see :func:`samis.pixel_level.evaluate_pixel_level`), scored in the background
    (:func:`_in_background`; None while a large job waits for a click); read-only."""
    workspace = Workspace(root)
    loaded = dataset(root, dataset_id, fingerprint)  # cached, as in image_level
    options = replace(options, allow_missing=True)

    def work(progress) -> PixelLevelResult:  # each method summarized once measured: bounded memory at any size
        return pixel_level_trusting_generation(workspace, loaded, list(methods), split, options, progress,
                                               keep=lambda method: method.summarized(SUMMARY_REGIONS))

    return _in_background(("pixel-level", root, dataset_id, split, methods, options, fingerprint), work,
                          lambda: unscored_pixel_level(workspace, loaded, list(methods), split,
                                                       options.calibration_split),
                          "per-image histograms (for the inspection metrics)",
                          _pixel_level_command(dataset_id, split, options.calibration_split))


def speed_stamp(root: str, dataset_id: str) -> str:
    """When the dataset's speed record was last written ("" where there is none): part of the family cache key."""
    path = record_path(Workspace(root), dataset_id)
    return str(path.stat().st_mtime_ns) if path.is_file() else ""


@st.cache_resource(show_spinner="Measuring the SAM family (scores, inspection metrics, bootstrap intervals)…",
                   max_entries=6)
def family(root: str, dataset_id: str, split: str, methods: tuple[str, ...], fingerprint: str,
           speed_stamp: str = "") -> FamilyTable | None:
    """The family table (:func:`samis.family_report.measure_family`) of the registry models' methods among
    ``methods``, with the dataset's saved speed record (``speed_stamp``: its time, so a new record is read); None
    where no method is a registry model's. Read-only."""
    chosen = family_methods(methods)
    if not chosen:
        return None
    workspace = Workspace(root)
    return measure_family(workspace, load_dataset(workspace, dataset_id),
                          FamilyQuery(tuple(chosen), split, allow_missing=True))


def operating_point(root: str, dataset_id: str, split: str, methods: tuple[str, ...], fingerprint: str):
    """The background job of Cases' IoU at the operating point (default inspection options), returned at once,
    running or done (None while a large job waits for a click, see :func:`_in_background`). Its result: (the
    inspection result without its per-image histograms: thresholds, options, notes; the long frame of
    :meth:`samis.pixel_level.PixelLevelResult.per_image_iou_frame`). Scored one method at a time (each method's
    threshold is its own), so the server holds one method's histograms at most, and none after; read-only."""
    workspace = Workspace(root)
    loaded = dataset(root, dataset_id, fingerprint)  # cached, as in image_level
    return _in_background(("operating-point", root, dataset_id, split, methods, fingerprint),
                          lambda progress: score_operating_point(workspace, loaded, split, methods, progress),
                          lambda: unscored_pixel_level(workspace, loaded, list(methods), split),
                          "per-image histograms (for the operating point)",
                          _pixel_level_command(dataset_id, split, DEFAULT_CALIBRATION_SPLIT), wait=False,
                          reads=len(split_ids(root, dataset_id, split, fingerprint)) * len(methods))


def operating_point_table(scope: Scope, job, fw_table: pd.DataFrame) -> pd.DataFrame:
    """Cases' wide table of IoU at the operating point from the finished :func:`operating_point` ``job``: one row
    per image of ``fw_table`` (the scope's per-image table, in its order), one column per method. Built once per job
    and scope and shared, read-only (the pivot of 1.8 million rows at 150,000 × 12 took a second on every rerun)."""
    return _operating_point_table(scope, job.key, job, fw_table)


@st.cache_resource(show_spinner=False, max_entries=2)
def _operating_point_table(scope: Scope, job_key: tuple, _job, _fw_table: pd.DataFrame) -> pd.DataFrame:
    _, frame = _job.outcome()
    return operating_point_wide(frame, list(_fw_table.index), _fw_table["class"].to_dict(), scope.methods)


def score_operating_point(workspace: Workspace, loaded: Dataset, split: str, methods: tuple[str, ...],
                          progress=None) -> tuple[PixelLevelResult, pd.DataFrame]:
    """What :func:`operating_point`'s job computes (``progress`` counts every method's pairs once)."""
    frames = []
    options = PixelLevelOptions(allow_missing=True)

    def keep(method: PixelLevelMethod) -> PixelLevelMethod:  # its per-image IoU, then its histograms go
        frames.append(method.iou_frame(options.min_area))
        return method.summarized(0)

    light = pixel_level_trusting_generation(workspace, loaded, list(methods), split, options, progress, keep=keep)
    return light, pd.concat(frames, ignore_index=True)


@st.cache_data(show_spinner=False, max_entries=16)
def defect_free_ids(root: str, dataset_id: str, split: str, fingerprint: str) -> list[str]:
    """Images of the split whose ground truth is empty (cached by the masks' content hash on disk too)."""
    workspace = Workspace(root)
    loaded = load_dataset(workspace, dataset_id)
    _, _, empty = ground_truth_facts(workspace, loaded, get_split(workspace, loaded, split))
    return [i for i, is_empty in empty.items() if is_empty]


@st.cache_data(show_spinner=False, max_entries=32)
def false_alarm_png(root: str, dataset_id: str, method: str, image_ids: tuple[str, ...], min_area: int | None,
                    areas: tuple[float, ...], cell: int, fingerprint: str) -> bytes:
    """The worst false alarms of one method with their flagged regions (see :func:`samis.figures.false_alarm_figure`)."""
    by_id = dataset(root, dataset_id, fingerprint).by_id()
    paths = prediction_paths(root, dataset_id, (method,), fingerprint)[method]
    figure = false_alarm_figure([by_id[i] for i in image_ids], paths, method, min_area, cell=cell,
                                areas=dict(zip(image_ids, areas)))
    return png_bytes(figure)


@st.cache_data(show_spinner=False, max_entries=32)
def missed_region_pngs(root: str, dataset_id: str, method: str, picks: tuple[tuple[str, int], ...], threshold: int,
                       fingerprint: str) -> list[bytes]:
    """Crops of ground-truth regions with one method's flagged pixels (see :func:`samis.figures.missed_region_crop`);
    ``picks`` are (image id, region index) pairs."""
    by_id = dataset(root, dataset_id, fingerprint).by_id()
    paths = prediction_paths(root, dataset_id, (method,), fingerprint)[method]
    return [png_bytes(missed_region_picture(by_id[image], paths[image], region, threshold)) for image, region in picks]


@st.cache_data(show_spinner=False)
def paper_table(key: str):
    """One of the paper's Tables 3–6 (``sd900``, ``mt``, ``nrsd-mn``, ``mt-7:3``)."""
    return load_paper_table(key)


@st.cache_data(show_spinner=False)
def paper_speed_rows():
    """The paper's Table 7."""
    return load_speed_table()


def paper_key(root: str, dataset_id: str, split: str) -> str | None:
    """The paper table a dataset and split are compared with (MT on ``test-7:3`` is Table 6)."""
    return tables_paper_key(Workspace(root), dataset_id, split)



@st.cache_resource(show_spinner=False)
def model_cache():
    """The server's one cache of loaded SAM models (bounded: 4 GiB of parameters; see
    :class:`samis.sam.model_cache.ModelCache`). Models a page run uses stay leased while it runs:
    ``with data.model_cache().using(): …`` around the run."""
    return ModelCache()


def loaded_model(model, checkpoint: str | None, device: str = "auto", hash_cache: str | None = None):
    """Load a whole SAM model (a :class:`samis.sam.engine.LoadedSam`) into the server's :func:`model_cache`
    and lease it for the page run's ``using()`` block; :func:`samis.models.get_model` gives a model's facts
    without loading it.

    The cache keeps the model loaded across reruns and sessions (the server is one process) until newer
    models push it out, and its lock makes sure two sessions never run it at the same time.
    ``hash_cache`` (the workspace's checkpoint-MD5 file) spares hashing a 2.5 GB checkpoint again.

    Raises:
        SamError: as :func:`samis.sam.engine.load_sam`.
    """
    # lazy: the engine imports torch and segment_anything, which only the Run page needs
    from samis.sam.engine import load_sam

    if active_cache() is not model_cache():
        raise RuntimeError("data.loaded_model runs inside `with data.model_cache().using():`")
    with st.spinner("Loading the SAM model…"):
        return load_sam(model, checkpoint or None, device, hash_cache=Path(hash_cache) if hash_cache else None)


def mask_cache_key(root: str, dataset_id: str, image_id: str, model: str) -> str:
    """Size and mtime of an image's mask cache file (the workspace fingerprint does not cover the cache)."""
    path = Workspace(root).sam_cache_dir(resolve_model(model).label, dataset_id) / f"{image_id}.npz"
    try:
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        return "-"


@st.cache_resource(show_spinner="Reading the cached SAM masks…", max_entries=4)
def mask_explorer(root: str, dataset_id: str, image_id: str, model: str, cache_key: str, fingerprint: str):
    """One image's :class:`samis.mask_explorer.MaskExplorer` (read-only: its masks are not copied per rerun)."""
    return explore_masks(Workspace(root), dataset_id, image_id, model,
                         dataset=dataset(root, dataset_id, fingerprint))


@st.cache_data(show_spinner=False, max_entries=64)
def mask_pictures(root: str, dataset_id: str, image_id: str, model: str, how: str | None, shown: tuple[int, ...],
                  cache_key: str, fingerprint: str) -> dict[str, bytes]:
    """PNG bytes of the all-masks overlay, the chosen masks of ``how`` and the Fig. 4 figure."""
    explorer = mask_explorer(root, dataset_id, image_id, model, cache_key, fingerprint)
    masks = explorer.mask_set.masks
    pictures = {"all": png_bytes(all_masks_overlay(explorer.image, masks, list(shown)))}
    if how is not None:
        view = explorer.selection(how)
        pictures["chosen"] = png_bytes(chosen_overlay(explorer.image, masks, view.record))
        pictures["figure"] = png_bytes(fig4_figure(explorer, how, list(shown)))
    return pictures
