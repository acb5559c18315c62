"""Comparison tables like the paper's: methods × metrics, best marks, a gap row, and exports.

Modules: :mod:`~samis.tables.columns` (metric names and directions), :mod:`~samis.tables.gap` (the gap
row's arithmetic), :mod:`~samis.tables.model` (rows from each source, best marks, :func:`build_table`),
:mod:`~samis.tables.render` (CSV, Markdown, LaTeX, text and JSON writers, shared with the speed table),
:mod:`~samis.tables.report` (the paper's and measured rows of one dataset in one table).
The public names are re-exported here: ``from samis.tables import build_table`` works.
"""

from samis.tables.columns import (
    EVALUATION_KEYS, METRIC_ALIASES, TABLE_METRICS, higher_is_better, resolve_metric, resolve_metrics,
)
from samis.tables.gap import GAP_DEFINITIONS, GapRow, compute_gap, gap_definition_text, gap_percent, round_half_up
from samis.tables.model import (
    PAPER_SAM_NOTE, UPPER_BOUND_NOTE, UPPER_BOUND_STRATEGIES, ComparisonTable, TableRow, build_table,
    is_upper_bound, measured_rows, paper_rows, read_rows_csv, selection_strategy,
)
from samis.tables.render import latex_escape
from samis.tables.report import ComparisonRows, comparison_report, comparison_rows, paper_key

__all__ = [
    "EVALUATION_KEYS", "GAP_DEFINITIONS", "METRIC_ALIASES", "PAPER_SAM_NOTE", "TABLE_METRICS", "UPPER_BOUND_NOTE",
    "UPPER_BOUND_STRATEGIES", "ComparisonRows", "ComparisonTable", "GapRow", "TableRow", "build_table", "comparison_report", "comparison_rows",
    "compute_gap", "gap_definition_text", "gap_percent", "higher_is_better", "is_upper_bound", "latex_escape",
    "measured_rows", "paper_key", "paper_rows", "read_rows_csv", "resolve_metric", "resolve_metrics", "round_half_up",
    "selection_strategy",
]
