"""The inspection table (pixel AUROC / AP / F1-max, AUPRO, the operating point, by size) in text, CSV, Markdown, LaTeX.

Built from :class:`samis.pixel_level.PixelLevelResult`; cells are decided here and laid out by the shared
writers of :mod:`samis.tables.render`. Two blocks: methods × (pooled metrics, AUPRO at each limit, the
operating point), then methods × size bins (regions, mean overlap, found). With intervals each cell reads
``value [low, high]``. Methods that look at the ground truth are marked † upper bound, as in every samis table.
"""

from __future__ import annotations

import math

from samis.methods import UPPER_BOUND_NOTE, describe
from samis.tables.render import csv_text, latex_escape, latex_table, markdown_table, markdown_text
from samis.text_table import text_table

DECIMALS = 3
#: column titles of the flat value names (AUPRO's are added per limit)
TITLES = {"pixel_auroc": "pixel AUROC", "pixel_ap": "pixel AP", "pixel_f1_max": "pixel F1-max",
          "operating_point/threshold": "t", "operating_point/pixel_fpr": "pixel FPR",
          "operating_point/precision": "precision", "operating_point/recall": "recall", "operating_point/f1": "F1",
          "operating_point/iou": "IoU", "operating_point/mean_image_iou": "mean image IoU",
          "operating_point/pro": "PRO", "operating_point/image_false_alarm_rate": "image false alarms",
          "operating_point/miss_rate": "image misses"}


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{DECIMALS}f}"


class PixelLevelTable:
    """The two blocks of the inspection table of one :class:`samis.pixel_level.PixelLevelResult`."""

    def __init__(self, result):
        self.result = result
        self.upper = {name for name in result.methods if describe(name).upper_bound}
        limits = [f"aupro/{limit:g}" for limit in result.options.fpr_limits]
        self.columns = ["pixel_auroc", "pixel_ap", "pixel_f1_max", *limits, "operating_point/threshold",
                        *[k for k in TITLES if k.startswith("operating_point/") and k != "operating_point/threshold"]]
        self.titles = {**TITLES, **{k: f"AUPRO@{k.split('/')[1]}" for k in limits}}
        self.bins = list(next(iter(result.methods.values())).document(0.0)["by_size"]) if result.methods else []

    @property
    def title(self) -> str:
        r, o = self.result, self.result.options
        what = "pixel FPR" if o.calibrate == "pixel" else "share of defect-free images flagged"
        return (f"{r.dataset} / split {r.split}: inspection metrics; threshold per method set on split "
                f"{r.calibration_split} ({what} ≤ {o.budget:g})")

    def notes(self) -> list[str]:
        notes = ["pooled over every pixel of the split; AUPRO: PRO = mean overlap of 8-connected ground-truth regions, "
                 "integrated over pixel FPR up to the limit and divided by it; t: flag score ≥ t (0–255 as stored); "
                 "by size: regions by area in % of the image, found = overlap ≥ 0.5 at t"]
        if self.upper:
            notes.append(f"† {UPPER_BOUND_NOTE}")
        return notes + list(self.result.notes)

    def _label(self, name: str) -> str:
        return name + (" †" if name in self.upper else "")

    def _cell(self, method, name: str) -> str:
        if name == "operating_point/threshold":
            return str(method.threshold)
        text = _number(method.values[name])
        if method.intervals is not None and not name.endswith("/n_regions"):
            low, high = method.intervals[name]
            text += f" [{_number(low)}, {_number(high)}]"
        return text

    def header(self) -> list[str]:
        return ["method", *(self.titles[c] for c in self.columns)]

    def size_header(self) -> list[str]:
        return ["method", *[f"{key} {what}" for key in self.bins for what in ("n", "overlap", "found")]]

    def rows(self) -> list[list[str]]:
        return [[self._label(name), *(self._cell(m, c) for c in self.columns)] for name, m in self.result.methods.items()]

    def size_rows(self) -> list[list[str]]:
        rows = []
        for name, m in self.result.methods.items():
            cells = [self._label(name)]
            for key in self.bins:
                cells += [str(int(m.values[f"by_size/{key}/n_regions"])), self._cell(m, f"by_size/{key}/mean_overlap"),
                          self._cell(m, f"by_size/{key}/found")]
            rows.append(cells)
        return rows

    def to_text(self) -> str:
        lines = [self.title, *text_table(self.header(), self.rows(), set(range(1, len(self.columns) + 1))), "",
                 "by defect size (regions by area, % of the image)",
                 *text_table(self.size_header(), self.size_rows(), set(range(1, 3 * len(self.bins) + 1)))]
        return "\n".join([*lines, *self.notes()]) + "\n"

    def to_csv(self) -> str:
        names = [*self.columns, *[f"by_size/{k}/{w}" for k in self.bins for w in ("n_regions", "mean_overlap", "found")]]
        header = ["method", "upper_bound", "calibration_split", *names]
        rows = []
        for name, m in self.result.methods.items():
            values = [m.threshold if n == "operating_point/threshold" else m.values[n] for n in names]
            rows.append([name, name in self.upper, self.result.calibration_split, *values])
        return csv_text(header, rows)

    def to_markdown(self) -> str:
        lines = [f"**{markdown_text(self.title)}**", ""]
        for header, rows in ((self.header(), self.rows()), (self.size_header(), self.size_rows())):
            rows = [[markdown_text(r[0]), *r[1:]] for r in rows]
            lines += [*markdown_table(header, "l" + "r" * (len(header) - 1), rows), ""]
        for note in self.notes():
            lines += [markdown_text(note), ""]
        return "\n".join(lines)

    def to_latex(self) -> str:
        caption = latex_escape(self.title + ". " + " ".join(self.notes()))
        lines = []
        for header, rows in ((self.header(), self.rows()), (self.size_header(), self.size_rows())):
            rows = [[latex_escape(c) for c in r] for r in rows]
            lines += latex_table(caption, "l" + "r" * (len(header) - 1), [latex_escape(h) for h in header], rows)
        return "\n".join(lines) + "\n"
