"""Small helpers shared by the CLI command modules (output formats, comma lists)."""

from __future__ import annotations

import sys

from samis.tables.render import json_text


def comma_list(text: str | None) -> list[str] | None:
    """``"a,b , c"`` → ``["a", "b", "c"]``; None or empty → None."""
    if not text:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def print_json(document) -> None:
    """Print a document as JSON (NaN becomes null, numpy scalars plain numbers)."""
    sys.stdout.write(json_text(document))


def write_table(table, fmt: str) -> None:
    """Print a table object (``samis.tables.ComparisonTable`` or a speed table) in the chosen format."""
    writers = {"json": lambda: print_json(table.to_json_document()), "csv": lambda: sys.stdout.write(table.to_csv()),
               "markdown": lambda: sys.stdout.write(table.to_markdown()),
               "latex": lambda: sys.stdout.write(table.to_latex())}
    writers.get(fmt, lambda: sys.stdout.write(table.to_text()))()


def build_demo_if_empty(workspace) -> None:
    """Build the synthetic demo study when the workspace has no dataset yet (one note on stderr)."""
    if workspace.registered_datasets():
        return
    from samis.demo import ensure_demo

    print(f"note: no dataset registered in {workspace.root}; building the synthetic demo dataset "
          "and its baselines (about 10 s; add real data with 'datasets add')", file=sys.stderr)
    ensure_demo(workspace)
