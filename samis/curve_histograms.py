"""Per-image curves from two exact integer histograms, as pysodmetrics computes them.

pysodmetrics' threshold curves of one image (``Fmeasure.cal_pr``: precision, recall and the F-measure;
``Emeasure.cal_em_with_cumsumhistogram``: the E-measure) depend on the prediction only through two 256-bin
histograms: the normalised prediction, binned as ``(pred * 255).astype(np.uint8)`` into
``np.histogram(..., bins=np.linspace(0, 256, 257))``, counted once over the ground truth's foreground
(``fg``) and once over its background (``bg``). Bin ``v`` counts the pixels whose binned value is ``v``
(np.histogram's order: bin 0 is value 0, bin 255 is value 255). The curves are sums of those counts
(reversed, cumulative: index 0 is threshold 255, pysodmetrics' order), so keeping the counts keeps the
curves exactly: :func:`curves_from_histograms` repeats pysodmetrics' own arithmetic on them (its ``EPS``,
``Ps[Ps == 0] = 1``, ``max(gt count, 1)``, the F-measure's zero-numerator rule, the E-measure's special
cases of an all-background and an all-foreground ground truth and its four-part combination), operation for
operation, vectorised over images: the results equal pysodmetrics' per-image ``precisions``, ``recalls``,
``changeable_fms`` and ``changeable_ems`` (the tests hold them to 1e-12; they are bit-equal here).

:func:`histograms` bins a raw uint8 pair (normalised as pysodmetrics' ``prepare_data`` does: ``pred / 255``,
min-max scaled unless constant; ground truth ``> 128``); :func:`normalized_histograms` bins a pair already
normalised (what :mod:`samis.metrics` holds).
"""

from __future__ import annotations

import numpy as np

#: pysodmetrics' epsilon (``py_sod_metrics.utils.EPS``: numpy's spacing of 1, not MATLAB's)
_EPS = np.spacing(1)
#: the F-measure's beta^2 (pysodmetrics' default, the paper's): :data:`samis.metrics.FM_BETA`
FM_BETA = 0.3
BINS = 256


def normalized_histograms(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(2, 256) int64: the counts of ``pred`` (float in [0, 1], normalised) binned as pysodmetrics bins it, over
    the foreground (``gt`` True) and over the background.

    ``np.bincount`` of the uint8 values: the same counts as pysodmetrics' ``np.histogram`` with edges
    0, 1, …, 256 (every value v lands in bin v), five times faster.
    """
    binned = (pred * 255).astype(np.uint8)
    return np.stack([np.bincount(binned[gt], minlength=BINS), np.bincount(binned[~gt], minlength=BINS)]).astype(np.int64)


def histograms(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(2, 256) int64 histograms of a raw pair (uint8 map and ground truth, 0..255), normalised as pysodmetrics'
    ``prepare_data`` does."""
    truth = gt > 128
    scaled = pred / 255
    if scaled.max() != scaled.min():
        scaled = (scaled - scaled.min()) / (scaled.max() - scaled.min())
    return normalized_histograms(scaled, truth)


def curves_from_histograms(hist: np.ndarray, beta: float = FM_BETA) -> np.ndarray:
    """(N, 4, 256) float64 precision, recall, F-measure and E-measure curves (pysodmetrics order: index 0 is
    threshold 255) from (N, 2, 256) integer counts (foreground, background), exactly as pysodmetrics computes
    them from the same counts (the same operations in the same order, in place where it saves memory)."""
    counts = np.asarray(hist).astype(np.int64, copy=False).reshape(-1, 2, BINS)
    fg_w_thrs = np.cumsum(counts[:, 0, ::-1], axis=1)  # pixels >= each threshold, 255 down to 0
    bg_w_thrs = np.cumsum(counts[:, 1, ::-1], axis=1)
    gt_fg = counts[:, 0].sum(axis=1)[:, None]
    size = gt_fg + counts[:, 1].sum(axis=1)[:, None]
    out = np.empty((len(counts), 4, BINS), np.float64)
    _pr_fm(fg_w_thrs, bg_w_thrs, gt_fg, beta, out)
    out[:, 3] = _em(fg_w_thrs, bg_w_thrs, gt_fg, size)
    return out


def _pr_fm(fg_w_thrs: np.ndarray, bg_w_thrs: np.ndarray, gt_fg: np.ndarray, beta: float, out: np.ndarray) -> None:
    """``Fmeasure.cal_pr`` from its cumulative counts (every row an image), into ``out[:, 0:3]``."""
    predicted = fg_w_thrs + bg_w_thrs
    predicted[predicted == 0] = 1
    precisions, recalls, fms = out[:, 0], out[:, 1], out[:, 2]
    np.divide(fg_w_thrs, predicted, out=precisions)
    np.divide(fg_w_thrs, np.maximum(gt_fg, 1), out=recalls)
    np.multiply(1 + beta, precisions, out=fms)  # (1 + beta) * precisions * recalls, left to right
    fms *= recalls
    denominator = beta * precisions
    denominator += recalls
    denominator[fms == 0] = 1
    fms /= denominator


def _em(fg_fg: np.ndarray, fg_bg: np.ndarray, gt_fg: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``Emeasure.cal_em_with_cumsumhistogram`` from its cumulative counts (every row an image; ``gt_fg`` and
    ``size`` columns)."""
    pred_fg = fg_fg + fg_bg
    pred_bg = size - pred_fg
    bg_fg = gt_fg - fg_fg
    parts = (fg_fg, fg_bg, bg_fg, pred_bg - bg_fg)
    mean_pred, mean_gt = pred_fg / size, gt_fg / size
    pred_values = (1 - mean_pred, 0 - mean_pred)
    pred_squares = tuple(value**2 for value in pred_values)  # each used twice: the same numbers
    gt_values = (1 - mean_gt, 0 - mean_gt)
    total, value = np.zeros(pred_fg.shape), np.empty(pred_fg.shape)
    for i, part in enumerate(parts):  # summed in pysodmetrics' order (0 + x is x exactly)
        pred_value, pred_square, gt_value = pred_values[i // 2], pred_squares[i // 2], gt_values[i % 2]
        np.multiply(pred_value, gt_value, out=value)
        value *= 2  # 2 * (c0 * c1) / (c0 ** 2 + c1 ** 2 + EPS)
        denominator = pred_square + gt_value**2
        denominator += _EPS
        value /= denominator
        value += 1  # (align + 1) ** 2 / 4 * part
        np.square(value, out=value)
        value /= 4
        value *= part
        total += value
    summed = np.where(gt_fg == 0, pred_bg, np.where(gt_fg == size, pred_fg, total))
    return summed / (size - 1 + _EPS)
