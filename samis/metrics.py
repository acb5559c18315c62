"""The saliency metrics, computed by pysodmetrics and never re-implemented.

Per image, :func:`score_image` runs pysodmetrics' own classes (``Smeasure``, ``MAE``, ``Emeasure``,
``WeightedFmeasure``, ``Fmeasure``, ``FmeasureV2``) on one prediction and reads back what they
recorded: scalar values and the 256-threshold curves. :func:`aggregate` then averages exactly as
their ``get_results`` does (``np.mean`` over images in float64), so a dataset score equals a plain
pysodmetrics loop over the same files. The results store keeps each image's two histograms
(:attr:`ImageScores.histograms`) instead of its curves; :mod:`samis.curve_histograms` derives the curves from
them by repeating pysodmetrics' own arithmetic, tested equal to pysodmetrics' per-image curves (1e-12).

Conventions (pysodmetrics' own, which follow the MATLAB toolbox):

- ground truth is binarised at > 128; the prediction is divided by 255 and min-max scaled per image
  (``py_sod_metrics.utils.prepare_data``), except a constant map, which keeps its value / 255
  (all-255 stays 1.0, all-0 stays 0);
- S-measure alpha = 0.5; weighted F-measure beta^2 = 1 (Fan's reference code); F-measure beta^2 = 0.3;
- max-F and max-E of a dataset are the maximum of the dataset-averaged curve, not a mean of
  per-image maxima; mean-F / mean-E are the mean of that curve; adaptive values use the threshold
  2 x mean(prediction), capped at 1;
- curves are stored in pysodmetrics order: index 0 is threshold 255, index 255 is threshold 0.
- an image with empty ground truth: S = 1 - mean(pred), weighted F = 0, F-measure = 0 (recall 0),
  E-measure rewards predicting nothing; IoU and Dice at the adaptive threshold are 0.

Smallest image and value ranges (checked, so nothing out of range is ever shown as a score):

- an image (its ground truth, the size it is scored at) needs at least :data:`MIN_IMAGE_SIDE` = 2
  pixels in each dimension: the E-measure divides by H·W − 1 (a 1 × 1 image gives 4.5e15), and the
  S-measure's region term splits the image into four quadrants at the foreground's centroid + 1
  (with one row or one column two quadrants are empty and S is NaN). :func:`score_image` refuses a
  smaller one; ``datasets add`` refuses a dataset that has any;
- S, MAE, weighted F, the F-measure, precision, recall, IoU and Dice lie in [0, 1]; the E-measure
  lies in [0, N / (N − 1)] for an image of N pixels (pysodmetrics and the MATLAB toolbox divide the
  sum of N values ≤ 1 by N − 1), so at most 4/3 for the smallest 2 × 2 image and 1.000025 at
  200 × 200. :func:`aggregate` checks every per-image value and curve against :data:`VALUE_RANGES`
  and raises :class:`~samis.errors.MetricError` naming the metric and the first images otherwise;
- S is NaN, whatever the image size, when the ground truth's centroid lies on the last row or
  column (an empty quadrant times weight 0 in pysodmetrics, as in the MATLAB code); that image is
  refused at aggregation with that explanation rather than averaged into a NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from samis.curve_histograms import FM_BETA, normalized_histograms
from samis.errors import MetricError

#: dataset-level scores, in the order of the ``evaluate --format json`` output
DATASET_METRICS = ("Sa", "MAE", "maxEm", "meanEm", "adpEm", "Fw", "maxFm", "meanFm", "adpFm")
#: per-image scalar values kept for the case browser
IMAGE_METRICS = ("Sa", "MAE", "Fw", "adpFm", "adpEm", "maxFm", "maxEm", "IoU", "Dice")
#: per-image curves, 256 thresholds each
CURVES = ("precision", "recall", "fm", "em")
#: True where a higher value is better
HIGHER_IS_BETTER = {"Sa": True, "MAE": False, "maxEm": True, "meanEm": True, "adpEm": True, "Fw": True,
                    "maxFm": True, "meanFm": True, "adpFm": True, "IoU": True, "Dice": True, "Em": True, "Fm": True,
                    # image level (samis.image_level): good parts against defect images
                    "false_alarm_rate": False, "miss_rate": False, "auroc_area": True, "auroc_max": True,
                    "fpr_at_tpr95": False}
#: image-level scores (defect vs defect-free images), in the order of ``evaluate --image-level``
IMAGE_LEVEL_METRICS = ("false_alarm_rate", "miss_rate", "auroc_area", "auroc_max", "fpr_at_tpr95")

#: the smallest height and width an image may have to be scored (see the module docstring)
MIN_IMAGE_SIDE = 2
_E_MAX = MIN_IMAGE_SIDE**2 / (MIN_IMAGE_SIDE**2 - 1)
#: the documented range of every per-image value and curve (E-measure: N / (N - 1) for the smallest N)
VALUE_RANGES = {**{name: (0.0, 1.0) for name in (*IMAGE_METRICS, *CURVES)},
                "adpEm": (0.0, _E_MAX), "maxEm": (0.0, _E_MAX), "em": (0.0, _E_MAX)}
_TOLERANCE = 1e-9  # float sums (a curve's mean of ones) may land a few ulps past a bound

S_ALPHA = 0.5
FW_BETA = 1.0
# FM_BETA (0.3) comes from samis.curve_histograms, which derives the curves from the histograms with it


@dataclass
class ImageScores:
    """One image's values: ``scalars`` in :data:`IMAGE_METRICS` order, the four curves and the two histograms
    they derive from exactly (:func:`samis.curve_histograms.curves_from_histograms`): what the results store
    keeps."""

    scalars: np.ndarray  # (len(IMAGE_METRICS),)
    curves: np.ndarray  # (len(CURVES), 256)
    histograms: np.ndarray  # (2, 256) int64: the binned map's counts over the foreground, over the background


class _Scorer:
    """pysodmetrics metric objects reused across images; each step's record is taken back at once."""

    def __init__(self):
        # lazy: pysodmetrics pulls in scipy and scikit-learn (over a second), and only scoring needs
        # it; the metric names above are read by tables and CLI commands that score nothing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its import warns, and Fmeasure says FmeasureV2 will replace it
            import py_sod_metrics as sod
            from py_sod_metrics.utils import validate_and_normalize_input

            self.fm = sod.Fmeasure(beta=FM_BETA)
        self._normalize = validate_and_normalize_input
        self.sm = sod.Smeasure(alpha=S_ALPHA)
        self.em = sod.Emeasure()
        self.wfm = sod.WeightedFmeasure(beta=FW_BETA)
        self.mae = sod.MAE()
        self.binary = sod.FmeasureV2(
            {"iou": sod.IOUHandler(with_dynamic=False, with_adaptive=True),
             "dice": sod.DICEHandler(with_dynamic=False, with_adaptive=True)}
        )

    def score(self, pred: np.ndarray, gt: np.ndarray) -> ImageScores:
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        # normalise once with pysodmetrics' own function, then every metric takes the normalised pair
        pred, gt = self._normalize(pred, gt, normalize=True)
        with warnings.catch_warnings():  # an empty quadrant (see the docstring) warns; aggregate() refuses its NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            self.sm.step(pred, gt, normalize=False)
        self.mae.step(pred, gt, normalize=False)
        self.em.step(pred, gt, normalize=False)
        self.wfm.step(pred, gt, normalize=False)
        self.fm.step(pred, gt, normalize=False)
        self.binary.step(pred, gt, normalize=False)
        fm_curve = self.fm.changeable_fms.pop()
        em_curve = self.em.changeable_ems.pop()
        handlers = self.binary._metric_handlers
        scalars = np.array([
            self.sm.sms.pop(),
            self.mae.maes.pop(),
            self.wfm.weighted_fms.pop(),
            self.fm.adaptive_fms.pop(),
            self.em.adaptive_ems.pop(),
            np.max(fm_curve),
            np.max(em_curve),
            handlers["iou"].adaptive_results.pop(),
            handlers["dice"].adaptive_results.pop(),
        ], dtype=np.float64)
        curves = np.stack([self.fm.precisions.pop(), self.fm.recalls.pop(), fm_curve, em_curve]).astype(np.float64)
        return ImageScores(scalars, curves, normalized_histograms(pred, gt))


_scorer: _Scorer | None = None


def prepare_scorer() -> None:
    """Import pysodmetrics and build the shared scorer now, if not done yet.

    Call it before forking worker processes: they inherit the loaded module and scorer instead of
    each importing pysodmetrics again (over a second apiece).
    """
    global _scorer
    if _scorer is None:
        _scorer = _Scorer()


def score_image(pred: np.ndarray, gt: np.ndarray) -> ImageScores:
    """Score one prediction against its ground truth.

    Args:
        pred: uint8 saliency map (H, W), 0..255.
        gt: uint8 ground truth (H, W), 0..255 (binarised at > 128), or a boolean mask.

    Returns:
        ImageScores with the values named in :data:`IMAGE_METRICS` and :data:`CURVES`.

    Raises:
        MetricError: the image is smaller than :data:`MIN_IMAGE_SIDE` in a dimension.
    """
    if gt.ndim != 2 or min(gt.shape) < MIN_IMAGE_SIDE:
        shape = " x ".join(str(n) for n in gt.shape[::-1])
        raise MetricError(f"a {shape} image is too small to score: the metrics need at least "
                          f"{MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE} pixels")
    prepare_scorer()
    if gt.dtype == bool:
        gt = gt.astype(np.uint8) * 255
    return _scorer.score(pred, gt)


def _outside(values: np.ndarray, name: str) -> np.ndarray:
    """Rows (images) where any of ``values`` (one column, or one curve per row) leaves ``name``'s range."""
    low, high = VALUE_RANGES[name]
    values = np.asarray(values, dtype=np.float64)
    values = values.reshape(len(values), int(np.prod(values.shape[1:], dtype=np.int64)))  # (0, 256) too
    return ~np.all((values >= low - _TOLERANCE) & (values <= high + _TOLERANCE), axis=1)  # NaN is outside too


def bad_rows(scalars: np.ndarray | None, curves: np.ndarray | None) -> dict[str, np.ndarray]:
    """``{metric name: rows outside its range in}`` for the metrics with such rows, in :data:`IMAGE_METRICS` then
    :data:`CURVES` order (``scalars`` or ``curves`` None: those are not checked)."""
    columns = [] if scalars is None else [(name, scalars[:, i]) for i, name in enumerate(IMAGE_METRICS)]
    columns += [] if curves is None else [(name, curves[:, i, :]) for i, name in enumerate(CURVES)]
    found = {}
    for name, values in columns:
        bad = np.flatnonzero(_outside(values, name))
        if len(bad):
            found[name] = bad
    return found


def range_error(bad: dict[str, np.ndarray], scalars: np.ndarray, names: list[str] | None = None) -> MetricError | None:
    """The error :func:`check_ranges` raises for ``bad`` (:func:`bad_rows`, rows as positions in ``names``), or None."""
    order = [*IMAGE_METRICS, *CURVES]
    for name in sorted(bad, key=order.index):
        rows = np.sort(bad[name])
        shown = [names[i] if names is not None else f"row {i}" for i in rows[:3]]
        low, high = VALUE_RANGES[name]
        why = (" (the S-measure is undefined when the ground truth's centroid lies on the last row or column)"
               if name == "Sa" and np.isnan(np.asarray(scalars[rows, IMAGE_METRICS.index("Sa")], np.float64)).all()
               else "")
        return MetricError(f"{name} outside its range [{low:g}, {high:.4g}] for {len(rows)} image(s), e.g. "
                           f"{', '.join(shown)}{why}; these scores are not shown")
    return None


def check_ranges(scalars: np.ndarray, curves: np.ndarray, names: list[str] | None = None) -> None:
    """Refuse per-image values outside :data:`VALUE_RANGES` (or NaN) before they are averaged.

    Raises:
        MetricError: naming the metric, how many images and the first of them (``names``, else row numbers).
    """
    error = range_error(bad_rows(scalars, curves), scalars, names)
    if error is not None:
        raise error


def aggregate(scalars: np.ndarray, curves: np.ndarray, names: list[str] | None = None) -> dict:
    """Dataset scores from per-image values, averaged as pysodmetrics' ``get_results`` does.

    Args:
        scalars: (N, len(IMAGE_METRICS)) per-image values.
        curves: (N, len(CURVES), 256) per-image curves.
        names: the images' ids, for the error (default: row numbers).

    Returns:
        dict with ``n_images``, every name in :data:`DATASET_METRICS` (floats) and ``curves``
        (the dataset-averaged precision, recall, fm and em curves as arrays).

    Raises:
        MetricError: a per-image value outside :data:`VALUE_RANGES` (see :func:`check_ranges`).
    """
    if len(scalars) == 0:
        return scores_from_means(scalars, {})
    check_ranges(scalars, curves, names)
    mean_curves = {name: np.mean(np.asarray(curves[:, i, :], dtype=np.float64), axis=0) for i, name in enumerate(CURVES)}
    return scores_from_means(scalars, mean_curves)


def scores_from_means(scalars: np.ndarray, mean_curves: dict[str, np.ndarray]) -> dict:
    """:func:`aggregate`'s dict from per-image values (checked) and the images' mean curves (float64, checked)."""
    n = len(scalars)
    if n == 0:
        return {"n_images": 0, **{m: float("nan") for m in DATASET_METRICS}, "curves": {}}
    column = {name: i for i, name in enumerate(IMAGE_METRICS)}
    mean_scalar = lambda name: float(np.mean(np.asarray(scalars[:, column[name]], dtype=np.float64)))  # noqa: E731
    return {
        "n_images": int(n),
        "Sa": mean_scalar("Sa"),
        "MAE": mean_scalar("MAE"),
        "maxEm": float(mean_curves["em"].max()),
        "meanEm": float(mean_curves["em"].mean()),
        "adpEm": mean_scalar("adpEm"),
        "Fw": mean_scalar("Fw"),
        "maxFm": float(mean_curves["fm"].max()),
        "meanFm": float(mean_curves["fm"].mean()),
        "adpFm": mean_scalar("adpFm"),
        "curves": mean_curves,
    }


def thresholds() -> np.ndarray:
    """The threshold of each curve index (pysodmetrics order: 255 down to 0)."""
    return np.arange(255, -1, -1)
