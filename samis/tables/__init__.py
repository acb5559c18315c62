"""Comparison tables like the paper's: methods × metrics, best marks, a gap row, and exports.

Modules: :mod:`~samis.tables.columns` (metric names and directions), :mod:`~samis.tables.gap` (the gap
row's arithmetic), :mod:`~samis.tables.model` (rows from each source, best marks, :func:`build_table`),
:mod:`~samis.tables.render` (CSV, Markdown, LaTeX, text and JSON writers, shared with the speed table),
:mod:`~samis.tables.report` (the paper's and measured rows of one dataset in one table).

The public names are re-exported here (``from samis.tables import build_table`` works), each loaded on
first use: the table model needs pandas and the report the evaluation, and a CLI command that only
wants the column names or a writer should not pay for them (pandas alone takes 0.3–0.4 s to import).
"""

from __future__ import annotations

import importlib

#: public name → the module that defines it
_EXPORTS = {
    **dict.fromkeys(("EVALUATION_KEYS", "METRIC_ALIASES", "TABLE_METRICS", "higher_is_better", "resolve_metric",
                     "resolve_metrics"), "samis.tables.columns"),
    **dict.fromkeys(("GAP_DEFINITIONS", "GapRow", "compute_gap", "gap_definition_text", "gap_percent",
                     "round_half_up"), "samis.tables.gap"),
    **dict.fromkeys(("ComparisonTable", "DECIMALS", "TableRow", "add_uncertainty", "build_table", "measured_rows", "paper_rows", "read_rows_csv",
                     "row_keys"), "samis.tables.model"),
    "latex_escape": "samis.tables.render",
    **dict.fromkeys(("ComparisonQuery", "ComparisonRows", "comparison_report", "comparison_rows", "comparison_rows_of",
                     "paper_key"), "samis.tables.report"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Load a re-exported name from its module on first use (PEP 562).

    Raises:
        AttributeError: not a public name of samis.tables.
    """
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
