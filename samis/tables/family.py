"""The family table: every SAM-family model and mode that has maps on a dataset, side by side.

One row per method id with a model (``sam-vit_h+contrast``, ``hq-sam-vit_b+box``, ``efficientvit-sam-l0+oracle``
…): its family, model, mode, the saliency metrics of :mod:`samis.evaluation` and the inspection metrics of
:mod:`samis.pixel_level` (pixel AUROC, AUPRO), each with its bootstrap interval where one was computed
(:class:`FamilyMeasures`), and the speed columns — parameters (from the registry:
:attr:`samis.models.ModelSpec.params_m`), FPS and peak memory where the model was timed (the ``speed`` table's
rows). Deployable rows come first; rows that look at the ground truth (selections such as ``oracle``,
ground-truth prompts) follow apart, marked †: they are upper bounds, not results a line could have. Test-size
models with random weights are labelled as such in the row's note. :func:`pareto_front` gives the deployable rows
no other row beats on both accuracy and speed (the chart of :func:`samis.plots.family_pareto_figure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from samis.errors import ReportError
from samis.methods import describe
from samis.tables.columns import EVALUATION_KEYS, TABLE_METRICS, higher_is_better, resolve_metrics
from samis.tables.render import csv_text, json_text, markdown_escape, markdown_table
from samis.text_table import text_table

UPPER_BOUND_MARK = "†"
MISSING = "—"
#: inspection columns: title → the name in :attr:`samis.pixel_level.PixelLevelMethod.values` (higher is better)
INSPECTION_METRICS = {"pixel AUROC": "pixel_auroc", "AUPRO@0.3": "aupro/0.3"}


@dataclass(frozen=True)
class ModelSpeed:
    """A model's speed as a speed record gives it (:class:`samis.speed.SpeedRow`)."""

    fps: float | None
    peak_mb: float | None = None
    memory: str = ""
    device: str = ""


@dataclass
class FamilyMeasures:
    """What stands beside the saliency scores of the family table.

    Attributes:
        intervals: method → table metric → (low, high) 95 % bootstrap interval over images.
        inspection: method → inspection title (:data:`INSPECTION_METRICS`) → value.
        inspection_intervals: method → inspection title → (low, high).
        speed: model label → its :class:`ModelSpeed`.
        notes: how these were measured (intervals' B and seed, the inspection threshold, the speed record).
    """

    intervals: dict = field(default_factory=dict)
    inspection: dict = field(default_factory=dict)
    inspection_intervals: dict = field(default_factory=dict)
    speed: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class FamilyRow:
    """One model and mode on the dataset.

    Attributes:
        method: the method id (``hq-sam-vit_b+contrast``).
        family: the family as people name it (``HQ-SAM``).
        model: the model's title (``HQ-SAM ViT-B``, or the test-size model's labelled title).
        mode: the selection strategy or prompt kind.
        upper_bound: the maps looked at the ground truth.
        scores: table metric → value.
        params_m: the model's parameters in millions (None where not known).
        fps: images per second where the model was timed (None: not timed).
        note: random weights and upper-bound remarks.
        intervals: table metric → (low, high) bootstrap interval (empty: none computed).
        inspection: inspection title → value (empty: not computed).
        inspection_intervals: inspection title → (low, high).
        peak_mb: peak memory of the timed runs (None: not measured).
        random_weights: a test-size model with random weights made the maps.
    """

    method: str
    family: str
    model: str
    mode: str
    upper_bound: bool
    scores: dict
    params_m: float | None = None
    fps: float | None = None
    note: str = ""
    intervals: dict = field(default_factory=dict)
    inspection: dict = field(default_factory=dict)
    inspection_intervals: dict = field(default_factory=dict)
    peak_mb: float | None = None
    random_weights: bool = False


def _cell(value, interval=None) -> str:
    if value is None:
        return MISSING
    return f"{value:.3f}" + (f" ({interval[0]:.3f}–{interval[1]:.3f})" if interval else "")


@dataclass
class FamilyTable:
    """The family table of one dataset split (deployable rows, then upper bounds)."""

    dataset: str
    split: str
    metrics: tuple[str, ...]
    rows: list[FamilyRow]
    notes: list[str] = field(default_factory=list)

    def header(self) -> list[str]:
        return ["method", "family", "mode", *self.metrics, *INSPECTION_METRICS, "params (M)", "FPS", "peak MB", "note"]

    def _cells(self, row: FamilyRow) -> list[str]:
        mark = f" {UPPER_BOUND_MARK}" if row.upper_bound else ""
        scores = [_cell(row.scores.get(m), row.intervals.get(m)) for m in self.metrics]
        inspection = [_cell(row.inspection.get(t), row.inspection_intervals.get(t)) for t in INSPECTION_METRICS]
        params = f"{row.params_m:.2f}" if row.params_m is not None else MISSING
        fps = f"{row.fps:.2f}" if row.fps is not None else MISSING
        peak = f"{row.peak_mb:.1f}" if row.peak_mb is not None else MISSING
        return [row.method + mark, row.family, row.mode, *scores, *inspection, params, fps, peak, row.note]

    def to_text(self) -> str:
        cells = [self._cells(row) for row in self.rows]
        first_bound = next((i for i, row in enumerate(self.rows) if row.upper_bound), None)
        rules = () if first_bound in (None, 0) else (first_bound,)
        right = set(range(3, 3 + len(self.metrics) + len(INSPECTION_METRICS) + 3))
        lines = [f"{self.dataset} ({self.split}): the SAM family, deployable rows first; {UPPER_BOUND_MARK} upper "
                 "bound (uses the ground truth)", ""]
        lines += text_table(self.header(), cells, right, rules)
        return "\n".join(lines + [f"note: {n}" for n in self.notes]) + "\n"

    def records(self) -> list[dict]:
        """One dict per row, header → shown cell (a dashboard table)."""
        return [dict(zip(self.header(), self._cells(row))) for row in self.rows]

    def to_csv(self) -> str:
        return csv_text(["upper_bound", *self.header()],
                        [[str(row.upper_bound).lower(), *self._cells(row)] for row in self.rows])

    def to_markdown(self) -> str:
        cells = [[markdown_escape(c) for c in self._cells(row)] for row in self.rows]
        alignments = "lll" + "r" * (len(self.metrics) + len(INSPECTION_METRICS) + 3) + "l"
        return "\n".join(markdown_table(self.header(), alignments, cells)) + "\n"

    def to_json_document(self) -> dict:
        return {"dataset": self.dataset, "split": self.split, "metrics": list(self.metrics), "notes": self.notes,
                "rows": [{"method": r.method, "family": r.family, "model": r.model, "mode": r.mode,
                          "upper_bound": r.upper_bound, "random_weights": r.random_weights, "scores": r.scores,
                          "intervals": {m: list(v) for m, v in r.intervals.items()}, "inspection": r.inspection,
                          "inspection_intervals": {m: list(v) for m, v in r.inspection_intervals.items()},
                          "params_m": r.params_m, "fps": r.fps, "peak_mb": r.peak_mb, "note": r.note}
                         for r in self.rows]}

    def to_json(self) -> str:
        return json_text(self.to_json_document())


def family_methods(methods) -> list[str]:
    """The method ids among ``methods`` that a model of the registry made (a selection or a prompt)."""
    return [m for m in methods if describe(m).model is not None and (describe(m).strategy or describe(m).prompt)]


def family_rows(scores: dict[str, dict], metrics=TABLE_METRICS, fps: dict[str, float] | None = None,
                measures: FamilyMeasures | None = None) -> list[FamilyRow]:
    """Rows of the family table from dataset scores (``EvaluationResult.scores``), deployable rows first.

    Args:
        scores: method id → its dataset scores (evaluation keys).
        metrics: table metric names (``Sa``, ``MAE``, ``Em``, ``Fw``, ``Fm`` …).
        fps: model label → measured FPS (the speed table's rows), where timed (``measures.speed`` wins).
        measures: intervals, inspection metrics and speed (None: the saliency scores alone).

    Raises:
        ReportError: no method of the registry's models among ``scores``, or an unknown metric.
    """
    metrics = resolve_metrics(metrics)
    methods = family_methods(scores)
    if not methods:
        raise ReportError("no maps of SAM-family models on this dataset; run `python -m samis sam DATASET --model "
                          "…` first")
    measures = measures or FamilyMeasures()
    rows = []
    for method in methods:
        info = describe(method)
        model = info.model
        speed = measures.speed.get(model.label) or ModelSpeed((fps or {}).get(model.label))
        rows.append(FamilyRow(
            method, model.family_title, model.title, info.strategy or info.prompt, info.upper_bound,
            {m: scores[method].get(EVALUATION_KEYS[m]) for m in metrics}, model.params_m, speed.fps, info.note,
            measures.intervals.get(method, {}), measures.inspection.get(method, {}),
            measures.inspection_intervals.get(method, {}), speed.peak_mb, model.random_weights))
    order = {m: i for i, m in enumerate(methods)}
    return sorted(rows, key=lambda r: (r.upper_bound, r.family, order[r.method]))


def family_table(dataset: str, split: str, scores: dict[str, dict], metrics=TABLE_METRICS,
                 fps: dict[str, float] | None = None, measures: FamilyMeasures | None = None) -> FamilyTable:
    """The family table of one dataset split (see :func:`family_rows`), with its notes."""
    rows = family_rows(scores, metrics, fps, measures)
    metrics = resolve_metrics(metrics)
    notes = [f"{UPPER_BOUND_MARK}: the maps were chosen or prompted with the ground truth: an upper bound, not "
             "a deployable result",
             "params: the registry's counts (the packages' constructors; SAM 2.1 from its README); FPS and peak MB "
             f"where the model was timed ({MISSING}: not timed, or timed before samis measured memory)",
             *(measures.notes if measures else ())]
    if any(row.note and "random weights" in row.note for row in rows):
        notes.append("test-size models have random weights: their rows exercise the code, not the family's accuracy")
    best = {m: _best(rows, m) for m in metrics}
    if any(best.values()):
        notes.append("best deployable: " + ", ".join(f"{m} {best[m]}" for m in metrics if best[m]))
    return FamilyTable(dataset, split, metrics, rows, notes)


def pareto_front(rows: list[FamilyRow], metric: str) -> list[FamilyRow]:
    """The deployable rows with an FPS and a ``metric`` value that no other such row beats on both (at least as
    good on both, better on one), fastest first; upper bounds († rows) never take part.

    Raises:
        ReportError: ``metric`` is not a column of the rows.
    """
    metric = resolve_metrics([metric])[0]
    higher = higher_is_better(metric)
    points = [r for r in rows if not r.upper_bound and r.fps is not None and r.scores.get(metric) is not None]

    def good(row):
        return row.scores[metric] if higher else -row.scores[metric]

    def beaten(row):
        return any(o.fps >= row.fps and good(o) >= good(row) and (o.fps > row.fps or good(o) > good(row))
                   for o in points)

    return sorted((r for r in points if not beaten(r)), key=lambda r: -r.fps)


def _best(rows: list[FamilyRow], metric: str) -> str | None:
    # a result: not an upper bound, and not a test-size model's random weights
    candidates = [r for r in rows if not r.upper_bound and not r.random_weights and r.scores.get(metric) is not None]
    if not candidates:
        return None
    pick = max if higher_is_better(metric) else min
    return pick(candidates, key=lambda r: r.scores[metric]).method
