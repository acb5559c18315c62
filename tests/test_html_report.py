"""The self-contained HTML report: sections, escaping, plotly.js once, atomic write, the report command."""

from __future__ import annotations

import os
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from samis import __version__
from samis.cli import main
from samis.figures import png_bytes
from samis.html_report import (Provenance, cases_section, comparison_section, comparison_sections, curves_section,
                               grid_section, html_document, image_cells_section, per_class_section,
                               write_html_report)
from samis.tables.model import TableRow, build_table

EVIL_METHOD = "<script>alert(1)</script>"
EVIL_IMAGE = '"><img src=x onerror=alert(1)>'
PLOTLY_BANNER = "plotly.js v"  # the licence comment at the top of plotly.min.js


class Tags(HTMLParser):
    """Every start tag of a document with its attributes, as a browser's tokenizer sees them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(document: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(document)
    return parser.tags


def _png(value: int = 128) -> bytes:
    return png_bytes(np.full((8, 8, 3), value, dtype=np.uint8))


def _table():
    rows = [TableRow(EVIL_METHOD, {"Sa": 0.9, "MAE": 0.02, "Em": 0.95, "Fw": 0.8, "Fm": 0.85}, note=EVIL_IMAGE),
            TableRow("SAM", {"Sa": 0.7, "MAE": 0.05, "Em": 0.80, "Fw": 0.6, "Fm": 0.65}, upper_bound=True)]
    return build_table(rows, gap_method="SAM", dataset=EVIL_IMAGE, title=f"{EVIL_IMAGE} comparison")


def _curves():
    from samis.plots import curve_figures

    curve = np.linspace(0, 1, 256)
    scores = {EVIL_METHOD: {"curves": {"precision": curve, "recall": curve[::-1], "fm": curve}},
              "SAM": {"curves": {"precision": curve, "recall": curve[::-1], "fm": curve / 2}}}
    return curve_figures(scores, {})


def _document() -> str:
    cases = pd.DataFrame({"class": ["scratch"], EVIL_METHOD: [0.5], "SAM": [float("nan")]},
                         index=pd.Index([EVIL_IMAGE], name="image"))
    per_class = pd.DataFrame({"a (2)": [0.5, 0.7], "all": [0.6, 0.4]}, index=pd.Index([EVIL_METHOD, "SAM"]))
    sections = [
        comparison_section(_table()),
        per_class_section(per_class, "maxFm"),
        curves_section(_curves()),
        grid_section(_png(), [(EVIL_IMAGE, EVIL_METHOD)], [EVIL_METHOD, "SAM"], caption=EVIL_METHOD),
        cases_section(cases, caption=f"method A: {EVIL_METHOD}"),
        image_cells_section(EVIL_IMAGE, [("image", _png(), ""), (EVIL_METHOD, _png(200), EVIL_IMAGE), ("SAM", None, "")],
                            values=cases[[EVIL_METHOD, "SAM"]]),
    ]
    provenance = Provenance(EVIL_IMAGE, EVIL_METHOD, f"http://127.0.0.1:8501/cases?dataset=%22%3E&m={EVIL_IMAGE}")
    return html_document(f"{EVIL_METHOD} report", sections, provenance)


def test_user_names_are_text_never_markup():
    document = _document()
    assert EVIL_METHOD not in document and EVIL_IMAGE not in document and "<img src=x" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document  # shown, escaped
    tags = tags_of(document)
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts and all("src" not in attrs for attrs in scripts)
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert len(images) == 3 and all(attrs["src"].startswith("data:image/png;base64,") for attrs in images)
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    # plotly's JSON escapes "<" inside scripts; trace names are also entity-escaped so plotly.js shows them as text
    assert "\\u003cscript\\u003e" not in document and "&lt;script&gt;" in document


def test_sections_present_and_plotly_embedded_once():
    document = _document()
    for heading in ("Per defect class: maxFm", "Curves", "Qualitative grid", "Cases"):
        assert f"<h2>{heading}</h2>" in document
    assert document.count(PLOTLY_BANNER) == 1
    assert document.count("Plotly.newPlot") == 2  # two charts, one library
    assert "cdn.plot.ly" not in document.split(PLOTLY_BANNER)[0]  # no CDN <script src> in the head
    assert "Content-Security-Policy" in document
    # best values bold, gap row, upper bound mark, provenance
    assert '<td class="number best">0.900</td>' in document and '<tr class="gap">' in document
    assert "SAM †" in document and f"samis {__version__}" in document
    assert '<a href="http://127.0.0.1:8501/cases?dataset=%22%3E&amp;m=&quot;&gt;&lt;img' in document


def test_without_charts_no_plotly_and_relative_links_are_text(tmp_path):
    document = html_document("t", [comparison_section(_table())], Provenance("sd900", "all", "/compare?dataset=sd900"))
    assert PLOTLY_BANNER not in document and "<script" not in document
    assert "<code>/compare?dataset=sd900</code>" in document and "<a " not in document
    assert "javascript" not in html_document("t", [], Provenance("d", "s", "javascript:alert(1)")).split("<footer>")[1] \
        .split("<code>")[0]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out" / "report.html"
    write_html_report(path, "first", [comparison_section(_table())], Provenance("d", "all"))
    before = path.read_text()
    assert before.startswith("<!DOCTYPE html>") and before.endswith("</html>\n")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_html_report(path, "second", [], Provenance("d", "all"))
    assert path.read_text() == before  # the old file whole, no temp file left
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]


def test_comparison_sections_of_a_measured_evaluation(workspace, make_folder_dataset):
    from samis.datasets import register_dataset
    from samis.store import import_predictions
    from samis.tables.report import comparison_rows

    root, preds = make_folder_dataset(n=6)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    found = comparison_rows(workspace, "toy")
    sections = comparison_sections(found.table(gap_method="weak", dataset="toy"), found.evaluation)
    assert [s.title for s in sections] == ["Comparison on toy", "Per defect class: maxFm", "Curves"]
    assert sections[2].plotly and not sections[0].plotly


def test_report_command_writes_html(workspace, make_folder_dataset, tmp_path, capsys):
    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=6)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    out = tmp_path / "toy.html"
    assert main(["report", "toy", "--measured", "--gap-method", "weak", "--format", "html", "-o", str(out)]) == 0
    document = out.read_text()
    assert "<h2>Per defect class: maxFm</h2>" in document and document.count(PLOTLY_BANNER) == 1
    assert "<code>/compare?dataset=toy&amp;split=all&amp;source=measured&amp;gap_method=weak</code>" in document
    assert "samis report" in document

    # html needs a file (or '-'); other formats can be written to a file too
    assert main(["report", "toy", "--format", "html"]) == 2
    assert "-o FILE" in capsys.readouterr().err
    assert main(["report", "sd900", "--paper", "--format", "html", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    csv = tmp_path / "t.csv"
    assert main(["report", "sd900", "--paper", "--format", "csv", "-o", str(csv)]) == 0
    assert csv.read_text().startswith("method,label,source")


def test_report_html_with_ci_carries_what_compare_shows(workspace, make_folder_dataset, tmp_path):
    """Issue 20, item 6: every measured cell has its interval, the best marks say sig./tied, and the
    significance matrix and rank stability are drawn, in the dashboard's colours."""
    import json
    import re

    from samis.colors import workspace_colors
    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=12)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    out, js = tmp_path / "toy.html", tmp_path / "toy.json"
    args = ["--workspace", str(workspace.root), "report", "toy", "--measured", "--gap-method", "weak", "--ci", "200"]
    assert main([*args, "--format", "html", "-o", str(out)]) == 0
    assert main([*args, "--format", "json", "-o", str(js)]) == 0
    document = out.read_text()
    parsed = json.loads(js.read_text())
    rows, metrics = parsed["rows"], parsed["metrics"]
    measured_cells = sum(1 for r in rows for m in metrics if r.get(m) is not None)
    assert measured_cells == len(rows) * len(metrics) > 0
    table = document.split('<table class="comparison">')[1].split("</table>")[0]
    intervals = re.findall(r'<span class="ci">\[(-?[\d.]+), (-?[\d.]+)\]</span>', table)
    assert len(intervals) == measured_cells
    assert all(float(lo) <= float(hi) for lo, hi in intervals)
    assert re.search(r'<span class="verdict">(sig\.|tied)</span>', table)
    assert "<h2>Uncertainty: maxFm</h2>" in document
    # the chart titles are in plotly's JSON: "−" is written as is, or as \u2212 where plotly has no orjson
    assert "rank (1 = best)" in document and ("row − column" in document or "row \\u2212 column" in document)
    assert "uncertainty=1" in document  # the footer's link opens Compare with Uncertainty on
    for method, color in workspace_colors(workspace).items():
        if method in preds:
            assert color.lower() in document.lower()


def test_report_html_without_ci_has_no_intervals(workspace, make_folder_dataset, tmp_path):
    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=6)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    out = tmp_path / "toy.html"
    assert main(["--workspace", str(workspace.root), "report", "toy", "--measured", "--format", "html",
                 "-o", str(out)]) == 0
    document = out.read_text()
    assert 'class="ci"' not in document and "Uncertainty" not in document
