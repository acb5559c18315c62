"""One self-contained HTML file of a view: tables, interactive curves, pictures and where it came from.

The file opens offline in any browser: plotly.js is embedded once in the head, every picture is a
``data:`` URI, and a Content-Security-Policy forbids the page to fetch anything. Everything a user
named (dataset, method, image and class names, notes, links) is escaped with :func:`html.escape`, so it
is shown as text and never read as markup.

Build a report from sections, one function per kind of content, then write it::

    sections = comparison_sections(table, evaluation, colors)
    write_html_report("report.html", "sd900 / test", sections, Provenance("sd900", "test", "/compare?dataset=sd900"))

- :func:`comparison_section`, :func:`uncertainty_section`, :func:`per_class_section`, :func:`curves_section`:
  the Compare view (:func:`comparison_sections` makes them from a table, its evaluation and its bootstrap:
  intervals, sig./tied marks, the significance matrix and the rank stability, as the page shows them);
- :func:`grid_section`: a qualitative grid (PNG) and the images and methods it shows;
- :func:`cases_section`, :func:`image_cells_section`: the filtered cases and one image's cells.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence
from urllib.parse import urlencode

from samis import __version__
from samis.tables.columns import higher_is_better
from samis.outputs import write_output

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from samis.evaluation import EvaluationResult
    from samis.tables.model import ComparisonTable

MISSING = "–"

#: the page may load nothing: pictures are data: URIs, styles are inline (plotly.js sets styles as it draws),
#: and the only scripts that run are the page's own inline ones, each allowed by its SHA-256 ({scripts} is
#: filled in by :func:`content_security_policy`); no 'unsafe-inline' and no 'unsafe-eval' for scripts:
#: plotly.js draws without eval (checked in headless Chromium by tests/browser/test_html_offline.py)
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                           "script-src {scripts}; font-src data:")
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def content_security_policy(scripts: Sequence[str]) -> str:
    """The policy for a page whose only scripts are ``scripts`` (the text of each inline ``<script>``).

    Each is allowed by its SHA-256; a page without scripts gets ``script-src 'none'``. Anything else
    (a script that found its way into a section's markup, an event handler attribute, ``eval``) is
    blocked by the browser.
    """
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"
                     for body in scripts})
    return CONTENT_SECURITY_POLICY.format(scripts=" ".join(hashes) or "'none'")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; }
.ci { color: #555; font-weight: normal; white-space: nowrap; } .verdict { font-size: .8em; color: #333; }
tr.gap td { font-style: italic; border-top: 2px solid #888; }
.note, figcaption, footer { color: #555; font-size: .85em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; } .charts > div { flex: 1 1 600px; min-width: 0; }
.cells { display: flex; flex-wrap: wrap; gap: .5em; } .cells figure { margin: 0; max-width: 220px; }
.cells img { max-width: 220px; } img.grid { max-width: 100%; }
footer { margin-top: 3em; border-top: 1px solid #ddd; padding-top: .5em; }
"""


@dataclass(frozen=True)
class HtmlSection:
    """One part of a report.

    Attributes:
        title: the section's heading (plain text; escaped when written).
        body: HTML made by this module's section functions (user text already escaped).
        plotly: True when the body draws plotly charts (the document then embeds plotly.js once).
        scripts: the text of each inline ``<script>`` the section function itself wrote into ``body``;
            the page's policy allows these (by hash) and no other.
    """

    title: str
    body: str
    plotly: bool = False
    scripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Where a report came from, written in its footer.

    Attributes:
        dataset, split: what the view shows.
        link: the dashboard link that reproduces the view (an absolute http(s) URL becomes a link;
            a relative one, such as the CLI's ``/compare?dataset=…``, is shown as text).
        view: the dashboard page or command that made the report.
        samis_version, time: filled in when not given (time in UTC, ISO 8601).
    """

    dataset: str
    split: str
    link: str = ""
    view: str = ""
    samis_version: str = __version__
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


# ---- small pieces ------------------------------------------------------------------------------------
def text(value: object) -> str:
    """Any value as escaped HTML text (quotes included, so it is safe in attributes too)."""
    return escape(str(value), quote=True)


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,…`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, css_class: str = "") -> str:
    klass = f' class="{css_class}"' if css_class else ""
    return f'<img{klass} src="{png_data_uri(png)}" alt="{text(alt)}">'


def _number(value, decimals: int = 3, missing: str = MISSING) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, (bool, str)):
        return str(value)
    try:
        return f"{float(value):.{decimals}f}"
    except (TypeError, ValueError):
        return str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _notes(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    return '<ul class="note">' + "".join(f"<li>{text(line)}</li>" for line in lines) + "</ul>"


def frame_table(frame: "pd.DataFrame", *, index_name: str | None = None, best: "pd.DataFrame | None" = None,
                decimals: int = 3, missing: str = MISSING) -> str:
    """A DataFrame as an HTML table: index first, numbers right-aligned with ``decimals`` places.

    Args:
        frame: the table (index and column names and every cell are shown as escaped text).
        index_name: the first column's heading (default: the index's name, else empty).
        best: optional boolean frame (same index, some of the columns): True cells are bold.
        missing: shown for NaN / None.
    """
    name = index_name if index_name is not None else (frame.index.name or "")
    head = f"<th>{text(name)}</th>" + "".join(
        f'<th class="{"number" if frame[c].dtype.kind in "fiu" else "text"}">{text(c)}</th>' for c in frame.columns)
    body = []
    for key, row in frame.iterrows():
        cells = [f"<td>{text(key)}</td>"]
        for column, value in row.items():
            marked = best is not None and column in best.columns and bool(best.at[key, column])
            if _is_number(value) or value is None:
                klass = "number best" if marked else "number"
                cells.append(f'<td class="{klass}">{text(_number(value, decimals, missing))}</td>')
            else:
                cells.append(f"<td>{text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---- sections ---------------------------------------------------------------------------------------
def _comparison_cell(table: "ComparisonTable", key: str, metric: str) -> str:
    """One measured or printed cell: the value, its interval (``[lo, hi]``) and the best mark's verdict."""
    best = bool(table.best_mask.at[key, metric])
    value = table.cell(key, metric)
    markup = text(value)
    bounds = table.interval(key, metric)
    if bounds is not None and value != MISSING:
        low, high = (f"{b:.{table.decimals}f}" for b in bounds)
        markup += f' <span class="ci">[{text(low)}, {text(high)}]</span>'
    verdict = table.verdict(key, metric).strip(" ()")
    if best and verdict:
        markup += f' <span class="verdict">{text(verdict)}</span>'
    return f'<td class="{"number best" if best else "number"}">{markup}</td>'


def comparison_section(table: "ComparisonTable", title: str | None = None) -> HtmlSection:
    """The comparison table as the page shows it: best value per column in bold, each measured cell's
    interval and the best mark's ``sig.`` / ``tied`` when the table has uncertainty, † upper bounds, each
    source's gap row after its block (the requested one with its interval), notes below."""
    head = "<th>Method</th><th>Source</th>" + "".join(
        f'<th class="number">{text(m)} {"↑" if higher_is_better(m) else "↓"}</th>' for m in table.metrics)
    body = []
    for key, row in table.ordered_rows():  # each source's block, then its own gap row
        if key == "gap":
            cells = [f'<td colspan="2">{text(row.label())}</td>']
            cells += [f'<td class="number">{text(table.gap_cell(m, row))}</td>' for m in table.metrics]
            body.append('<tr class="gap">' + "".join(cells) + "</tr>")
            continue
        label = row.label + (" †" if row.upper_bound else "")
        note = f' <span class="note">({text(row.note)})</span>' if row.note else ""
        cells = [f"<td>{text(label)}{note}</td>", f"<td>{text(row.source)}</td>"]
        cells += [_comparison_cell(table, key, metric) for metric in table.metrics]
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = ["bold: best in column (ties all marked); arrows give the better direction", *table.footnotes()]
    markup = (f'<table class="comparison"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
              + _notes(notes))
    return HtmlSection(title if title is not None else (table.title or f"Comparison on {table.dataset}"), markup)


def uncertainty_section(boot, metric: str, colors: Mapping[str, str] | None = None) -> HtmlSection:
    """The significance matrix and the rank stability of one metric, as the Compare page draws them.

    Args:
        boot: a :class:`samis.stats.Bootstrap`.
        metric: one of ``boot.metrics`` (another name falls back to the first of them).
        colors: method → colour (:func:`samis.colors.method_colors`).
    """
    # lazy: the bootstrap's matrix needs numpy and the charts plotly; only a report with --ci draws them
    from samis.plots import rank_stability_figure, significance_matrix_figure
    from samis.stats import significance_matrix

    metric = metric if metric in boot.metrics else boot.metrics[0]
    figures = (significance_matrix_figure(significance_matrix(boot, metric)),
               rank_stability_figure(boot, metric, colors or {}))
    section = curves_section(figures, f"Uncertainty: {metric}", boot.description())
    notes = _notes(list(boot.notes))
    return HtmlSection(section.title, section.body + notes, plotly=True, scripts=section.scripts)


def per_class_section(frame: "pd.DataFrame", metric: str) -> HtmlSection:
    """Methods × defect classes of one dataset metric (:func:`samis.tables.per_class.per_class_table`), best in bold."""
    # lazy: per-class tables import pandas; the report command imports this module at startup
    from samis.tables.per_class import better_direction

    better = better_direction(metric)
    numeric = frame.astype(float)
    target = numeric.max() if better == "higher" else numeric.min()
    best = numeric.eq(target) & numeric.notna()
    markup = frame_table(frame, index_name="method", best=best)
    markup += _notes([f"{metric}: {better} is better; bold = best per class; (n) images per class."])
    return HtmlSection(f"Per defect class: {metric}", markup)


def _plain_text_figure(figure):
    """A copy whose trace names are escaped: plotly.js reads a few HTML tags in names, a report shows them as text."""
    copy = type(figure)(figure)
    copy.for_each_trace(lambda trace: trace.update(name=escape(trace.name)) if trace.name else None)
    return copy


def curves_section(figures: Sequence, title: str = "Curves", caption: str = "") -> HtmlSection:
    """Interactive plotly charts side by side (plotly.js itself is embedded once by the document)."""
    # lazy: plotly loads slowly and only pages with charts need it
    import plotly.io as pio

    charts = [pio.to_html(_plain_text_figure(figure), include_plotlyjs=False, full_html=False,
                          config={"responsive": True, "displaylogo": False}) for figure in figures]
    scripts = tuple(body for chart in charts for body in _SCRIPT.findall(chart))
    body = '<div class="charts">' + "".join(f"<div>{chart}</div>" for chart in charts) + "</div>"
    return HtmlSection(title, body + _notes([caption] if caption else []), plotly=True, scripts=scripts)


def comparison_sections(table: "ComparisonTable", evaluation: "EvaluationResult | None" = None,
                        colors: Mapping[str, str] | None = None, class_metric: str = "maxFm", *,
                        boot=None, stats_metric: str | None = None) -> list[HtmlSection]:
    """The Compare view: the table, the uncertainty charts (with ``boot``), then (when rows were measured)
    per-class scores and the PR / F-measure curves.

    Args:
        table: the comparison table (with intervals when built with the bootstrap).
        evaluation: the evaluation behind its measured rows (None: the table alone).
        colors: method → colour of the curves (:func:`samis.colors.method_colors`, as the dashboard's).
        class_metric: the per-class table's dataset metric.
        boot: the :class:`samis.stats.Bootstrap` behind the table's intervals (None: no uncertainty shown).
        stats_metric: the metric of the significance matrix and rank stability (default: ``class_metric``).
    """
    # lazy: plots (plotly) and per-class tables (pandas), only for a page with charts
    from samis.plots import curve_figures
    from samis.tables.per_class import per_class_table

    sections = [comparison_section(table)]
    if boot is not None:
        sections.append(uncertainty_section(boot, stats_metric or class_metric, colors))
    if evaluation is not None and evaluation.scores:
        sections.append(per_class_section(per_class_table(evaluation, class_metric), class_metric))
        sections.append(curves_section(curve_figures(evaluation.scores, colors or {}), "Curves",
                                       "Curves average each image's precision, recall and F-measure at every "
                                       "threshold, as pysodmetrics does; maxFm is the top of the F-measure curve."))
    return sections


def grid_section(png: bytes, images: Sequence[tuple[str, str]], methods: Sequence[str], caption: str = "",
                 title: str = "Qualitative grid") -> HtmlSection:
    """A qualitative grid picture, then which images (rows) and methods (columns) it shows.

    Args:
        png: the grid (:func:`samis.figures.png_bytes` of :func:`samis.figures.qualitative_figure`).
        images: (image id, class) per grid row, in order.
        methods: the method columns after image and ground truth, in order.
        caption: a line under the picture.
    """
    columns = " | ".join(["image", "ground truth", *methods])
    rows = "".join(f"<tr><td>{number}</td><td>{text(image_id)}</td><td>{text(cls)}</td></tr>"
                   for number, (image_id, cls) in enumerate(images, start=1))
    markup = (f"<figure>{_img(png, 'qualitative grid: ' + columns, 'grid')}"
              + (f"<figcaption>{text(caption)}</figcaption>" if caption else "") + "</figure>"
              + f"<p>Columns: {text(columns)}</p>"
              + f"<table><thead><tr><th>row</th><th>image</th><th>class</th></tr></thead><tbody>{rows}</tbody></table>")
    return HtmlSection(title, markup)


def cases_section(frame: "pd.DataFrame", caption: str = "", title: str = "Cases") -> HtmlSection:
    """The filtered cases (:attr:`samis.cases.CaseSelection.frame`): one row per image, NaN = no map."""
    markup = (f"<p>{text(caption)}</p>" if caption else "") + frame_table(frame, index_name="image", missing="no map")
    return HtmlSection(title, markup)


def image_cells_section(image_id: str, cells: Sequence[tuple[str, bytes | None, str]],
                        values: "pd.DataFrame | None" = None, caption: str = "") -> HtmlSection:
    """One image's cells (image, ground truth, each method) as pictures, then its per-image values.

    Args:
        image_id: the image.
        cells: (title, PNG bytes or None for "no map", caption) as the dashboard's ``image_cells`` gives them.
        values: optional methods × image metrics of this image.
        caption: a line above the pictures.
    """
    figures = []
    for title, png, cell_caption in cells:
        label = title + (f" · {cell_caption}" if cell_caption else "")
        picture = _img(png, f"{image_id}: {title}") if png is not None else '<p class="note">no map</p>'
        figures.append(f"<figure>{picture}<figcaption>{text(label)}</figcaption></figure>")
    markup = (f"<p>{text(caption)}</p>" if caption else "") + f'<div class="cells">{"".join(figures)}</div>'
    if values is not None:
        markup += frame_table(values, index_name="method", missing="no map")
    return HtmlSection(f"Image {image_id}", markup)


def dashboard_link(page: str, **params: str | None) -> str:
    """A relative dashboard link, e.g. ``/compare?dataset=sd900&split=test`` (empty parameters left out)."""
    query = urlencode({k: v for k, v in params.items() if v}, safe=",:")
    return f"/{page}" + (f"?{query}" if query else "")


# ---- the document ------------------------------------------------------------------------------------
def provenance_footer(provenance: Provenance) -> str:
    """The footer: samis version, dataset, split, time and the link that reproduces the view."""
    link = provenance.link
    if link.startswith(("http://", "https://")):
        shown = f'<a href="{text(link)}">{text(link)}</a>'
    elif link:
        shown = f"<code>{text(link)}</code> (relative to the dashboard's address)"
    else:
        shown = ""
    parts = [f"samis {text(provenance.samis_version)}", f"dataset {text(provenance.dataset)}",
             f"split {text(provenance.split)}", f"made {text(provenance.time)}"]
    if provenance.view:
        parts.insert(0, text(provenance.view))
    line = " · ".join(parts)
    return f"<footer><p>{line}</p>" + (f"<p>This view in the dashboard: {shown}</p>" if shown else "") + "</footer>"


def html_document(title: str, sections: Sequence[HtmlSection], provenance: Provenance) -> str:
    """The whole page as text: head (style, CSP, plotly.js once when a section needs it), sections, footer."""
    scripts = [body for section in sections for body in section.scripts]
    script = ""
    if any(section.plotly for section in sections):
        # lazy: plotly loads slowly and only pages with charts need it
        from plotly.offline import get_plotlyjs

        scripts.append(get_plotlyjs())
        script = f'<script type="text/javascript">{scripts[-1]}</script>'
    body = "".join(f"<section><h2>{text(s.title)}</h2>{s.body}</section>" for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(scripts)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{text(title)}</title><style>{_STYLE}</style>{script}</head>"
            f"<body><h1>{text(title)}</h1>{body}{provenance_footer(provenance)}</body></html>\n")


def html_report_bytes(title: str, sections: Sequence[HtmlSection], provenance: Provenance) -> bytes:
    """:func:`html_document` encoded as UTF-8 (what a download button serves)."""
    return html_document(title, sections, provenance).encode("utf-8")


def write_html_report(path: str | Path, title: str, sections: Sequence[HtmlSection], provenance: Provenance) -> Path:
    """Write the report by :func:`samis.outputs.write_output`'s rule (a file atomically: readers see the old
    file or the whole new one; a device or FIFO in place).

    Returns:
        the path written.
    """
    path = Path(path)
    write_output(path, html_document(title, sections, provenance))
    return path
