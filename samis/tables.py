"""Comparison tables like the paper's: methods × metrics, best marks, a gap row, and exports.

Rows come from the paper (:mod:`samis.paper`), from methods measured here (scores of
``samis.evaluation.evaluate``), or from a user's CSV; every row says which (``source``) and measured
rows carry their provenance (dataset, split, samis version, time).

Best marks: per column, the best value (highest, or lowest for MAE) is marked in every row that has
it, ties included. The comparison is made on the values as shown (``decimals`` places, 3 like the
paper), so two cells that look equal are both marked.

Gap row ("Compared with the SOTA method" in the paper): one method (by default ``SAM``) against the
best of the other rows, per metric, in percent. The paper prints no formula; two definitions reproduce
its rows and both are offered by name:

- ``larger``    (Tables 3–5): ``|gap value − best| / max(gap value, best)``; the larger value is the best
  one for Sa, Em, Fw, Fm and the gap method's own value for MAE;
- ``reference`` (Table 6): ``|gap value − best| / gap value`` for every metric.

The percentage is rounded to the nearest integer, halves up, in exact decimal arithmetic on the
values as given (for printed values: as printed). This reproduces all twenty printed percentages; none
of them lies on a half, so half-up and half-even cannot be told apart, while truncation would fail
(Table 3 Em is 24.53 → printed 25). The sign says who is ahead: positive when the best other method
is better than the gap method (the paper's case, printed without sign), negative when the gap method
itself leads.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

from samis.errors import ReportError
from samis.metrics import HIGHER_IS_BETTER
from samis.runs import ProgressCallback

#: the paper's five columns (Em = max E-measure, Fm = max F-measure)
TABLE_METRICS = ("Sa", "MAE", "Em", "Fw", "Fm")
#: every metric a table can show → its key in ``EvaluationResult.scores[method]``
EVALUATION_KEYS = {
    "Sa": "Sa", "MAE": "MAE", "Em": "maxEm", "Fw": "Fw", "Fm": "maxFm",
    "meanEm": "meanEm", "adpEm": "adpEm", "meanFm": "meanFm", "adpFm": "adpFm",
}
#: other spellings accepted for a table metric
METRIC_ALIASES = {"maxEm": "Em", "maxFm": "Fm", "Mae": "MAE", "mae": "MAE", "Smeasure": "Sa", "S": "Sa"}
GAP_DEFINITIONS = ("larger", "reference")
#: SAM selection strategies that look at the ground truth: their rows are upper bounds, not results
UPPER_BOUND_STRATEGIES = ("oracle", "best-single", "inside-gt", "box", "point")
UPPER_BOUND_NOTE = "upper bound: uses the ground truth"
PAPER_SAM_NOTE = "upper bound: the paper chose SAM's masks by hand against the ground truth"

_ROW_FIELDS = {"method", "label", "source", "note", "upper_bound", "printed_name", "publication", "type",
               "printed_best", "split", "samis_version", "time", "n_images", "dataset"}


def resolve_metric(name: str) -> str:
    """The table name of a metric (``maxEm`` → ``Em``).

    Raises:
        ReportError: no such metric.
    """
    key = METRIC_ALIASES.get(name.strip(), name.strip())
    if key not in EVALUATION_KEYS:
        raise ReportError(
            f"unknown metric {name!r} (choose from {', '.join(EVALUATION_KEYS)}; maxEm and maxFm are Em and Fm)"
        )
    return key


def resolve_metrics(names) -> tuple[str, ...]:
    """Table names of a list of metrics, in order, without repeats.

    Raises:
        ReportError: an unknown metric, or an empty list.
    """
    metrics: list[str] = []
    for name in names:
        key = resolve_metric(name)
        if key not in metrics:
            metrics.append(key)
    if not metrics:
        raise ReportError("no metrics to show")
    return tuple(metrics)


def higher_is_better(metric: str) -> bool:
    """True when a higher value of a table metric is better (False only for MAE)."""
    return HIGHER_IS_BETTER.get(metric, HIGHER_IS_BETTER.get(EVALUATION_KEYS.get(metric, metric), True))


def selection_strategy(method: str) -> str | None:
    """The SAM selection strategy of a method name such as ``sam-vit_h+oracle`` (else None)."""
    if not method.lower().startswith("sam") or "+" not in method:
        return None
    return method.split("+", 1)[1]


def is_upper_bound(method: str) -> bool:
    """True for a SAM method whose strategy uses the ground truth (oracle, best-single, inside-gt, box, point)."""
    strategy = selection_strategy(method)
    if strategy is None:
        return False
    return any(strategy == s or strategy.startswith((s + "-", s + "_", s + ":", s + "="))
               for s in UPPER_BOUND_STRATEGIES)


@dataclass
class TableRow:
    """One method in a comparison table.

    Attributes:
        method: stable id (paper id such as ``SCRN``, or the store's method name such as ``ft``).
        values: metric (table name) → value, None where missing.
        source: ``paper``, ``measured`` or ``file``.
        label: what to show (default: ``method``).
        printed: metric → text as printed (paper rows), used for display and export.
        details: provenance: publication/type for paper rows; dataset, split, samis_version, time,
            n_images for measured rows.
        upper_bound: True when the method looks at the ground truth.
        note: a short remark shown with the row.
    """

    method: str
    values: dict[str, float | None]
    source: str = "measured"
    label: str = ""
    printed: dict[str, str] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    upper_bound: bool = False
    note: str = ""

    def __post_init__(self):
        if not self.label:
            self.label = self.method


@dataclass
class GapRow:
    """The gap of one method against the best other row, per metric.

    Attributes:
        method: the row key of the gap method.
        definition: ``larger`` or ``reference``.
        percent: metric → rounded integer percent (None where it cannot be computed).
        exact: metric → unrounded percent.
        against: metric → row keys holding the best other value (ties: all of them).
    """

    method: str
    definition: str
    percent: dict[str, int | None]
    exact: dict[str, float | None]
    against: dict[str, list[str]]

    def label(self) -> str:
        return f"gap: {self.method} vs best other, % ({self.definition})"


def round_half_up(value: Decimal) -> int:
    """Round to the nearest integer, halves away from zero (the paper's percentages)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gap_percent(reference: float, best: float, metric: str, definition: str) -> Decimal | None:
    """Signed percent by which ``best`` is ahead of ``reference`` under a gap definition.

    Args:
        reference: the gap method's value (SAM in the paper).
        best: the best value among the other methods.
        metric: the table metric (sets the direction).
        definition: ``larger`` (divide by the larger of the two) or ``reference`` (divide by ``reference``).

    Returns:
        the percentage as an exact Decimal (positive: the other method is better), or None when the
        denominator is zero.

    Raises:
        ReportError: unknown definition.
    """
    if definition not in GAP_DEFINITIONS:
        raise ReportError(f"unknown gap definition {definition!r} (choose from {', '.join(GAP_DEFINITIONS)})")
    # repr gives the shortest decimal that reads back as the same float: for a printed value, the print
    ref, top = Decimal(repr(float(reference))), Decimal(repr(float(best)))
    denominator = max(ref, top) if definition == "larger" else ref
    if denominator == 0:
        return None
    size = abs(ref - top) / abs(denominator) * 100
    other_is_better = top > ref if higher_is_better(metric) else top < ref
    return size if other_is_better or size == 0 else -size


def _shown(value: float | None, printed: str | None, decimals: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return printed if printed else f"{value:.{decimals}f}"


@dataclass
class ComparisonTable:
    """A built comparison table. Use :func:`build_table` to make one.

    Attributes:
        frame: DataFrame indexed by row key: ``source``, the metric columns (float, NaN = missing),
            ``upper_bound``, ``note``.
        best_mask: boolean DataFrame (same index, metric columns): True where the cell is the column's best.
        gap: the gap row, or None.
    """

    dataset: str
    metrics: tuple[str, ...]
    rows: list[TableRow]
    keys: list[str]
    frame: pd.DataFrame
    best_mask: pd.DataFrame
    gap: GapRow | None
    title: str = ""
    notes: list[str] = field(default_factory=list)
    decimals: int = 3

    # -- cells ---------------------------------------------------------------------------------
    def cell(self, key: str, metric: str) -> str:
        """The text shown for one cell (printed text for paper values, else ``decimals`` places)."""
        row = self.rows[self.keys.index(key)]
        return _shown(row.values.get(metric), row.printed.get(metric), self.decimals)

    def header(self, metric: str, arrow_up: str = "↑", arrow_down: str = "↓") -> str:
        return f"{metric} {arrow_up if higher_is_better(metric) else arrow_down}"

    def _gap_cell(self, metric: str) -> str:
        value = self.gap.percent.get(metric) if self.gap else None
        return "–" if value is None else f"{value}%"

    # -- documents -----------------------------------------------------------------------------
    def to_json_document(self) -> dict:
        """Plain dict: dataset, metrics, rows (values, best marks, provenance), gap, notes."""
        rows = []
        for key, row in zip(self.keys, self.rows):
            entry = {"method": row.method, "label": row.label, "source": row.source}
            entry.update({m: row.values.get(m) for m in self.metrics})
            entry["best"] = [m for m in self.metrics if bool(self.best_mask.at[key, m])]
            entry["upper_bound"] = row.upper_bound
            if row.note:
                entry["note"] = row.note
            entry.update(row.details)
            rows.append(entry)
        gap = None
        if self.gap:
            gap = {"method": self.rows[self.keys.index(self.gap.method)].method, "against": self.gap.against,
                   "definition": self.gap.definition}
            gap.update({m: self.gap.percent.get(m) for m in self.metrics})
            gap["exact"] = {m: self.gap.exact.get(m) for m in self.metrics}
        return {"dataset": self.dataset, "title": self.title, "metrics": list(self.metrics),
                "higher_is_better": {m: higher_is_better(m) for m in self.metrics},
                "rows": rows, "gap": gap, "notes": list(self.notes)}

    def to_csv(self) -> str:
        """CSV text: one line per row (printed text for paper values, full precision otherwise), gap last."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        extra = ("dataset", "split", "samis_version", "time", "n_images", "publication", "type")
        writer.writerow(["method", "label", "source", *self.metrics, "best", "upper_bound", "note", *extra])
        for key, row in zip(self.keys, self.rows):
            values = []
            for m in self.metrics:
                value = row.values.get(m)
                values.append("" if value is None else row.printed.get(m) or repr(float(value)))
            best = ";".join(m for m in self.metrics if bool(self.best_mask.at[key, m]))
            writer.writerow([row.method, row.label, row.source, *values, best, str(row.upper_bound).lower(),
                             row.note, *[row.details.get(k, "") for k in extra]])
        if self.gap:
            writer.writerow([f"gap:{self.gap.method}", self.gap.label(), f"gap-{self.gap.definition}",
                             *["" if self.gap.percent.get(m) is None else self.gap.percent[m] for m in self.metrics],
                             "", "", "", *[""] * len(extra)])
        return buffer.getvalue()

    def to_markdown(self) -> str:
        """A GitHub Markdown table: best values in bold, arrows in the header, gap row last, notes below."""

        def escape(text: str) -> str:
            return text.replace("|", "\\|")

        lines = []
        if self.title:
            lines += [f"**{escape(self.title)}**", ""]
        lines.append("| Method | Source | " + " | ".join(self.header(m) for m in self.metrics) + " |")
        lines.append("|---|---|" + "---:|" * len(self.metrics))
        for key, row in zip(self.keys, self.rows):
            cells = []
            for m in self.metrics:
                text = self.cell(key, m)
                cells.append(f"**{text}**" if self.best_mask.at[key, m] else text)
            name = escape(row.label) + (" †" if row.upper_bound else "")
            lines.append(f"| {name} | {row.source} | " + " | ".join(cells) + " |")
        if self.gap:
            lines.append(f"| *{escape(self.gap.label())}* | | " + " | ".join(self._gap_cell(m) for m in self.metrics) + " |")
        notes = self.footnotes()
        if notes:
            lines.append("")
            lines += [f"- {escape(n)}" for n in notes]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A LaTeX ``table`` with booktabs rules: best values in ``\\textbf``, arrows in the header, gap row last."""
        columns = "ll" + "r" * len(self.metrics)
        caption = self.title or f"Comparison on {self.dataset}"
        if any(row.upper_bound for row in self.rows):
            caption += r". $^\dagger$ upper bound: uses the ground truth"
        lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + latex_escape(caption, keep_math=True) + "}",
                 r"\begin{tabular}{" + columns + "}", r"\toprule",
                 "Method & Source & " + " & ".join(
                     latex_escape(m) + (r" $\uparrow$" if higher_is_better(m) else r" $\downarrow$")
                     for m in self.metrics) + r" \\",
                 r"\midrule"]
        for key, row in zip(self.keys, self.rows):
            cells = []
            for m in self.metrics:
                text = self.cell(key, m)
                text = "--" if text == "–" else text
                cells.append(r"\textbf{" + text + "}" if self.best_mask.at[key, m] else text)
            name = latex_escape(row.label) + (r"$^\dagger$" if row.upper_bound else "")
            lines.append(f"{name} & {latex_escape(row.source)} & " + " & ".join(cells) + r" \\")
        if self.gap:
            lines.append(r"\midrule")
            gap_cells = [self._gap_cell(m).replace("%", r"\%").replace("–", "--") for m in self.metrics]
            lines.append(r"\multicolumn{2}{l}{" + latex_escape(self.gap.label()) + "} & " + " & ".join(gap_cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """A plain aligned table for a terminal: ``*`` marks the best, gap row last, notes below."""
        header = ["method", "source", *[self.header(m) for m in self.metrics]]
        body = []
        for key, row in zip(self.keys, self.rows):
            cells = [self.cell(key, m) + ("*" if self.best_mask.at[key, m] else " ") for m in self.metrics]
            body.append([row.label + (" †" if row.upper_bound else ""), row.source, *cells])
        if self.gap:
            body.append([f"gap: {self.gap.method} vs best", self.gap.definition,
                         *[self._gap_cell(m) + " " for m in self.metrics]])
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def line(cells):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        lines = []
        if self.title:
            lines.append(self.title)
        lines.append(line(header))
        lines.append("  ".join("-" * w for w in widths))
        lines += [line(r) for r in body[: len(self.rows)]]
        if self.gap:
            lines.append("  ".join("-" * w for w in widths))
            lines.append(line(body[-1]))
        lines += ["* best in column (ties all marked)"] + self.footnotes()
        return "\n".join(lines) + "\n"

    def footnotes(self) -> list[str]:
        """The lines shown under the table: notes, the upper-bound mark, the gap definition."""
        notes = list(self.notes)
        if any(row.upper_bound for row in self.rows):
            notes.append("† upper bound: the method looks at the ground truth, so it is not a deployable result")
        if self.gap:
            notes.append(gap_definition_text(self.gap.definition))
        return notes


    _footnotes = footnotes  # the name the dashboard first used


def gap_definition_text(definition: str) -> str:
    """One line saying what a gap definition computes."""
    if definition == "larger":
        return ("gap (larger, the paper's Tables 3-5): |value - best other| / the larger of the two, "
                "in %, rounded half up; positive = the best other method is ahead")
    return ("gap (reference, the paper's Table 6): |value - best other| / the gap method's value, "
            "in %, rounded half up; positive = the best other method is ahead")


def latex_escape(text: str, keep_math: bool = False) -> str:
    """Escape LaTeX special characters; with ``keep_math``, ``$…$`` spans are kept as they are."""
    if keep_math and "$" in text:
        parts = text.split("$")
        return "$".join(p if i % 2 else latex_escape(p) for i, p in enumerate(parts))
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                    "–": "--", "†": r"$^\dagger$"}
    return "".join(replacements.get(ch, ch) for ch in text)


def _row_keys(rows: list[TableRow]) -> list[str]:
    """Unique keys: the label, suffixed with the source where two rows share a label."""
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.label] = seen.get(row.label, 0) + 1
    keys = [row.label if seen[row.label] == 1 else f"{row.label} [{row.source}]" for row in rows]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ReportError(f"method {duplicates[0]!r} appears twice from the same source")
    return keys


def _best_mask(rows: list[TableRow], keys: list[str], metrics, decimals: int) -> pd.DataFrame:
    mask = pd.DataFrame(False, index=keys, columns=list(metrics))
    for m in metrics:
        shown = {}
        for key, row in zip(keys, rows):
            text = _shown(row.values.get(m), row.printed.get(m), decimals)
            if text != "–":
                shown[key] = float(text)
        if not shown:
            continue
        best = max(shown.values()) if higher_is_better(m) else min(shown.values())
        for key, value in shown.items():
            mask.at[key, m] = value == best
    return mask


def _find_row(rows: list[TableRow], keys: list[str], method: str) -> str | None:
    if method in keys:
        return method
    matches = [k for k, r in zip(keys, rows) if r.method == method or r.label == method]
    if len(matches) > 1:
        raise ReportError(f"gap method {method!r} matches several rows ({', '.join(matches)}); name one of them")
    return matches[0] if matches else None


def compute_gap(rows: list[TableRow], keys: list[str], metrics, method_key: str, definition: str) -> GapRow:
    """The gap row of one row against the best of the others, per metric.

    Raises:
        ReportError: unknown definition.
    """
    if definition not in GAP_DEFINITIONS:
        raise ReportError(f"unknown gap definition {definition!r} (choose from {', '.join(GAP_DEFINITIONS)})")
    subject = rows[keys.index(method_key)]
    percent, exact, against = {}, {}, {}
    for m in metrics:
        others = {k: r.values.get(m) for k, r in zip(keys, rows) if k != method_key and r.values.get(m) is not None}
        reference = subject.values.get(m)
        if not others or reference is None:
            percent[m], exact[m], against[m] = None, None, []
            continue
        best = max(others.values()) if higher_is_better(m) else min(others.values())
        against[m] = [k for k, v in others.items() if v == best]
        value = gap_percent(reference, best, m, definition)
        percent[m] = None if value is None else (round_half_up(value) if value >= 0 else -round_half_up(-value))
        exact[m] = None if value is None else float(value)
    return GapRow(method=method_key, definition=definition, percent=percent, exact=exact, against=against)


def build_table(rows: list[TableRow], metrics=TABLE_METRICS, *, gap_method: str | None = "SAM",
                gap_definition: str = "larger", require_gap: bool = False, dataset: str = "",
                title: str = "", notes: list[str] | None = None, decimals: int = 3) -> ComparisonTable:
    """Build a comparison table from rows of any source.

    Args:
        rows: the rows, in display order.
        metrics: table metric names (aliases such as ``maxEm`` accepted).
        gap_method: the row (key, method id or label) to compare with the best of the others; None: no gap row.
        gap_definition: ``larger`` or ``reference`` (see the module docstring).
        require_gap: raise when ``gap_method`` is not in the table (else the gap row is left out, with a note).
        dataset, title, notes: shown with the table.
        decimals: places shown for values that have no printed text; best marks compare shown values.

    Returns:
        the :class:`ComparisonTable`.

    Raises:
        ReportError: fewer than two rows, an unknown metric or gap definition, a duplicate row, or a
            required gap method missing from the table.
    """
    metrics = resolve_metrics(metrics)
    if gap_definition not in GAP_DEFINITIONS:
        raise ReportError(f"unknown gap definition {gap_definition!r} (choose from {', '.join(GAP_DEFINITIONS)})")
    rows = list(rows)
    if len(rows) < 2:
        only = f" (only {rows[0].label!r})" if rows else ""
        raise ReportError(f"a comparison table needs at least two methods; got {len(rows)}{only}")
    keys = _row_keys(rows)
    notes = list(notes or [])
    frame = pd.DataFrame(
        {"source": [r.source for r in rows],
         **{m: [float("nan") if r.values.get(m) is None else float(r.values[m]) for r in rows] for m in metrics},
         "upper_bound": [r.upper_bound for r in rows], "note": [r.note for r in rows]},
        index=pd.Index(keys, name="method"),
    )
    best_mask = _best_mask(rows, keys, metrics, decimals)
    gap = None
    if gap_method:
        key = _find_row(rows, keys, gap_method)
        if key is None and require_gap:
            raise ReportError(f"gap method {gap_method!r} is not in the table (methods: {', '.join(keys)})")
        if key is None:
            notes.append(f"no gap row: the table has no {gap_method!r} row (choose one with --gap-method)")
        else:
            gap = compute_gap(rows, keys, metrics, key, gap_definition)
    return ComparisonTable(dataset=dataset, metrics=metrics, rows=rows, keys=keys, frame=frame,
                           best_mask=best_mask, gap=gap, title=title, notes=notes, decimals=decimals)


# -- rows from each source -------------------------------------------------------------------------

def paper_rows(table, methods: list[str] | None = None) -> list[TableRow]:
    """Rows of a :class:`samis.paper.PaperTable`, optionally only some methods (ids or printed names)."""
    from samis.paper import method_id

    wanted = None if methods is None else {method_id(m) for m in methods}
    rows = []
    for row in table.rows:
        if wanted is not None and row.method not in wanted:
            continue
        is_sam = row.type == "SAM"
        rows.append(TableRow(
            method=row.method, label=row.printed_name if row.printed_name != row.method else row.method,
            values=dict(row.values), source="paper", printed=dict(row.printed),
            details={"table": table.number, "publication": row.publication, "type": row.type},
            upper_bound=is_sam, note=PAPER_SAM_NOTE if is_sam else "",
        ))
    return rows


def measured_rows(scores: dict[str, dict], dataset: str, split: str, *, samis_version: str | None = None,
                  evaluated_at: str | None = None, metrics=None) -> list[TableRow]:
    """Rows from evaluation scores (``EvaluationResult.scores``: method → dict of dataset metrics).

    Args:
        scores: method → score dict with keys such as ``Sa``, ``MAE``, ``maxEm``, ``Fw``, ``maxFm``, ``n_images``.
        dataset, split: where the scores were measured (kept as provenance).
        samis_version, evaluated_at: provenance (default: this samis and now).
        metrics: table metrics to take (default: all known).

    Returns:
        one row per method, ``source="measured"``, upper-bound strategies labelled.
    """
    from samis import __version__

    when = evaluated_at or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    wanted = resolve_metrics(metrics) if metrics else tuple(EVALUATION_KEYS)
    rows = []
    for method, score in scores.items():
        values = {}
        for m in wanted:
            value = score.get(EVALUATION_KEYS[m])
            values[m] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        bound = is_upper_bound(method)
        note = UPPER_BOUND_NOTE if bound else ""
        if "tiny-random" in method:
            note = "test-size SAM with random weights: not SAM's accuracy" + (f"; {note}" if note else "")
        rows.append(TableRow(
            method=method, values=values, source="measured",
            details={"dataset": dataset, "split": split, "samis_version": samis_version or __version__,
                     "time": when, "n_images": score.get("n_images")},
            upper_bound=bound, note=note,
        ))
    return rows


def read_rows_csv(path: str | Path, source: str = "file") -> list[TableRow]:
    """Rows from a user's CSV: a ``method`` column, metric columns, optional ``label``/``source``/``note``.

    ``#`` comment lines at the top are skipped; a dash or an empty cell is missing.

    Raises:
        ReportError: missing file, no ``method`` column, a row with a wrong number of columns, a column
            that is not a known metric, or a cell that is not a number.
    """
    from samis.paper import parse_printed_number, read_commented_csv

    path = Path(path)
    header, records, _ = read_commented_csv(path, ("method",))
    metric_columns = [c for c in header if c not in _ROW_FIELDS]
    for column in metric_columns:
        try:
            resolve_metric(column)
        except ReportError:
            raise ReportError(
                f"{path}: column {column!r} is not a known metric (choose from {', '.join(EVALUATION_KEYS)})"
            ) from None
    rows = []
    for record in records:
        where = f"{path}:{record['_line']}"
        if not record["method"]:
            raise ReportError(f"{where}: the method cell is empty")
        values = {resolve_metric(c): parse_printed_number(record[c], f"{where} ({c})") for c in metric_columns}
        upper = record.get("upper_bound", "").lower() in ("true", "1", "yes") or is_upper_bound(record["method"])
        rows.append(TableRow(method=record["method"], label=record.get("label") or record["method"],
                             values=values, source=record.get("source") or source,
                             upper_bound=upper, note=record.get("note", "") or (UPPER_BOUND_NOTE if upper else "")))
    return rows


# -- the report: paper and measured rows for one dataset -------------------------------------------

def _paper_key(workspace, dataset: str) -> str | None:
    """The paper table for a dataset id: the id itself (sd900, mt, nrsd-mn, mt-7:3) or a registered layout."""
    from samis.paper import PAPER_TABLES

    if dataset.lower() in PAPER_TABLES:
        return dataset.lower()
    entry = workspace.registered_datasets().get(dataset) if workspace is not None else None
    if entry is not None and entry.layout in PAPER_TABLES:
        return entry.layout
    return None


def _measured_target(workspace, dataset: str, split: str | None) -> tuple[str, str] | None:
    """(registered dataset id, split) to evaluate for a report id; ``mt-7:3`` means mt on ``test-7:3``."""
    registered = workspace.registered_datasets() if workspace is not None else {}
    if dataset in registered:
        return dataset, split or "all"
    if dataset.lower() == "mt-7:3":
        mt = [i for i, e in registered.items() if i == "mt"] or [i for i, e in registered.items() if e.layout == "mt"]
        if mt:
            return mt[0], split or "test-7:3"
    return None


def comparison_report(workspace, dataset: str, *, paper: bool | None = None, measured: bool | None = None,
                      methods: list[str] | None = None, split: str | None = None, metrics=TABLE_METRICS,
                      gap_method: str | None = None, gap_definition: str | None = None,
                      extra_rows: list[TableRow] | None = None, allow_missing: bool = False,
                      progress: ProgressCallback | None = None) -> ComparisonTable:
    """The comparison table for one dataset: the paper's rows, rows measured here, or both.

    Args:
        workspace: the samis workspace (registered datasets and predictions), or None for paper rows only.
        dataset: a paper table id (``sd900``, ``mt``, ``nrsd-mn``, ``mt-7:3``) and/or a registered dataset id.
        paper, measured: which rows to include; when neither is given, every source that exists.
        methods: methods to keep (paper ids or printed names, store method names); None = all.
        split: split for measured rows (default ``all``; ``test-7:3`` for ``mt-7:3``).
        metrics: table metrics.
        gap_method: the method compared with the best other (default ``SAM``; an explicit one must exist).
        gap_definition: ``larger`` or ``reference`` (default: the paper table's own, else ``larger``).
        extra_rows: more rows, e.g. from :func:`read_rows_csv`.
        allow_missing: score measured methods on the images they have.
        progress: optional callback for the evaluation (see :func:`samis.evaluation.evaluate`).

    Returns:
        the :class:`ComparisonTable`, with notes saying where every row came from.

    Raises:
        ReportError: no table for the dataset, a requested method found nowhere, bad metric, gap
            method or definition, or fewer than two rows. Errors of the evaluation pass through.
    """
    from samis.paper import GAP_DEFINITIONS as PAPER_GAP_DEFINITIONS
    from samis.paper import load_paper_table, method_id

    metrics = resolve_metrics(metrics)
    paper_key = _paper_key(workspace, dataset)
    target = _measured_target(workspace, dataset, split)
    if paper is None and measured is None:
        paper, measured = paper_key is not None, target is not None
        if not paper and not measured:
            raise ReportError(f"{dataset!r} is neither a paper table (sd900, mt, nrsd-mn, mt-7:3) nor a registered dataset")
    if paper and paper_key is None:
        raise ReportError(f"the paper has no table for {dataset!r} (it has sd900, mt, nrsd-mn and mt-7:3)")
    if measured and target is None:
        raise ReportError(f"dataset {dataset!r} is not registered; add it with: python -m samis datasets add {dataset} PATH")

    rows: list[TableRow] = []
    notes: list[str] = []
    wanted = list(methods) if methods else None
    found: set[str] = set()
    table = None
    if paper:
        table = load_paper_table(paper_key)
        paper_ids = {r.method for r in table.rows}
        pick = None if wanted is None else [m for m in wanted if method_id(m) in paper_ids]
        if pick is None or pick:
            rows += paper_rows(table, pick)
        found.update(m for m in (wanted or []) if method_id(m) in paper_ids)
        notes.append(f"paper rows: Song et al. 2024, {table.caption.split(':')[0]}")
    if measured:
        dataset_id, split_name = target
        available = workspace.prediction_methods(dataset_id)
        pick = None if wanted is None else [m for m in wanted if m in available]
        if pick is None or pick:
            from samis.datasets import load_dataset
            from samis.evaluation import evaluate

            result = evaluate(workspace, load_dataset(workspace, dataset_id), methods=pick, split=split_name,
                              allow_missing=allow_missing, progress=progress)
            new = measured_rows(result.scores, dataset_id, result.split, metrics=metrics)
            rows += new
            found.update(pick or [])
            images = sorted({r.details.get("n_images") for r in new if r.details.get("n_images") is not None})
            notes.append(f"measured rows: dataset {dataset_id!r}, split {result.split!r}"
                         + (f", {'/'.join(str(n) for n in images)} images" if images else ""))
    rows += list(extra_rows or [])
    found.update(r.method for r in extra_rows or [])
    if wanted:
        lost = [m for m in wanted if m not in found]
        if lost:
            places = " or ".join(([f"Table {table.number}"] if table else []) + ([f"the store of {target[0]!r}"] if measured else []))
            raise ReportError(f"method {lost[0]!r} is not in {places or 'the table'}")
    if paper and measured:
        notes.append("paper and measured rows come from different splits and implementations: compare with care")
    if gap_definition is None:
        gap_definition = PAPER_GAP_DEFINITIONS[table.number] if table is not None else "larger"
    title = f"{dataset}: " + (table.caption.split(":", 1)[-1].strip() if table is not None and not measured else "comparison")
    return build_table(rows, metrics, gap_method=gap_method or "SAM", gap_definition=gap_definition,
                       require_gap=gap_method is not None, dataset=dataset, title=title, notes=notes)
