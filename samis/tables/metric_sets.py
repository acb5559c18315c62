"""Metric sets of the comparison: the paper's saliency metrics, the inspection metrics, or both in one table.

The saliency community reads S-measure, MAE, E-, weighted F- and F-measure (the paper's Tables 3–6); people who
run inspection systems read pixel AUROC, AP, F1-max, AUPRO and the operating point (:mod:`samis.pixel_level`).
:class:`MetricSetTable` puts either set, or both, on the same measured maps; the values come from an
:class:`samis.evaluation.EvaluationResult` and a :class:`samis.pixel_level.PixelLevelResult` of the same
dataset and split. The best value of each column is marked (ties all marked, compared as shown).
"""

from __future__ import annotations

import math

from samis.methods import UPPER_BOUND_NOTE, describe
from samis.tables.columns import EVALUATION_KEYS, TABLE_METRICS, higher_is_better
from samis.tables.render import csv_text, latex_escape, latex_table, markdown_table, markdown_text
from samis.text_table import text_table

#: ``report --metric-set`` words → the sets' names
CLI_METRIC_SETS = {"paper": "paper (saliency)", "inspection": "inspection", "both": "both"}

#: the sets a comparison offers, in the order a control shows them
METRIC_SETS = ("paper (saliency)", "inspection", "both")
#: inspection columns: PixelLevelResult.scores_frame names → (title, higher is better)
INSPECTION_COLUMNS = {"pixel_auroc": ("pixel AUROC", True), "pixel_ap": ("pixel AP", True),
                      "pixel_f1_max": ("pixel F1-max", True), "aupro@0.3": ("AUPRO@0.3", True),
                      "aupro@0.05": ("AUPRO@0.05", True), "f1": ("F1 at t", True),
                      "image_false_alarm_rate": ("image false alarms at t", False), "miss_rate": ("image misses at t", False)}
DECIMALS = 3


def check_metric_set(name: str) -> str:
    """The set's name, checked.

    Raises:
        ValueError: not one of :data:`METRIC_SETS`.
    """
    if name not in METRIC_SETS:
        raise ValueError(f"unknown metric set {name!r} (choose from {', '.join(METRIC_SETS)})")
    return name


def _shown(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{DECIMALS}f}"


class MetricSetTable:
    """Methods × the columns of one metric set.

    Args:
        metric_set: one of :data:`METRIC_SETS`.
        saliency: method → dataset scores (:attr:`samis.evaluation.EvaluationResult.scores`); needed unless the set
            is ``inspection``.
        inspection: a :class:`samis.pixel_level.PixelLevelResult`; needed unless the set is ``paper (saliency)``.
        title: the table's title.
    """

    def __init__(self, metric_set: str, saliency: dict | None = None, inspection=None, title: str = ""):
        self.metric_set, self.title = check_metric_set(metric_set), title
        self.columns: list[tuple[str, str, bool]] = []  # (key, title, higher is better)
        self.values: dict[str, dict[str, float]] = {}
        if metric_set != "inspection":
            if saliency is None:
                raise ValueError("the saliency metrics need an evaluation")
            self.columns += [(m, m, higher_is_better(m)) for m in TABLE_METRICS]
            for method, scores in saliency.items():
                self.values.setdefault(method, {}).update({m: scores[EVALUATION_KEYS.get(m, m)] for m in TABLE_METRICS})
        if metric_set != "paper (saliency)":
            if inspection is None:
                raise ValueError("the inspection metrics need a pixel-level evaluation")
            frame = inspection.scores_frame().set_index("method")
            keys = [k for k in INSPECTION_COLUMNS if k in frame.columns]
            self.columns += [(k, *INSPECTION_COLUMNS[k]) for k in keys]
            for method in frame.index:
                self.values.setdefault(method, {}).update({k: float(frame.loc[method, k]) for k in keys})
        self.upper = {m for m in self.values if describe(m).upper_bound}
        self.best = {}
        for key, _, higher in self.columns:
            shown = {m: _shown(v.get(key)) for m, v in self.values.items()}
            numbers = [float(s) for s in shown.values() if s != "–"]
            if numbers:
                target = max(numbers) if higher else min(numbers)
                self.best[key] = {m for m, s in shown.items() if s != "–" and float(s) == target}

    def header(self) -> list[str]:
        return ["method", *(title + (" ↑" if higher else " ↓") for _, title, higher in self.columns)]

    def rows(self, mark=lambda text: text + "*") -> list[list[str]]:
        out = []
        for method, values in self.values.items():
            cells = [method + (" †" if method in self.upper else "")]
            for key, _, _ in self.columns:
                text = _shown(values.get(key))
                cells.append(mark(text) if method in self.best.get(key, ()) else text)
            out.append(cells)
        return out

    def notes(self) -> list[str]:
        notes = []
        if self.metric_set != "paper (saliency)":
            notes.append("inspection: pooled over every pixel; 'at t': at each method's threshold calibrated on the "
                         "calibration split (see the Inspection view)")
        if self.upper:
            notes.append(f"† {UPPER_BOUND_NOTE}")
        return notes

    def to_text(self) -> str:
        lines = [self.title, *text_table(self.header(), self.rows(), set(range(1, len(self.columns) + 1))),
                 "* best of the column", *self.notes()]
        return "\n".join(line for line in lines if line) + "\n"

    def to_csv(self) -> str:
        header = ["method", "upper_bound", *(key for key, _, _ in self.columns)]
        return csv_text(header, [[m, m in self.upper, *(v.get(k) for k, _, _ in self.columns)]
                                 for m, v in self.values.items()])

    def to_markdown(self) -> str:
        rows = [[markdown_text(r[0]), *r[1:]] for r in self.rows(lambda t: f"**{t}**")]
        lines = [f"**{markdown_text(self.title)}**", "", *markdown_table(self.header(), "l" + "r" * len(self.columns), rows),
                 ""]
        for note in ["best of each column in bold", *self.notes()]:
            lines += [markdown_text(note), ""]
        return "\n".join(lines)

    def records(self) -> list[dict]:
        """One dict per method (method, then each column's title and value), for a dashboard table."""
        return [{"method": m + (" †" if m in self.upper else ""), **{title: v.get(key) for key, title, _ in self.columns}}
                for m, v in self.values.items()]

    def to_latex(self) -> str:
        rows = [[latex_escape(r[0]), *r[1:]] for r in self.rows(lambda t: r"\textbf{" + t + "}")]
        caption = latex_escape(" ".join([self.title, *self.notes()]))
        return "\n".join(latex_table(caption, "l" + "r" * len(self.columns), [_latex_header(h) for h in self.header()],
                                     rows)) + "\n"


    def to_json_document(self) -> dict:
        """The table as JSON: columns (key, title, direction), each method's values, the best of each column."""
        return {"title": self.title, "metric_set": self.metric_set,
                "columns": [{"key": k, "title": t, "higher_is_better": h} for k, t, h in self.columns],
                "methods": {m: {"upper_bound": m in self.upper, **{k: v.get(k) for k, _, _ in self.columns}}
                            for m, v in self.values.items()},
                "best": {k: sorted(ms) for k, ms in self.best.items()}, "notes": self.notes()}

    def html_section(self):
        """The table as one section of an HTML report (best of each column in bold)."""
        # lazy: the HTML report module is only needed for --format html
        from samis.html_report import HtmlSection, frame_table, text
        import pandas as pd  # pandas only for the HTML table

        frame = pd.DataFrame(self.records()).set_index("method")
        best = pd.DataFrame({title: [m in self.best.get(key, ()) for m in self.values] for key, title, _ in self.columns},
                            index=frame.index)
        notes = "".join(f"<li>{text(line)}</li>" for line in ["bold: best of the column", *self.notes()])
        return HtmlSection(self.title, frame_table(frame, best=best) + f'<ul class="note">{notes}</ul>')


def metric_set_text(workspace, dataset_id: str, metric_set: str, fmt: str, split: str = "test",
                    methods: list[str] | None = None, allow_missing: bool = False, progress=None) -> str:
    """``report DATASET --metric-set …``: the Compare page's "Metrics" table of a registered dataset, as text.

    Args:
        workspace: the workspace.
        dataset_id: a registered dataset.
        metric_set: a key of :data:`CLI_METRIC_SETS` or one of :data:`METRIC_SETS`.
        fmt: ``table``, ``csv``, ``markdown``, ``latex``, ``json`` or ``html``.
        split: the evaluated split (the inspection threshold is set on ``train``, as ``evaluate --pixel-level``).
        methods, allow_missing, progress: as :func:`samis.evaluation.evaluate`.
    """
    # lazy: evaluations import the runner; only this report needs them
    from samis.datasets import load_dataset
    from samis.evaluation import evaluate
    from samis.html_report import Provenance, dashboard_link, html_document
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level_summarized
    from samis.tables.render import json_text

    name = check_metric_set(CLI_METRIC_SETS.get(metric_set, metric_set))
    dataset = load_dataset(workspace, dataset_id)
    options = PixelLevelOptions(allow_missing=allow_missing)
    inspection = evaluate_pixel_level_summarized(workspace, dataset, methods, split, options, progress=progress)
    saliency = None
    if name == "both":
        saliency = evaluate(workspace, dataset, methods=methods, split=split, allow_missing=allow_missing,
                            progress=progress).scores
    table = MetricSetTable(name, saliency, inspection, title=f"{dataset_id} / {split}: {name} metrics, thresholds set "
                                                             f"on split {inspection.calibration_split}")
    if fmt == "html":
        link = dashboard_link("compare", dataset=dataset_id, split=split, metric_set=name)
        return html_document(table.title, [table.html_section()], Provenance(dataset_id, split, link, "samis report"))
    if fmt == "json":
        return json_text({**table.to_json_document(), "dataset": dataset_id, "split": split,
                          "calibration_split": inspection.calibration_split, "inspection_notes": inspection.notes})
    writers = {"csv": table.to_csv, "markdown": table.to_markdown, "latex": table.to_latex}
    return writers.get(fmt, table.to_text)()


def _latex_header(text: str) -> str:
    return latex_escape(text.replace(" ↑", r" $\uparrow$").replace(" ↓", r" $\downarrow$"), keep_math=True)
