"""A selection strategy over a dataset: cached masks → one saliency map and one record per image, a manifest.

:func:`select_over_dataset` reads each image's mask cache and ground truth, asks the strategy
(:mod:`samis.sam.selection`) for its choice, writes the map and its selection record
(:mod:`samis.sam.records`), and at the end the method's manifest. A GT-free strategy's parameters
are chosen first on the train split (:func:`samis.sam.selection_search.choose_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samis import __version__
from samis.datasets import Dataset, Sample, get_split
from samis.errors import SamError
from samis.imageio import ImageReadError
from samis.methods import sam_method_id
from samis.runner import Task, Unit, UnitStore, run_task
from samis.runs import ProgressCallback, Report
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


def read_selection_input(job: tuple[str, str, str, Sample, str, bool]):
    """One image's cached masks and ground truth as a strategy takes them: ``job`` is (workspace root, dataset
    id, model label, sample, strategy, whether it needs the ground truth). Returns (input, provenance, masks)."""
    root, dataset_id, label, sample, strategy, required = job
    mask_set, provenance = read_cached_masks(Workspace(root), dataset_id, label, sample)
    gt = _read_gt(sample, strategy, required)
    return selection_input(mask_set, gt, sample), provenance, mask_set.shape, len(mask_set), gt


def selection_worker(strategy: str, parameters: dict):
    """The per-image work, wherever it runs: ``compute(read input) -> (map, selection, provenance, resized,
    masks, IoU or None)``."""
    spec = get_strategy(strategy)

    def compute(loaded):
        item, provenance, mask_shape, n_masks, gt = loaded
        selection = spec.select(item, parameters)
        prediction = item.render(selection)
        score = iou(prediction > 0, gt) if gt is not None else None
        return prediction, selection, provenance, mask_shape != tuple(item.shape), n_masks, score

    return compute


class _SelectionMaps(UnitStore):
    """The runner's store of a selection pass: every image is selected again (cheap, and parameters may have
    changed); each map and its record are written when they come; the report adds up as they do."""

    def __init__(self, workspace: Workspace, dataset_id: str, report: SelectionReport, heuristic_search: bool):
        self.workspace, self.dataset_id, self.report = workspace, dataset_id, report
        self.heuristic_search = heuristic_search
        self.ious: list[float] = []
        self.provenance: dict | None = None

    def put(self, unit: Unit, result) -> None:
        prediction, selection, self.provenance, resized, n_masks, score = result
        report = self.report
        if resized:
            report.resized.append(unit.id)
        if self.heuristic_search:
            report.oracle_exact += selection.details["exact_search"]
            report.oracle_heuristic += not selection.details["exact_search"]
        if score is not None:
            self.ious.append(score)
        write_prediction(self.workspace, self.dataset_id, report.method, unit.id, prediction)
        fields = selection.record_fields()
        fields["details"] = {**fields["details"], "resized_to_ground_truth": resized}
        write_selection_record(self.workspace, self.dataset_id, SelectionRecord(
            report.method, unit.id, report.strategy, "selection", n_masks=n_masks,
            parameters={k: v for k, v in report.parameters.items() if k != "grid"}, **fields))



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
    maps = _SelectionMaps(workspace, dataset.id, report, spec.heuristic_search)
    units = [Unit(s.id, job=(str(workspace.root), dataset.id, label, s, strategy, spec.needs_ground_truth))
             for s in samples]
    # in this process: a pass reads each mask file once and is quick (a pool would copy every map back)
    task = Task(method, read_selection_input, selection_worker, (strategy, parameters), in_process=True)
    outcome = run_task(task, units, maps, progress=progress)
    order = {s.id: i for i, s in enumerate(samples)}
    report.resized.sort(key=order.__getitem__)
    report.seconds = outcome.seconds
    report.mean_iou = float(np.mean(maps.ious)) if maps.ious else None
    write_manifest(workspace, dataset.id, method, selection_manifest(report, split, label, maps.provenance,
                                                                     spec.heuristic_search))
    return report
