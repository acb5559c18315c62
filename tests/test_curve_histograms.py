"""samis.curve_histograms: the two per-image histograms are pysodmetrics' own bins, and the curves derived from them
equal pysodmetrics' own per-image precisions, recalls, changeable_fms and changeable_ems (1e-12), on generated
maps with every special case and on real SD-saliency-900 maps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from samis.curve_histograms import curves_from_histograms, histograms
from samis.imageio import read_gray
from samis.metrics import score_image


def _pysodmetrics_curves(pairs) -> np.ndarray:
    """(N, 4, 256) precision, recall, fm, em as pysodmetrics records them, one image at a time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import py_sod_metrics as sod  # noqa: function-local: the module imports it lazily (over a second)
        fm, em = sod.Fmeasure(beta=0.3), sod.Emeasure()  # Fmeasure warns that FmeasureV2 will replace it
    for pred, gt in pairs:
        fm.step(pred, gt)
        em.step(pred, gt)
    return np.stack([np.stack(c) for c in zip(fm.precisions, fm.recalls, fm.changeable_fms, em.changeable_ems)])


def _pysodmetrics_bins(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """pysodmetrics' binning, written out as its source does it (prepare_data, then np.histogram)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from py_sod_metrics.utils import prepare_data  # noqa: function-local: see above
    scaled, truth = prepare_data(pred, gt)
    binned = (scaled * 255).astype(np.uint8)
    bins = np.linspace(0, 256, 257)
    return np.stack([np.histogram(binned[truth], bins=bins)[0], np.histogram(binned[~truth], bins=bins)[0]])


def _generated_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    pairs = []
    for i in range(40):
        shape = (int(rng.integers(2, 24)), int(rng.integers(2, 24)))
        gt = ((rng.random(shape) < rng.random()) * 255).astype(np.uint8)
        pred = rng.integers(0, 256, shape).astype(np.uint8)
        if i % 5 == 0:  # few distinct values: many equal thresholds
            pred = (pred // 64 * 64).astype(np.uint8)
        pairs.append((pred, gt))
    zeros, ones = np.zeros((6, 5), np.uint8), np.full((6, 5), 255, np.uint8)
    mixed = zeros.copy()
    mixed[2:4, 1:3] = 200
    one_pixel = zeros.copy()
    one_pixel[3, 2] = 17
    for pred in (zeros, ones, np.full((6, 5), 128, np.uint8), one_pixel, mixed):  # constant maps, one pixel
        for gt in (zeros, ones, mixed):  # all background, all foreground, both
            pairs.append((pred, gt))
    pairs.append((one_pixel, np.array(one_pixel > 0, np.uint8) * 255))  # the one pixel is the whole defect
    return pairs


def test_histograms_are_pysodmetrics_bins_and_give_its_curves_exactly():
    pairs = _generated_pairs()
    counts = np.stack([histograms(pred, gt) for pred, gt in pairs])
    for (pred, gt), count in zip(pairs, counts):
        assert np.array_equal(count, _pysodmetrics_bins(pred, gt))
        assert count.sum() == pred.size and count[0].sum() == np.count_nonzero(gt > 128)
    derived = curves_from_histograms(counts.astype(np.uint32))  # as the store keeps them
    expected = _pysodmetrics_curves(pairs)
    assert derived.shape == (len(pairs), 4, 256) and derived.dtype == np.float64
    np.testing.assert_allclose(derived, expected, rtol=0, atol=1e-12)


def test_the_scorer_records_the_histograms_of_its_own_curves():
    pred, gt = _generated_pairs()[3]
    scores = score_image(pred, gt)
    assert np.array_equal(scores.histograms, histograms(pred, gt))
    np.testing.assert_allclose(curves_from_histograms(scores.histograms[None])[0], scores.curves, rtol=0, atol=1e-12)


def test_real_sd900_maps_give_pysodmetrics_curves(sd900_dir, sd900_predictions_dir):
    """20 real SD-saliency-900 maps of two methods (skipped without ../shared)."""
    masks = sorted((sd900_dir / "Ground truth").glob("*.png"))[::90]
    pairs = []
    for method in ("RCRR", "SMD"):
        for mask in masks:
            found = list((sd900_predictions_dir / method).glob(f"{mask.stem}.*"))
            if found:
                pairs.append((read_gray(found[0]), read_gray(mask)))
    assert len(pairs) >= 10, "SD-saliency-900 maps not found where the layout puts them"
    counts = np.stack([histograms(pred, gt) for pred, gt in pairs])
    np.testing.assert_allclose(curves_from_histograms(counts), _pysodmetrics_curves(pairs), rtol=0, atol=1e-12)
