"""Independent references the tests compare samis with: written here from their definitions, not from samis.

- :func:`pysodmetrics_scores`: a plain sequential pysodmetrics loop, as PySODEvalToolkit does it;
  :func:`pysodmetrics_scores_of` runs that same loop for several methods, two at a time, in the background.
- :func:`wilcoxon_signed_rank_p`: the two-sided Wilcoxon signed-rank p-value from its textbook definition
  (no scipy), so a test of samis's paired test does not compare scipy with itself.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import warnings
from pathlib import Path

import cv2
import numpy as np
import py_sod_metrics as sod


def _gray(item) -> np.ndarray:
    if isinstance(item, (str, Path)):
        return cv2.imread(str(item), cv2.IMREAD_GRAYSCALE)  # how PySODEvalToolkit reads maps and masks
    return item


def pysodmetrics_scores(pairs) -> dict[str, float]:
    """Dataset scores of a plain pysodmetrics loop over ``(pred, gt)`` pairs.

    Args:
        pairs: (pred, gt), each a uint8 gray array or a path read with ``cv2.imread(..., IMREAD_GRAYSCALE)``.

    Returns:
        ``n_images`` and the nine dataset metrics by samis's names (``Sa``, ``MAE``, ``maxEm``, ``meanEm``,
        ``adpEm``, ``Fw``, ``maxFm``, ``meanFm``, ``adpFm``): curves averaged over images first, then max / mean.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = sod.Fmeasure()
    wfm, sm, em, mae = sod.WeightedFmeasure(), sod.Smeasure(), sod.Emeasure(), sod.MAE()
    n = 0
    for pred, gt in pairs:
        pred, gt = _gray(pred), _gray(gt)
        for metric in (fm, wfm, sm, em, mae):
            metric.step(pred=pred, gt=gt)
        n += 1
    f, e = fm.get_results()["fm"], em.get_results()["em"]
    return {"n_images": n, "Sa": sm.get_results()["sm"], "MAE": mae.get_results()["mae"],
            "maxEm": e["curve"].max(), "meanEm": e["curve"].mean(), "adpEm": e["adp"],
            "Fw": wfm.get_results()["wfm"], "maxFm": f["curve"].max(), "meanFm": f["curve"].mean(), "adpFm": f["adp"]}


def _scores_of_one(item):
    key, pairs = item
    return key, pysodmetrics_scores(pairs)


@contextlib.contextmanager
def pysodmetrics_scores_of(pairs_by_method: dict, processes: int = 2):
    """:func:`pysodmetrics_scores` of each method's ``(pred, gt)`` path pairs, computed in the background.

    Each method's loop is the plain sequential one; different methods run side by side in ``processes``
    forked processes, started on entering the block, so the caller's own work on the same data runs
    meanwhile. Yields a function that waits for the loops and returns ``{method: scores}``.
    """
    with multiprocessing.get_context("fork").Pool(processes) as pool:  # leaving the block stops the processes
        pending = pool.map_async(_scores_of_one, list(pairs_by_method.items()), chunksize=1)
        yield lambda: dict(pending.get())


def _midranks(values: list[float]) -> tuple[list[float], list[int]]:
    """Ranks 1..n of ``values`` with tied values sharing their mean rank; also the sizes of the tie groups."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks, groups = [0.0] * len(values), []
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        groups.append(end - start + 1)
        start = end + 1
    return ranks, groups


def wilcoxon_signed_rank_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples, from the definition.

    The convention samis documents (that of ``scipy.stats.wilcoxon`` with its defaults): zero differences
    are dropped (Wilcoxon's own rule); W+ is the sum of the midranks of |d| over the positive d. The null
    distribution gives every sign pattern of the non-zero d the same chance, and
    p = min(1, 2 min(P(W+ <= w), P(W+ >= w))), counted exactly when there are at most 50 pairs with no zero
    and no tied |d| (dynamic programming over the ranks 1..n) or at most 13 pairs (all 2^n patterns,
    midranks and all). Otherwise it is the normal approximation without continuity correction: mean
    n(n+1)/4, variance n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over the tie groups t, p = erfc(|z| / sqrt 2).
    """
    d = [float(x) - float(y) for x, y in zip(a, b)]
    nonzero = [x for x in d if x != 0]
    n = len(nonzero)
    if n == 0:
        return 1.0
    ranks, groups = _midranks([abs(x) for x in nonzero])
    w_plus = sum(r for r, x in zip(ranks, nonzero) if x > 0)
    if len(d) <= 50 and n == len(d) and all(t == 1 for t in groups):
        counts = [1] + [0] * (n * (n + 1) // 2)  # counts[s]: sign patterns whose W+ is s
        for rank in range(1, n + 1):
            for s in range(len(counts) - 1, rank - 1, -1):
                counts[s] += counts[s - rank]
        w = int(w_plus)
        below, above = sum(counts[: w + 1]), sum(counts[w:])
        return min(1.0, 2 * min(below, above) / 2**n)
    if len(d) <= 13:
        totals = [sum(r for k, r in enumerate(ranks) if pattern >> k & 1) for pattern in range(2**n)]
        below, above = sum(t <= w_plus for t in totals), sum(t >= w_plus for t in totals)
        return min(1.0, 2 * min(below, above) / 2**n)
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - sum(t**3 - t for t in groups) / 48
    z = (w_plus - mean) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))
