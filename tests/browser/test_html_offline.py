"""The HTML report opens offline: headless Chromium with no network reads it from ``file://``.

Chromium runs with every host name unresolvable and every connection sent to a closed proxy; the
page must still show its tables, draw its plotly charts (``.main-svg``) and load every picture, and
``performance.getEntriesByType('resource')`` must list no http(s) request. Two files are checked:
one written by ``python -m samis report … --format html -o`` plus the Gallery and Cases sections, and
the one the Compare page's "Download this view (HTML)" button serves from a running dashboard.
"""

from __future__ import annotations

import time
from pathlib import Path

import helpers
from helpers import By


def _check_offline(path: Path, profile: Path, charts: int, images: int) -> dict:
    """Open ``path`` offline; return what the page shows (tables, charts, images, requests)."""
    driver = helpers.chromium(profile, offline=True)
    try:
        driver.get(path.resolve().as_uri())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            drawn = len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"))
            loaded = driver.execute_script(
                "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            if drawn >= charts and loaded:
                break
            time.sleep(0.25)
        found = {
            "tables": len(driver.find_elements(By.CSS_SELECTOR, "table")),
            "comparison_rows": len(driver.find_elements(By.CSS_SELECTOR, "table.comparison tbody tr")),
            "charts": len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")),
            "drawn": len({e.id for e in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")}),
            "images": driver.execute_script("return document.images.length"),
            "loaded": driver.execute_script(
                "return Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"),
            "requests": driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
                ".filter(n => n.startsWith('http:') || n.startsWith('https:'))"),
            "errors": [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"],
            "footer": driver.find_element(By.CSS_SELECTOR, "footer").text,
        }
    finally:
        driver.quit()
    assert found["requests"] == [], found["requests"]
    assert found["errors"] == [], found["errors"]
    assert found["charts"] == charts and found["drawn"] >= charts, found
    assert found["images"] == images and found["loaded"] == images, found
    return found


def test_cli_report_with_gallery_and_cases_opens_offline(dashboard_workspace, tmp_path):
    from samis.cli import main
    from samis.colors import method_colors
    from samis.datasets import load_dataset
    from samis.figures import image_cells, png_bytes, qualitative_figure
    from samis.html_report import (Provenance, cases_section, comparison_sections, grid_section, image_cells_section,
                                   write_html_report)
    from samis.store import prediction_files
    from samis.tables.report import comparison_rows

    workspace = dashboard_workspace
    out = tmp_path / "report.html"
    assert main(["--workspace", str(workspace.root), "report", "toy", "--format", "html", "-o", str(out)]) == 0
    found = _check_offline(out, tmp_path / "p1", charts=2, images=0)
    assert found["comparison_rows"] >= 3 and found["tables"] == 2
    assert "/compare?dataset=toy" in found["footer"]

    # every section kind in one file: table, per-class, curves, grid, cases, one image's cells
    dataset = load_dataset(workspace, "toy")
    methods = workspace.prediction_methods("toy")
    rows = comparison_rows(workspace, "toy")
    paths = {m: prediction_files(workspace, "toy", m) for m in methods}
    samples = dataset.samples[:2]
    grid = png_bytes(qualitative_figure(samples, paths, methods))
    cases = rows.evaluation.per_image_frame().pivot_table(index="image", columns="method", values="Fw")
    cells = [(t, None if p is None else png_bytes(p), c) for t, p, c in image_cells(samples[0], paths, methods)]
    sections = comparison_sections(rows.table(dataset="toy"), rows.evaluation, method_colors(methods))
    sections += [grid_section(grid, [(s.id, s.cls) for s in samples], methods),
                 cases_section(cases), image_cells_section(samples[0].id, cells)]
    everything = write_html_report(tmp_path / "all.html", "toy", sections, Provenance("toy", "all", "/cases?dataset=toy"))
    _check_offline(everything, tmp_path / "p2", charts=2, images=1 + sum(p is not None for _, p, _ in cells))


def test_compare_download_button_serves_a_file_that_opens_offline(server, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = helpers.chromium(tmp_path / "online", download_dir=downloads)
    try:
        # the server's first run still goes through Streamlit's pages/-folder navigation (see streamlit_app.py)
        driver.get(f"{server}/?dataset=toy")
        helpers.wait_for_page(driver)
        driver.get(f"{server}/compare?dataset=toy&gap_method=weak")
        helpers.wait_for_page(driver)
        dialogs = helpers.texts(driver, '[data-testid="stDialog"]')
        assert not dialogs, dialogs
        button = [b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"] button')
                  if "Download this view (HTML)" in b.text]
        assert len(button) == 1
        driver.execute_script("arguments[0].scrollIntoView()", button[0])
        button[0].click()
        deadline = time.monotonic() + 60
        files = []
        while time.monotonic() < deadline:
            files = [p for p in downloads.iterdir() if p.suffix == ".html"]
            if files and not any(p.suffix == ".crdownload" for p in downloads.iterdir()):
                break
            time.sleep(0.5)
        assert files, f"no download in {downloads}: {list(downloads.iterdir())}"
    finally:
        driver.quit()
    found = _check_offline(files[0], tmp_path / "offline", charts=2, images=0)
    # the footer links back to this view on the server
    assert f"{server}/compare?" in found["footer"] and "dataset=toy" in found["footer"]
    assert "gap_method=weak" in found["footer"]
