"""The image-level table (good parts against defect images) in text, CSV, Markdown and LaTeX.

Built from :class:`samis.image_level.ImageLevelResult`; cells are decided here and laid out by the
shared writers of :mod:`samis.tables.render`. The best value of each metric column is marked (bold,
all ties, comparing the values as shown), by the directions of :data:`samis.metrics.HIGHER_IS_BETTER`;
methods that look at the ground truth are marked † upper bound, as in every samis table.
"""

from __future__ import annotations

import math

from samis.methods import UPPER_BOUND_NOTE, describe
from samis.metrics import HIGHER_IS_BETTER, IMAGE_LEVEL_METRICS
from samis.tables.render import csv_text, latex_escape, latex_table, markdown_table, markdown_text
from samis.text_table import text_table

#: column titles of the image-level metrics
TITLES = {"false_alarm_rate": "false alarms", "miss_rate": "misses", "auroc_area": "AUROC area",
          "auroc_max": "AUROC max", "fpr_at_tpr95": "FPR@TPR95"}
DECIMALS = 3


def _shown(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{DECIMALS}f}"


class ImageLevelTable:
    """Methods × (n defect, n defect-free, the five image-level metrics), with best marks and † upper bounds."""

    def __init__(self, result):
        self.result = result
        self.summaries = {name: method.summary() for name, method in result.methods.items()}
        self.upper = {name for name in self.summaries if describe(name).upper_bound}
        self.best = {}
        for metric in IMAGE_LEVEL_METRICS:
            shown = {name: _shown(s[metric]) for name, s in self.summaries.items()}
            values = [float(v) for v in shown.values() if v != "–"]
            if values:
                target = max(values) if HIGHER_IS_BETTER[metric] else min(values)
                self.best[metric] = {name for name, v in shown.items() if v != "–" and float(v) == target}

    @property
    def title(self) -> str:
        r = self.result
        return f"{r.dataset} / split {r.split}: image level, min area {r.min_area_text}"

    def notes(self) -> list[str]:
        notes = ["defect-free = empty ground truth; area = pixels >= 128 in 8-connected regions of at least min area; "
                 "false alarms: defect-free images with area > 0; misses: defect images with area 0; "
                 "AUROC: defect vs defect-free, ties count one half; FPR@TPR95: lowest false-alarm share among area "
                 "thresholds that flag at least 95 % of defect images"]
        if self.upper:
            notes.append(f"† {UPPER_BOUND_NOTE}")
        return notes + list(self.result.notes)

    def _label(self, name: str) -> str:
        return name + (" †" if name in self.upper else "")

    def header(self) -> list[str]:
        return ["method", "n defect", "n defect-free", *(TITLES[m] for m in IMAGE_LEVEL_METRICS)]

    def _rows(self, mark) -> list[list[str]]:
        rows = []
        for name, s in self.summaries.items():
            cells = [self._label(name), str(s["n_defect"]), str(s["n_free"])]
            for metric in IMAGE_LEVEL_METRICS:
                text = _shown(s[metric])
                cells.append(mark(text) if name in self.best.get(metric, ()) else text)
            rows.append(cells)
        return rows

    def to_text(self) -> str:
        lines = [self.title, *text_table(self.header(), self._rows(lambda t: t + "*"),
                                         right_columns=set(range(1, 3 + len(IMAGE_LEVEL_METRICS))))]
        lines += ["* best of the column", *self.notes()]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        header = ["method", "upper_bound", "n_defect", "n_free", *IMAGE_LEVEL_METRICS]
        rows = [[name, name in self.upper, s["n_defect"], s["n_free"], *(s[m] for m in IMAGE_LEVEL_METRICS)]
                for name, s in self.summaries.items()]
        return csv_text(header, rows)

    def to_markdown(self) -> str:
        header = self.header()
        rows = [[markdown_text(r[0]), *r[1:]] for r in self._rows(lambda t: f"**{t}**")]
        lines = [f"**{markdown_text(self.title)}**", "", *markdown_table(header, "l" + "r" * (len(header) - 1), rows), ""]
        for note in ["best of each column in bold", *self.notes()]:
            lines += [markdown_text(note), ""]  # one paragraph each
        return "\n".join(lines)

    def to_latex(self) -> str:
        header = [latex_escape(h) for h in self.header()]
        rows = [[latex_escape(r[0]), *r[1:]] for r in self._rows(lambda t: r"\textbf{" + t + "}")]
        caption = latex_escape(self.title + ". " + " ".join(self.notes()))
        return "\n".join(latex_table(caption, "l" + "r" * (len(header) - 1), header, rows)) + "\n"
