"""The metric card (issue 20, item 11): its statements checked against pysodmetrics itself, the CLI and the page."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import py_sod_metrics as sod

from samis.cli import main
from samis.metric_card import metric_card, metric_card_markdown
from samis.metrics import score_image


def _card() -> dict[str, str]:
    return dict(metric_card())


def test_beta_squared_and_the_adaptive_rule_are_pysodmetrics_own():
    card = _card()
    assert sod.Fmeasure().beta == 0.3 and "β² = 0.3" in card["maxFm / meanFm"]
    assert sod.utils.get_adaptive_threshold(np.array([0.2, 0.4])) == 0.6000000000000001 or \
        abs(sod.utils.get_adaptive_threshold(np.array([0.2, 0.4])) - 0.6) < 1e-12
    assert sod.utils.get_adaptive_threshold(np.array([0.9])) == 1  # capped at 1
    assert "min(2 × mean(scaled map), 1)" in card["adaptive threshold"]


def test_a_pixel_equal_to_the_threshold_counts_as_foreground_and_there_are_256_thresholds():
    gt = np.zeros((4, 4), np.uint8)
    gt[:2] = 255
    pred = np.zeros((4, 4), np.uint8)
    pred[:2] = 128  # the scaled map: 1.0 on the defect, 0 elsewhere
    pred[2:, :1] = 64
    score_image(pred, gt)  # samis scores this image through the same classes
    fm = sod.Fmeasure()
    fm.step(pred, gt)
    curve = fm.get_results()["fm"]["curve"]
    assert len(curve) == 256 and "256 thresholds" in _card()["thresholds"]
    # pred after min-max scaling: 1.0 → 255 and 64/128 → 127; pysodmetrics' curve runs from threshold 255 down:
    # at t = 127 the pixels at exactly 127 are foreground (≥), so precision drops below 1 there
    p = fm.get_results()["pr"]["p"]
    assert p[255 - 128] == 1.0 and p[255 - 127] < 1.0
    assert "map ≥ t" in _card()["thresholds"]


def test_the_card_names_the_installed_pysodmetrics_and_every_convention_the_issue_lists(capsys):
    version = importlib.metadata.version("pysodmetrics")
    card = _card()
    for needed in ("Sa", "MAE", "maxFm / meanFm", "adpFm", "maxEm / meanEm", "adpEm", "Fw", "adaptive threshold",
                   "empty ground truth", "per image, then mean", "inputs", "thresholds"):
        assert card.get(needed), needed
    assert "bilinear" in card["inputs"] and "nothing is pooled" in card["per image, then mean"]
    for name in ("md", "markdown"):
        assert main(["metrics", "--format", name]) == 0
        out = capsys.readouterr().out
        assert out == metric_card_markdown() and f"pysodmetrics {version}" in out and "| Fw |" in out
    assert main(["metrics"]) == 0 and "adaptive threshold: min(2" in capsys.readouterr().out


def test_overview_shows_the_card_and_comparison_tables_link_to_it(make_study):
    from tests.test_dashboard import assert_clean, open_page, texts

    make_study(6)
    at = open_page("overview")
    assert_clean(at)
    assert any(h.value == "Metric card" for h in at.subheader)
    card = at.table[0].value
    assert "empty ground truth" in list(card["metric"])
    assert any("/overview#metric-card" in c for c in texts(at.caption))
