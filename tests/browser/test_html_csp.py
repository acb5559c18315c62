"""The HTML report's Content-Security-Policy: its own scripts run by hash, nothing else runs, no eval needed.

Headless Chromium opens a report with interactive curves (plotly.js embedded, one inline script per
chart) and a section whose markup carries a script the section function did not declare: the charts
must be drawn, the stray script must be refused (the page title stays), and the only CSP refusal in
the browser's log must be that one — in particular none for ``eval`` (the policy has no 'unsafe-eval').
"""

from __future__ import annotations

import time

import helpers
from helpers import By


def test_report_scripts_run_by_hash_and_a_stray_script_is_refused(tmp_path):
    import plotly.graph_objects as go

    from samis.html_report import HtmlSection, Provenance, curves_section, write_html_report

    curves = curves_section([go.Figure(go.Scatter(x=[0, 0.5, 1], y=[1, 0.8, 0], name="SAM")),
                             go.Figure(go.Bar(x=["a", "b"], y=[0.3, 0.6]))], title="Curves")
    stray = HtmlSection("Stray", "<p>text</p><script>document.title = 'ran';</script>")
    path = write_html_report(tmp_path / "report.html", "csp check", [curves, stray], Provenance("toy", "all"))
    head = path.read_text(encoding="utf-8")[:2000]
    assert "unsafe-eval" not in head and "'unsafe-inline'; font-src" not in head and "'sha256-" in head

    driver = helpers.chromium(tmp_path / "profile", offline=True)
    try:
        driver.get(path.resolve().as_uri())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) < 2:
            time.sleep(0.25)
        drawn = len({e.id for e in driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")})
        points = len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer path, .js-plotly-plot .bars path"))
        title = driver.title
        log = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
    assert drawn >= 2 and points >= 2
    assert title == "csp check"  # the stray script did not run
    refusals = [message for message in log if "Content Security Policy" in message]
    assert len(refusals) == 1 and "inline script" in refusals[0], log
    assert not [message for message in log if "eval" in message.lower()], log
    assert len(log) == 1, log
