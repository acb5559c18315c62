"""The metric card: each metric's exact convention, as samis computes it (through pysodmetrics).

Every line is read from :mod:`samis.metrics` and pysodmetrics' source (``py_sod_metrics/sod_metrics.py``,
``utils.py``); tests/test_metric_card.py checks the checkable ones against pysodmetrics itself (β², the
adaptive threshold, ``>=`` at a threshold, 256 thresholds). Shown by ``python -m samis metrics`` and in the
Overview page's "Metric card" section, which the comparison tables link to.
"""

from __future__ import annotations

import importlib.metadata

from samis.metrics import FM_BETA, FW_BETA, S_ALPHA
from samis.tables.render import markdown_table

#: the Overview's section that comparison tables link to
CARD_LINK = "/overview#metric-card"


def pysodmetrics_version() -> str:
    """The installed pysodmetrics version (``unknown`` when it cannot be told)."""
    try:
        return importlib.metadata.version("pysodmetrics")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def metric_card() -> list[tuple[str, str]]:
    """(metric or rule, its convention) rows, in reading order."""
    return [
        ("inputs", "prediction: the stored 8-bit map at ground-truth size (a map of another size was resized "
                   "bilinearly when imported); divided by 255 and min–max scaled per image "
                   "(pysodmetrics prepare_data), a constant map keeping value/255; ground truth: pixel > 128"),
        ("per image, then mean", "every score is computed per image and averaged over images (np.mean, float64), "
                                 "as pysodmetrics' get_results does; nothing is pooled over pixels"),
        ("thresholds", "256 thresholds t = 0…255 on the 8-bit map; a pixel is foreground at t when map ≥ t "
                       "(pysodmetrics' flipped cumulative histogram over bins 0…256)"),
        ("Sa", f"S-measure (Fan et al. 2017), α = {S_ALPHA}: region and object structure similarity"),
        ("MAE", "mean absolute error between the scaled map and the binary ground truth"),
        ("maxFm / meanFm", f"F-measure with β² = {FM_BETA}: the per-threshold F averaged over images into one "
                           "curve; maxFm is that curve's maximum, meanFm its mean (not a mean of per-image maxima)"),
        ("adpFm", "F-measure (β² = 0.3) at each image's adaptive threshold, then averaged"),
        ("maxEm / meanEm", "E-measure (enhanced-alignment measure, Fan et al. 2018) per threshold, curve averaged "
                           "over images; max and mean of that curve; the sum is divided by H·W − 1 as in the "
                           "MATLAB toolbox"),
        ("adpEm", "E-measure at each image's adaptive threshold, then averaged"),
        ("Fw", f"weighted F-measure (Margolin et al. 2014) with β² = {FW_BETA} (Fan's reference code)"),
        ("adaptive threshold", "min(2 × mean(scaled map), 1) per image; foreground where map ≥ it"),
        ("IoU@adaptive, Dice@adaptive", "at the adaptive threshold (pysodmetrics FmeasureV2 IOUHandler / "
                                        "DICEHandler, adaptive only); image captions binarise at 128 (IoU@128)"),
        ("empty ground truth", "S = 1 − mean(map); Fw = 0; F-measure = 0 (recall 0); the E-measure rewards "
                               "predicting nothing; IoU and Dice = 0"),
        ("pysodmetrics", f"version {pysodmetrics_version()}: samis calls its classes (Smeasure, MAE, Emeasure, "
                         "WeightedFmeasure, Fmeasure, FmeasureV2) and re-implements none"),
    ]


def metric_card_markdown() -> str:
    """The card as a Markdown table (``python -m samis metrics --format md``)."""
    lines = [f"**Metric card** (pysodmetrics {pysodmetrics_version()})", ""]
    lines += markdown_table(["metric", "convention"], "ll", [[name, text] for name, text in metric_card()])
    return "\n".join(lines) + "\n"


def metric_card_text() -> str:
    """The card as plain text for a terminal."""
    return "\n".join(f"{name}: {text}" for name, text in metric_card()) + "\n"
