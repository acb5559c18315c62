"""A selection strategy over a dataset: cached masks → one saliency map and one record per image, a manifest.

:func:`select_over_dataset` reads each image's mask cache and ground truth, asks the strategy
(:mod:`samis.sam.selection`) for its choice, writes the map and its selection record
(:mod:`samis.sam.records`), and at the end the method's manifest. A GT-free strategy's parameters
are chosen first on the train split (:func:`samis.sam.selection_search.choose_parameters`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import SamError
from samis.imageio import ImageReadError
from samis.methods import sam_method_id
from samis.runs import ProgressCallback, ProgressTracker, Report
from samis.sam.records import SelectionRecord, write_selection_record
from samis.sam.selection import EXACT_MAX_MASKS, get_strategy, iou
from samis.sam.selection_search import choose_parameters, read_cached_masks, selection_input
from samis.store import write_manifest, write_prediction
from samis.workspace import Workspace


@dataclass
class SelectionReport(Report):
    """What a selection pass wrote."""

    method: str
    strategy: str
    images: int
    upper_bound: bool
    parameters: dict = field(default_factory=dict)
    mean_iou: float | None = None
    seconds: float = 0.0
    oracle_exact: int = 0
    oracle_heuristic: int = 0
    resized: list[str] = field(default_factory=list)  # ids whose ground truth differs in size from the image

    def summary(self) -> str:
        miou = f"mean IoU {self.mean_iou:.4f}" if self.mean_iou is not None else "no ground truth"
        bound = "  [upper bound: uses ground truth]" if self.upper_bound else ""
        chosen = {k: v for k, v in self.parameters.items() if k != "grid"}
        extra = f"  parameters (train split): {chosen}" if chosen else ""
        resized = (f"  [{len(self.resized)} images' masks resized (nearest) to their ground truth's size, "
                   f"e.g. {', '.join(self.resized[:3])}]" if self.resized else "")
        return f"wrote {self.method}: {self.images} maps, {miou}, {self.seconds:.1f} s{bound}{extra}{resized}"


def _read_gt(sample: Sample, strategy: str, required: bool) -> np.ndarray | None:
    """The sample's ground truth; None when it has none readable and the strategy needs none.

    Raises:
        SamError: ``required`` and the ground truth is missing or unreadable.
    """
    try:
        return sample.read_gt()
    except (ImageReadError, OSError) as error:
        if not required:
            return None
        raise SamError(f"strategy {strategy!r} needs ground truth, but image {sample.id} has none readable "
                       f"({error}); use small-union or contrast") from None


def selection_manifest(report: SelectionReport, split: str, label: str, provenance: dict | None,
                       heuristic_search: bool) -> dict:
    """The manifest of a selection method's folder: strategy, parameters, split, scores and the masks' provenance.

    Args:
        report: the finished pass.
        provenance: the mask cache's provenance of one image (None: no image; ``label`` names the model).
        heuristic_search: add how many images the oracle searched exactly and heuristically.
    """
    provenance = provenance or {}
    manifest = {
        "source": "sam",
        "strategy": report.strategy,
        "upper_bound": report.upper_bound,
        "note": ("uses the ground truth to pick masks: an upper bound, not a result a factory could get"
                 if report.upper_bound else "ground-truth free; parameters chosen on the train split only"),
        "strategy_parameters": report.parameters,
        "split": split,
        "images": report.images,
        "mean_iou": report.mean_iou,
        "resized_to_ground_truth": len(report.resized),
        "model": provenance.get("model", label),
        "model_type": provenance.get("model_type"),
        "checkpoint_md5": provenance.get("checkpoint_md5"),
        "weights": provenance.get("weights"),
        "amg_params": provenance.get("params"),
        "samis_version": __version__,
        "selection_records": "records/<stem>.json: the cached mask indices chosen, negated ones, the deciding score",
    }
    if heuristic_search:
        manifest["oracle_search"] = {"exact_images": report.oracle_exact, "heuristic_images": report.oracle_heuristic,
                                     "exact_max_masks": EXACT_MAX_MASKS}
    return manifest


def select_over_dataset(workspace: Workspace, dataset: Dataset, label: str, strategy: str, split: str = "all",
                        progress: ProgressCallback | None = None,
                        samples: list[Sample] | None = None) -> SelectionReport:
    """Turn cached masks into saliency maps of method ``<label>+<strategy>`` for a split.

    Args:
        label: the model label whose mask cache to read (``sam-vit_h``, ``sam-tiny-random`` …).
        strategy: one of :data:`samis.sam.selection.STRATEGIES`.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage: the method) at the
            start and after each image.
        samples: select on these samples instead of the split.

    Returns:
        a :class:`SelectionReport`.

    Raises:
        SamError: unknown strategy, a mask file missing or damaged, ground truth missing for a
            strategy that needs it.
    """
    spec = get_strategy(strategy)
    samples = list(samples) if samples is not None else get_split(workspace, dataset, split)
    method = sam_method_id(label, strategy)
    parameters = choose_parameters(workspace, dataset, label, strategy) if spec.grid else {}
    report = SelectionReport(method, strategy, len(samples), spec.needs_ground_truth, parameters)
    tracker = ProgressTracker(progress, len(samples), method).start()
    started = time.perf_counter()
    ious = []
    provenance = None
    for sample in samples:
        mask_set, provenance = read_cached_masks(workspace, dataset.id, label, sample)
        gt = _read_gt(sample, strategy, spec.needs_ground_truth)
        item = selection_input(mask_set, gt, sample)
        if mask_set.shape != tuple(item.shape):
            report.resized.append(sample.id)
        selection = spec.select(item, parameters)
        prediction = item.render(selection)
        if spec.heuristic_search:
            report.oracle_exact += selection.details["exact_search"]
            report.oracle_heuristic += not selection.details["exact_search"]
        if gt is not None:
            ious.append(iou(prediction > 0, gt))
        write_prediction(workspace, dataset.id, method, sample.id, prediction)
        fields = selection.record_fields()
        fields["details"] = {**fields["details"], "resized_to_ground_truth": sample.id in report.resized}
        write_selection_record(workspace, dataset.id, SelectionRecord(
            method, sample.id, strategy, "selection", n_masks=len(mask_set),
            parameters={k: v for k, v in parameters.items() if k != "grid"}, **fields))
        tracker.advance()
    report.seconds = time.perf_counter() - started
    report.mean_iou = float(np.mean(ious)) if ious else None
    write_manifest(workspace, dataset.id, method, selection_manifest(report, split, label, provenance,
                                                                     spec.heuristic_search))
    return report
