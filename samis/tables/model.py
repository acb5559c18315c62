"""The comparison table: rows from any source, best marks, the gap row, and the table's exports.

Rows come from the paper (:mod:`samis.paper`), from methods measured here (scores of
``samis.evaluation.evaluate``), or from a user's CSV; every row says which (``source``) and measured
rows carry their provenance (dataset, split, samis version, time).

Best marks: per column, the best value (highest, or lowest for MAE) is marked in every row that has
it, ties included. The comparison is made on the values as shown (``decimals`` places, 3 like the
paper), so two cells that look equal are both marked. The gap row is :mod:`samis.tables.gap`'s.

Uncertainty (optional, from a :class:`samis.stats.Bootstrap` of the measured rows): each measured
value carries its interval (``value [lo, hi]`` in text, Markdown and LaTeX; ``M_lo`` / ``M_hi`` in CSV;
``M_ci`` in JSON), the best mark says whether the best is significantly ahead of the runner-up
(``sig.``) or ``tied`` with it, the gap row carries the interval of its percentage, and the footnote
names B, the seed, the interval method and the test.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from samis import __version__
from samis.errors import ReportError
from samis.paper import method_id, parse_printed_number, read_commented_csv
from samis.methods import PAPER_SAM, PAPER_SAM_NOTE, UPPER_BOUND_NOTE, describe, first_sam_method
from samis.tables.columns import (EVALUATION_KEYS, TABLE_METRICS, higher_is_better, metric_label, resolve_metric,
                                  resolve_metrics)
from samis.tables.gap import GapRow, check_gap_definition, compute_gap, gap_definition_text
from samis.tables.render import csv_text, latex_escape, latex_table, markdown_table, markdown_text
from samis.text_table import text_table

#: places shown for values without printed text (as the paper prints them); best marks compare shown values
DECIMALS = 3
#: the three sources, in the order their blocks are shown, and each block's title
SOURCE_TITLES = {"paper": "printed in the paper (its own split and implementations)",
                 "measured": "measured here", "file": "rows from a file (--rows)"}
_ROW_FIELDS = {"method", "label", "source", "note", "upper_bound", "printed_name", "publication", "type",
               "printed_best", "split", "samis_version", "time", "n_images", "dataset"}


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
        reference: a trivial reference map (``ref:zeros``, ``ref:const128``): shown, never marked best.
    """

    method: str
    values: dict[str, float | None]
    source: str = "measured"
    label: str = ""
    printed: dict[str, str] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    upper_bound: bool = False
    note: str = ""
    reference: bool = False

    def __post_init__(self):
        if not self.label:
            self.label = self.method

    @property
    def random_weights(self) -> bool:
        """True when the row's maps come from a model with random weights (never a result)."""
        return describe(self.method).random_weights

    def competes(self, upper_bounds_compete: bool = False) -> bool:
        """Whether the row can take a best mark or be a gap row's "best other": not a reference, not random
        weights, and not an upper bound unless ``upper_bounds_compete``."""
        return not (self.reference or self.random_weights or (self.upper_bound and not upper_bounds_compete))

    def shown_label(self) -> str:
        """The label as every table shows it: † for an upper bound, what a reference or random-weights row is."""
        tags = (" (reference)" if self.reference else "") + (" (random weights)" if self.random_weights else "")
        return self.label + (" †" if self.upper_bound else "") + tags


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
    decimals: int = DECIMALS
    #: row key → metric → (lo, hi): the bootstrap intervals of measured rows (empty: no uncertainty)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    #: metric → ``sig.`` (best significantly ahead of the runner-up) or ``tied``; absent: not decidable
    verdicts: dict[str, str] = field(default_factory=dict)
    #: metric → (lo, hi) of the gap row's percentage
    gap_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the footnote of the intervals (B, seed, method, test); empty: no uncertainty
    uncertainty: str = ""
    #: every block's gap row (``GapRow.source`` names the block); :attr:`gap` is the requested one's
    gaps: list[GapRow] = field(default_factory=list)
    #: whether upper bounds (†) take part in best marks
    upper_bounds_compete: bool = False
    #: the row key the gap row was asked for (None: asked for a row that is not here; "": no gap rows)
    gap_key: str | None = ""
    gap_definition: str = "larger"

    def rank(self, upper_bounds_compete: bool = False) -> None:
        """(Re)draw the best marks and the gap rows, per block, in place.

        Args:
            upper_bounds_compete: upper bounds (†) take part in best marks and in each gap row's "best other".
        """
        self.upper_bounds_compete = upper_bounds_compete
        self.best_mask = _best_mask(self.rows, self.keys, self.metrics, self.decimals, upper_bounds_compete)
        self.gaps, self.gap = [], None
        if self.gap_key == "":
            return
        self.gaps = _block_gaps(self.rows, self.keys, self.metrics, self.gap_key, self.gap_definition,
                                upper_bounds_compete)
        self.gap = next((g for g in self.gaps if g.method == self.gap_key),
                        self.gaps[0] if self.gaps and self.gap_key is not None else None)

    def blocks(self) -> list[tuple[str, list[str]]]:
        """(source, row keys) per block, in order: each source is ranked on its own, never with another."""
        found: dict[str, list[str]] = {}
        for key, row in zip(self.keys, self.rows):
            found.setdefault(row.source, []).append(key)
        return list(found.items())

    def block_gap(self, source: str) -> GapRow | None:
        """The gap row of one block, or None."""
        return next((g for g in self.gaps if g.source == source), None)

    def block_title(self, source: str) -> str:
        """What a block's rows are: ``measured here``, ``printed in the paper …``."""
        return SOURCE_TITLES.get(source, f"source {source}")

    # -- cells ---------------------------------------------------------------------------------
    def cell(self, key: str, metric: str) -> str:
        """The text shown for one cell (printed text for paper values, else ``decimals`` places)."""
        row = self.rows[self.keys.index(key)]
        return _shown(row.values.get(metric), row.printed.get(metric), self.decimals)

    def interval(self, key: str, metric: str) -> tuple[float, float] | None:
        """The bootstrap interval of one cell, or None."""
        return self.intervals.get(key, {}).get(metric)

    def cell_ci(self, key: str, metric: str) -> str:
        """The cell's text with its interval: ``0.812 [0.801, 0.822]`` (just the value when there is none)."""
        text = self.cell(key, metric)
        bounds = self.interval(key, metric)
        if bounds is None or text == "–":
            return text
        return f"{text} [{bounds[0]:.{self.decimals}f}, {bounds[1]:.{self.decimals}f}]"

    def verdict(self, key: str, metric: str) -> str:
        """`` (sig.)`` / `` (tied)`` after a best cell when the intervals decide it, else empty."""
        if not bool(self.best_mask.at[key, metric]) or metric not in self.verdicts:
            return ""
        if self.rows[self.keys.index(key)].source != "measured":
            return ""  # the intervals are of the measured block only
        return f" ({self.verdicts[metric]})"

    def header(self, metric: str, arrow_up: str = "↑", arrow_down: str = "↓") -> str:
        """A column's title: the metric's label, which names an F's threshold (``Fm@max ↑``), and its arrow."""
        return f"{metric_label(metric)} {arrow_up if higher_is_better(metric) else arrow_down}"

    def gap_cell(self, metric: str, gap: GapRow | None = None) -> str:
        """A gap row's text of one metric (default: :attr:`gap`): ``25%``, with its interval ``25% [18, 31]``
        when there is one."""
        return self._gap_cell(metric, gap)

    def _gap_cell(self, metric: str, gap: GapRow | None = None) -> str:
        gap = gap or self.gap
        value = gap.percent.get(metric) if gap else None
        if value is None:
            return "–"
        bounds = self.gap_intervals.get(metric) if gap is self.gap else None
        return f"{value}%" + ("" if bounds is None else f" [{bounds[0]:.0f}, {bounds[1]:.0f}]")

    def ordered_rows(self):
        """(key, row) per row, then ("gap", GapRow) after each block that has one: the order every export uses."""
        for source, keys in self.blocks():
            for key in keys:
                yield key, self.rows[self.keys.index(key)]
            gap = self.block_gap(source)
            if gap is not None:
                yield "gap", gap

    def _marked_cells(self, key: str, mark) -> list[str]:
        """One row's metric cells (with intervals), ``mark(text)`` applied where the cell is the column's best."""
        return [mark(self.cell_ci(key, m)) + self.verdict(key, m) if self.best_mask.at[key, m] else self.cell_ci(key, m)
                for m in self.metrics]

    # -- documents -----------------------------------------------------------------------------
    def _gap_document(self, gap: GapRow) -> dict:
        entry = {"method": self.rows[self.keys.index(gap.method)].method, "source": gap.source,
                 "against": gap.against, "definition": gap.definition}
        entry.update({m: gap.percent.get(m) for m in self.metrics})
        entry["exact"] = {m: gap.exact.get(m) for m in self.metrics}
        if gap is self.gap and self.gap_intervals:
            entry["ci"] = {m: list(v) for m, v in self.gap_intervals.items()}
        return entry

    def to_json_document(self) -> dict:
        """Plain dict: dataset, metrics, rows (values, best marks, provenance), gap rows, notes."""
        rows = []
        for key, row in zip(self.keys, self.rows):
            entry = {"method": row.method, "label": row.label, "source": row.source}
            for m in self.metrics:
                entry[m] = row.values.get(m)
                if self.interval(key, m) is not None:
                    entry[f"{m}_ci"] = list(self.interval(key, m))
            entry["best"] = [m for m in self.metrics if bool(self.best_mask.at[key, m])]
            entry["upper_bound"] = row.upper_bound
            entry["reference"] = row.reference
            entry["random_weights"] = row.random_weights
            if row.note:
                entry["note"] = row.note
            entry.update(row.details)
            rows.append(entry)
        document = {"dataset": self.dataset, "title": self.title, "metrics": list(self.metrics),
                    "higher_is_better": {m: higher_is_better(m) for m in self.metrics},
                    "rows": rows, "gap": self._gap_document(self.gap) if self.gap else None,
                    "gaps": [self._gap_document(g) for g in self.gaps],
                    "upper_bounds_compete": self.upper_bounds_compete, "notes": list(self.notes)}
        if self.uncertainty:
            document["uncertainty"] = {"description": self.uncertainty, "best": dict(self.verdicts)}
        return document

    def to_csv(self) -> str:
        """CSV text: one line per row (printed text for paper values, full precision otherwise), each block's
        gap row after the block."""
        extra = ("dataset", "split", "samis_version", "time", "n_images", "publication", "type")
        with_ci = bool(self.intervals)
        columns = [c for m in self.metrics for c in ((m, f"{m}_lo", f"{m}_hi") if with_ci else (m,))]
        header = ["method", "label", "source", *columns, "best", "upper_bound", "note", *extra]
        lines = []
        for key, row in self.ordered_rows():
            if key == "gap":
                lines.append(self._csv_gap_line(row, with_ci, len(extra)))
                continue
            values = []
            for m in self.metrics:
                value = row.values.get(m)
                values.append("" if value is None else row.printed.get(m) or repr(float(value)))
                if with_ci:
                    bounds = self.interval(key, m)
                    values += ["", ""] if bounds is None else [repr(bounds[0]), repr(bounds[1])]
            # with intervals, a best cell says whether it is significantly ahead: "Sa:sig.;MAE:tied"
            best = ";".join(m + (f":{self.verdicts[m]}" if m in self.verdicts else "")
                            for m in self.metrics if bool(self.best_mask.at[key, m]))
            lines.append([row.method, row.label, row.source, *values, best, str(row.upper_bound).lower(),
                          row.note, *[row.details.get(k, "") for k in extra]])
        return csv_text(header, lines)

    def _csv_gap_line(self, gap: GapRow, with_ci: bool, n_extra: int) -> list:
        values = []
        for m in self.metrics:
            values.append("" if gap.percent.get(m) is None else gap.percent[m])
            if with_ci:
                bounds = self.gap_intervals.get(m) if gap is self.gap else None
                values += ["", ""] if bounds is None else [repr(bounds[0]), repr(bounds[1])]
        return [f"gap:{gap.method}", gap.label(), f"gap-{gap.definition}", *values, "", "", gap.source,
                *[""] * n_extra]

    def to_markdown(self) -> str:
        """A GitHub Markdown table: best values in bold (per block), arrows in the header, each block's gap row
        after it, notes below."""
        body = []
        for key, row in self.ordered_rows():
            if key == "gap":
                body.append([f"*{markdown_text(row.label())}*", "", *(self._gap_cell(m, row) for m in self.metrics)])
            else:
                body.append([markdown_text(row.shown_label()), markdown_text(row.source),
                             *self._marked_cells(key, lambda text: f"**{text}**")])
        lines = [f"**{markdown_text(self.title)}**", ""] if self.title else []
        lines += markdown_table(["Method", "Source", *(self.header(m) for m in self.metrics)],
                                "ll" + "r" * len(self.metrics), body)
        notes = self.footnotes()
        if notes:
            lines.append("")
            lines += [f"- {markdown_text(n)}" for n in notes]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A LaTeX ``table`` with booktabs rules: best values (per block) in ``\\textbf``, arrows in the header,
        a rule between blocks, each block's gap row after it."""
        caption = self.title or f"Comparison on {self.dataset}"
        if any(row.upper_bound for row in self.rows):
            caption += r". $^\dagger$ upper bound: uses the ground truth"
        if self.uncertainty:
            caption += ". " + self.uncertainty  # escaped with the whole caption below
        header = ["Method", "Source", *(latex_escape(metric_label(m)) + (r" $\uparrow$" if higher_is_better(m) else r" $\downarrow$")
                                        for m in self.metrics)]
        body, rules, previous = [], set(), None
        for key, row in self.ordered_rows():
            if key == "gap":
                rules.add(len(body))
                body.append([r"\multicolumn{2}{l}{" + latex_escape(row.label()) + "}",
                             *(self._gap_cell(m, row).replace("%", r"\%").replace("–", "--") for m in self.metrics)])
                continue
            if previous is not None and row.source != previous:
                rules.add(len(body))
            previous = row.source
            cells = ["--" if text == "–" else text for text in (self.cell_ci(key, m) for m in self.metrics)]
            cells = [r"\textbf{" + text + "}" + self.verdict(key, m) if self.best_mask.at[key, m] else text
                     for text, m in zip(cells, self.metrics)]
            tags = (" (reference)" if row.reference else "") + (" (random weights)" if row.random_weights else "")
            body.append([latex_escape(row.label) + (r"$^\dagger$" if row.upper_bound else "") + latex_escape(tags),
                         latex_escape(row.source), *cells])
        lines = latex_table(latex_escape(caption, keep_math=True), "ll" + "r" * len(self.metrics), header, body,
                            rules_before=rules)
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """A plain aligned table for a terminal: ``*`` marks the best per block, each block's gap row after it."""
        header = ["method", "source", *[self.header(m) for m in self.metrics]]
        body, rules, previous = [], set(), None
        for key, row in self.ordered_rows():
            if key == "gap":
                rules.add(len(body))
                body.append([f"gap: {row.method} vs best other", row.definition,
                             *[self._gap_cell(m, row) + " " for m in self.metrics]])
                continue
            if previous is not None and row.source != previous:
                rules.add(len(body))
            previous = row.source
            cells = [self.cell_ci(key, m) + ("*" + self.verdict(key, m) if self.best_mask.at[key, m] else " ")
                     for m in self.metrics]
            body.append([row.shown_label(), row.source, *cells])
        lines = [self.title] if self.title else []
        lines += text_table(header, body, right_columns=range(2, len(header)), rules_before=rules)
        lines += ["* best in column within its source (ties all marked)"] + self.footnotes()
        return "\n".join(lines) + "\n"

    def footnotes(self) -> list[str]:
        """The lines shown under the table: notes, the upper-bound mark, the gap definition."""
        notes = list(self.notes)
        if any(row.upper_bound for row in self.rows):
            notes.append("† upper bound: the method looks at the ground truth, so it is not a deployable result")
        if self.gap:
            notes.append(gap_definition_text(self.gap.definition))
        if self.uncertainty:
            notes.append(self.uncertainty)
        return notes


def row_keys(rows: list[TableRow]) -> list[str]:
    """Unique keys: the label, suffixed with the source where two rows share a label."""
    seen: dict[str, int] = {}
    for row in rows:
        seen[row.label] = seen.get(row.label, 0) + 1
    keys = [row.label if seen[row.label] == 1 else f"{row.label} [{row.source}]" for row in rows]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ReportError(f"method {duplicates[0]!r} appears twice from the same source")
    return keys


def _best_mask(rows: list[TableRow], keys: list[str], metrics, decimals: int,
               upper_bounds_compete: bool = False) -> pd.DataFrame:
    """Best marks: per column and per source (a block is never ranked with another), among the rows that
    compete (:meth:`TableRow.competes`); ties all marked."""
    mask = pd.DataFrame(False, index=keys, columns=list(metrics))
    for source in dict.fromkeys(r.source for r in rows):
        block = [(k, r) for k, r in zip(keys, rows) if r.source == source and r.competes(upper_bounds_compete)]
        for m in metrics:
            shown = {}
            for key, row in block:
                text = _shown(row.values.get(m), row.printed.get(m), decimals)
                if text != "–":
                    shown[key] = float(text)
            if not shown:
                continue
            best = max(shown.values()) if higher_is_better(m) else min(shown.values())
            for key, value in shown.items():
                mask.at[key, m] = value == best
    return mask


def _block_gaps(rows: list[TableRow], keys: list[str], metrics, chosen: str | None, definition: str,
                upper_bounds_compete: bool) -> list[GapRow]:
    """One gap row per block: the chosen row's block compares the chosen row; the paper's block its own SAM
    row; another block its first SAM method with real weights. The best other is taken among the rows of
    the same block that compete."""
    gaps = []
    for source in dict.fromkeys(r.source for r in rows):
        block = [(k, r) for k, r in zip(keys, rows) if r.source == source]
        block_keys = [k for k, _ in block]
        if chosen in block_keys:
            subject = chosen
        else:
            candidates = [r.method for _, r in block if not r.reference and not r.random_weights]
            method = PAPER_SAM if source == "paper" and PAPER_SAM in candidates else first_sam_method(candidates)
            subject = next((k for k, r in block if r.method == method), None)
        if subject is None:
            continue
        kept = [(k, r) for k, r in block if k == subject or r.competes(upper_bounds_compete)]
        gap = compute_gap([r for _, r in kept], [k for k, _ in kept], metrics, subject, definition)
        gap.source = source
        if subject == chosen or any(v is not None for v in gap.percent.values()):
            gaps.append(gap)  # a block with nothing to compare its SAM row with gets no empty gap row
    return gaps


def _find_row(rows: list[TableRow], keys: list[str], method: str) -> str | None:
    if method in keys:
        return method
    matches = [k for k, r in zip(keys, rows) if r.method == method or r.label == method]
    if len(matches) > 1:
        raise ReportError(f"gap method {method!r} matches several rows ({', '.join(matches)}); name one of them")
    return matches[0] if matches else None


def build_table(rows: list[TableRow], metrics=TABLE_METRICS, *, gap_method: str | None = "SAM",
                gap_definition: str = "larger", require_gap: bool = False, dataset: str = "",
                title: str = "", notes: list[str] | None = None) -> ComparisonTable:
    """Build a comparison table from rows of any source, each source a block ranked on its own.

    Args:
        rows: the rows; shown grouped by source (paper, measured, file), in order within a source.
        metrics: table metric names (aliases such as ``maxEm`` accepted).
        gap_method: the row (key, method id or label) to compare with the best of the others in its block;
            the other blocks get their own gap row (the paper's: its SAM row); None: no gap rows.
        gap_definition: ``larger`` or ``reference`` (see :mod:`samis.tables.gap`).
        require_gap: raise when ``gap_method`` is not in the table (else the gap row is left out, with a note).
        dataset, title, notes: shown with the table.

    Returns:
        the :class:`ComparisonTable`: point values; :func:`add_uncertainty` adds intervals. Values without
        printed text show :data:`DECIMALS` places, and best marks compare the shown values, per block;
        reference rows, random-weights rows and upper bounds are never marked (:meth:`ComparisonTable.rank`
        lets upper bounds take part).

    Raises:
        ReportError: fewer than two rows, an unknown metric or gap definition, a duplicate row, or a
            required gap method missing from the table.
    """
    metrics = resolve_metrics(metrics)
    check_gap_definition(gap_definition)
    order = list(dict.fromkeys(r.source for r in rows))
    rows = sorted(rows, key=lambda r: order.index(r.source))  # stable: each source's rows stay in order
    if len(rows) < 2:
        only = f" (only {rows[0].label!r})" if rows else ""
        raise ReportError(f"a comparison table needs at least two methods; got {len(rows)}{only}")
    keys = row_keys(rows)
    notes = list(notes or [])
    frame = pd.DataFrame(
        {"source": [r.source for r in rows],
         **{m: [float("nan") if r.values.get(m) is None else float(r.values[m]) for r in rows] for m in metrics},
         "upper_bound": [r.upper_bound for r in rows], "note": [r.note for r in rows]},
        index=pd.Index(keys, name="method"),
    )
    key = None
    if gap_method:
        key = _find_row(rows, keys, gap_method)
        if key is None and require_gap:
            raise ReportError(f"gap method {gap_method!r} is not in the table (methods: {', '.join(keys)})")
        if key is None:
            notes.append(f"no gap row for {gap_method!r}: the table has no such row (choose one with --gap-method)")
    table = ComparisonTable(dataset=dataset, metrics=metrics, rows=rows, keys=keys, frame=frame,
                            best_mask=pd.DataFrame(), gap=None, title=title, notes=notes, decimals=DECIMALS,
                            gap_key=key if gap_method else "", gap_definition=gap_definition)
    table.rank(upper_bounds_compete=False)
    return table


def add_uncertainty(table: ComparisonTable, boot) -> None:
    """Add intervals, best-mark verdicts and the gap row's interval to ``table``, in place.

    Args:
        table: from :func:`build_table`.
        boot: a :class:`samis.stats.Bootstrap` of the evaluation behind the table's measured rows.

    Raises:
        ReportError: the table has no row measured in ``boot``.
    """
    measured = {key: row.method for key, row in zip(table.keys, table.rows)
                if row.source == "measured" and row.method in boot.methods}
    if not measured:
        raise ReportError("intervals need rows measured here (--measured); this table has none")
    stat = {m: EVALUATION_KEYS[m] for m in table.metrics if EVALUATION_KEYS[m] in boot.metrics}
    found = boot.intervals()
    table.intervals = {key: {m: found[method][k] for m, k in stat.items()} for key, method in measured.items()}
    competing = {key for key, row in zip(table.keys, table.rows)
                 if row.source == "measured" and row.competes(table.upper_bounds_compete)}
    for m, k in stat.items():
        # the measured block is ranked on its own: its best against its runner-up
        shown = {key: float(table.cell(key, m)) for key in table.keys if key in competing and table.cell(key, m) != "–"}
        best = [key for key in shown if table.best_mask.at[key, m]]
        others = {key: v for key, v in shown.items() if key not in best}
        if len(best) > 1:
            table.verdicts[m] = "tied"
        elif best and others and best[0] in measured:
            top = max(others.values()) if higher_is_better(m) else min(others.values())
            runners = [key for key, v in others.items() if v == top]
            if all(key in measured for key in runners):
                ahead = all(boot.ahead(measured[best[0]], measured[key], k) for key in runners)
                table.verdicts[m] = "sig." if ahead else "tied"
        if table.gap and table.gap.method in measured and len(table.gap.against.get(m) or []) == 1:
            against = table.gap.against[m][0]
            if against in measured:
                bounds = boot.gap_interval(measured[table.gap.method], measured[against], k, table.gap.definition)
                if bounds is not None:
                    table.gap_intervals[m] = bounds
    table.uncertainty = boot.description()
    table.notes = table.notes + list(boot.notes)


# -- rows from each source -------------------------------------------------------------------------

def paper_rows(table, methods: list[str] | None = None) -> list[TableRow]:
    """Rows of a :class:`samis.paper.PaperTable`, optionally only some methods (ids or printed names)."""
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
    when = evaluated_at or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    wanted = resolve_metrics(metrics) if metrics else tuple(EVALUATION_KEYS)
    rows = []
    for method, score in scores.items():
        values = {}
        for m in wanted:
            value = score.get(EVALUATION_KEYS[m])
            values[m] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        info = describe(method)
        rows.append(TableRow(
            method=method, values=values, source="measured",
            details={"dataset": dataset, "split": split, "samis_version": samis_version or __version__,
                     "time": when, "n_images": score.get("n_images")},
            upper_bound=info.upper_bound, note=info.note,
        ))
    return rows


def read_rows_csv(path: str | Path, source: str = "file") -> list[TableRow]:
    """Rows from a user's CSV: a ``method`` column, metric columns, optional ``label``/``source``/``note``.

    ``#`` comment lines at the top are skipped; a dash or an empty cell is missing.

    Raises:
        ReportError: missing file, no ``method`` column, a row with a wrong number of columns, a column
            that is not a known metric, or a cell that is not a number.
    """
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
        upper = record.get("upper_bound", "").lower() in ("true", "1", "yes") or describe(record["method"]).upper_bound
        rows.append(TableRow(method=record["method"], label=record.get("label") or record["method"],
                             values=values, source=record.get("source") or source,
                             upper_bound=upper, note=record.get("note", "") or (UPPER_BOUND_NOTE if upper else "")))
    return rows
