"""Writers shared by every table samis prints: CSV, Markdown, LaTeX, aligned text and JSON.

Each writer takes a header and rows of cells that are already text (or, for CSV, plain values) and
knows nothing of what the table means: the comparison table (:mod:`samis.tables.model`) and the
speed table (:mod:`samis.speed.table`) decide their cells, marks and notes, and share the layout.
"""

from __future__ import annotations

import csv
import re
import io
import json

from samis.runs import jsonable


def csv_text(header, rows) -> str:
    """CSV text with ``\\n`` line ends: the header line, then one line per row (values as given)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_escape(text: str) -> str:
    """Text safe inside a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", "\\|")


_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>~#!])")


def markdown_text(text: str) -> str:
    """A name or note shown as written in Markdown: characters that make emphasis, links or HTML escaped."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", text)


def markdown_table(header, alignments: str, rows) -> list[str]:
    """The lines of a GitHub Markdown table.

    Args:
        header: column titles.
        alignments: one letter per column, ``l`` (left) or ``r`` (right).
        rows: cells as plain text; ``|`` in them is escaped, an empty cell is written as one space.

    Returns:
        the header line, the alignment line and one line per row.
    """
    def line(cells) -> str:
        return "|" + "|".join(f" {markdown_escape(c)} " if c else " " for c in cells) + "|"

    rule = "|" + "".join("---:|" if a == "r" else "---|" for a in alignments)
    return [line(header), rule, *(line(r) for r in rows)]


def latex_escape(text: str, keep_math: bool = False) -> str:
    """Escape LaTeX special characters; with ``keep_math``, ``$…$`` spans are kept as they are."""
    if keep_math and "$" in text:
        parts = text.split("$")
        return "$".join(p if i % 2 else latex_escape(p) for i, p in enumerate(parts))
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                    "–": "--", "†": r"$^\dagger$"}
    return "".join(replacements.get(ch, ch) for ch in text)


def latex_table(caption: str, columns: str, header, rows, rules_before=()) -> list[str]:
    """The lines of a LaTeX ``table`` with booktabs rules.

    Args:
        caption: the caption, already LaTeX (escape it with :func:`latex_escape`).
        columns: the tabular column spec, e.g. ``llrrr``.
        header, rows: cells, already LaTeX.
        rules_before: indexes of rows that get a ``\\midrule`` above them.

    Returns:
        the lines from ``\\begin{table}`` to ``\\end{table}``.
    """
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + caption + "}",
             r"\begin{tabular}{" + columns + "}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    for index, row in enumerate(rows):
        if index in rules_before:
            lines.append(r"\midrule")
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return lines


def json_text(document) -> str:
    """A document as indented JSON text with a final newline (NaN and infinities become null; see
    :func:`samis.runs.jsonable`)."""
    return json.dumps(jsonable(document), indent=1) + "\n"
