"""Plain aligned tables for a terminal.

Below :mod:`samis.stats` and :mod:`samis.tables`, which both print such tables.
"""

from __future__ import annotations


def text_table(header, rows, right_columns, rules_before=()) -> list[str]:
    """The lines of a plain aligned table for a terminal, columns two spaces apart.

    Args:
        header: column titles.
        rows: cells as text.
        right_columns: indexes of the right-aligned columns (the others are left-aligned).
        rules_before: indexes of rows that get a dashed rule above them (e.g. a summary row).

    Returns:
        the header line, a dashed rule and the rows.
    """
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right_columns else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "  ".join("-" * w for w in widths)
    lines = [line(header), rule]
    for index, row in enumerate(rows):
        if index in rules_before:
            lines.append(rule)
        lines.append(line(row))
    return lines
