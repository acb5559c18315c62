"""Uncertainty of every comparison: bootstrap intervals, paired tests and rank stability.

Everything here works from the per-image results an evaluation already holds
(:class:`samis.evaluation.EvaluationResult`): no map is read and no metric re-implemented.

- **Resamples.** ``B`` bootstrap resamples of the images, drawn once from a seeded generator and
  shared by every method, so differences and ranks are paired. Where the images have defect
  classes the resampling is stratified: each class is resampled within itself, keeping its size,
  so every resample has the dataset's class mix (the paper's classes are balanced by design and
  a resample that drops a class would measure another dataset).
- **Exact dataset metrics per resample.** A resample is a vector of counts (how often each image
  was drawn); a dataset score is then a counts-weighted mean. Scalar metrics (Sa, MAE, Fw, adpFm,
  adpEm, IoU, Dice) are weighted means of the per-image values; maxEm, meanEm, maxFm and meanFm
  are the maximum / mean of the weighted mean *curve*, exactly as :func:`samis.metrics.aggregate`
  does for the full set. The resamples are matrix products (n × B counts)ᵀ @ (n × columns), with no
  Python loop over images or resamples.
- **Streaming, bounded memory.** The counts of a block of resamples are held as one small-integer
  (n × b) matrix (uint8: 150 MB for B = 1000 at n = 150,000; b·n ≤ :data:`COUNT_ENTRIES`,
  b ≤ :data:`BLOCK_RESAMPLES`), and each
  method's per-image curves are read once per block through :meth:`MethodResult.curve_chunks
  <samis.evaluation.MethodResult.curve_chunks>`, a bounded block of images at a time, never as a
  whole. Scalar metrics are summed in float64. A curve's resampled sum is its float64 sum over the
  images plus Σ (count − 1) × (curve − a fixed centre) (the same value, since each resample draws n
  images); from :data:`FLOAT32_FROM_IMAGES` images on, those products are float32 (added up in
  float64 block by block): about three times the speed of float64, and within 1e-8 of it (measured
  in benchmarks/bench_stats.py); below, float64. The point estimate is the float64 mean of the
  curves, as :func:`samis.metrics.aggregate` takes it.
- **Intervals.** Percentile intervals (2.5 % and 97.5 % quantiles of the resampled values); see
  the README ("Statistics") for why percentile and not BCa.
- **Paired comparison.** The difference A − B of each metric per resample gives its interval; for
  the per-image metrics a two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon`` with its
  defaults) on the per-image values, Holm-corrected over the comparisons made together.
- **Rank stability.** Each method's rank per resample (1 = best), as challengeR shows it.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from samis.counts import COUNTS, CountError, check_count
from samis.errors import StatsError
from samis.metrics import CURVES, DATASET_METRICS, HIGHER_IS_BETTER, IMAGE_METRICS
from samis.tables.columns import metric_label
from samis.text_table import text_table

#: default number of bootstrap resamples
DEFAULT_RESAMPLES = 1000
#: fewest resamples accepted: below this the 2.5 % quantile rests on two or three values
MIN_RESAMPLES = COUNTS["resamples"].low
#: most resamples accepted (declared in samis.counts with why)
MAX_RESAMPLES = COUNTS["resamples"].high
#: the fixed default seed (same input, same seed → the same intervals, bit for bit)
DEFAULT_SEED = 11
CONFIDENCE = 0.95
INTERVAL_METHOD = "percentile"
TEST_NAME = "two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon), Holm-corrected"
#: metrics that have one value per image: these get a Wilcoxon p-value
PAIRED_METRICS = ("Sa", "MAE", "Fw", "adpFm", "adpEm", "IoU", "Dice")
#: every metric a bootstrap measures: the nine dataset metrics, then the mean IoU and Dice
STAT_METRICS = (*DATASET_METRICS, "IoU", "Dice")

_SCALAR_METRICS = ("Sa", "MAE", "Fw", "adpFm", "adpEm", "IoU", "Dice")
_CURVE_METRICS = {"maxEm": ("em", np.max), "meanEm": ("em", np.mean), "maxFm": ("fm", np.max),
                  "meanFm": ("fm", np.mean)}


# ---- input checks --------------------------------------------------------------------------------
def check_resamples(value, flag: str | None = None) -> int:
    """The number of resamples as an int, in the declared range (:data:`samis.counts.COUNTS`: [100, 100000]).

    Raises:
        StatsError: not a whole number, fewer than :data:`MIN_RESAMPLES` or more than :data:`MAX_RESAMPLES`
            (one line naming ``flag`` when given).
    """
    try:
        return check_count("resamples", value, flag)
    except CountError as error:
        raise StatsError(str(error)) from None


def check_seed(value) -> int:
    """The seed as a non-negative int.

    Raises:
        StatsError: not a whole number >= 0.
    """
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise StatsError(f"the seed must be a whole number, not {str(value)!r}") from None
    if number < 0:
        raise StatsError(f"the seed must be 0 or more, not {number}")
    return number


def check_metrics(names: Sequence[str] | None) -> tuple[str, ...]:
    """Metric names checked against :data:`STAT_METRICS` (aliases Em/Fm accepted), in order, no repeats.

    Raises:
        StatsError: an unknown metric or an empty list.
    """
    if names is None:
        return STAT_METRICS
    aliases = {"Em": "maxEm", "Fm": "maxFm"}
    out: list[str] = []
    for name in names:
        key = aliases.get(name.strip(), name.strip())
        if key not in STAT_METRICS:
            raise StatsError(f"unknown metric {name!r} (choose from {', '.join(STAT_METRICS)})")
        if key not in out:
            out.append(key)
    if not out:
        raise StatsError("no metrics to compare")
    return tuple(out)


# ---- resamples -----------------------------------------------------------------------------------
def resample_indices(n: int, resamples: int, seed: int, strata: Sequence | None = None) -> np.ndarray:
    """The images drawn by each resample: a (resamples, n) matrix of row indices.

    Args:
        n: number of images.
        resamples: number of resamples B.
        seed: seed of ``numpy.random.default_rng``.
        strata: one label per image (defect class); each stratum is resampled within itself, keeping
            its size. None or a single label: plain resampling of all images.

    Returns:
        int64 matrix; row b holds the n indices of resample b (stratum by stratum). It is the
        concatenation of :func:`resample_chunks` (which :func:`bootstrap` uses, so its memory is bounded).
    """
    return np.concatenate(list(resample_chunks(n, resamples, seed, strata)), axis=0)


#: index entries (resamples × images) drawn at once: 2²¹ int64 = 16 MiB, whatever B is
CHUNK_ENTRIES = 1 << 21


def resample_chunks(n: int, resamples: int, seed: int, strata: Sequence | None = None,
                    chunk_entries: int = CHUNK_ENTRIES) -> Iterator[np.ndarray]:
    """The rows of :func:`resample_indices`, a block of rows at a time (at most ``chunk_entries`` indices each).

    The blocks are bit for bit the rows one big draw gives: each stratum draws from its own copy of the
    generator, started where the one big draw would start it (a first pass advances the generator
    through the earlier strata's draws, block by block, keeping nothing).
    """
    rng = np.random.default_rng(seed)
    if strata is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(list(strata), dtype=object)
        groups = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()), key=str)]
    rows = max(1, chunk_entries // max(1, n))
    states = []
    for g, group in enumerate(groups):
        states.append(copy.deepcopy(rng.bit_generator.state))
        if g < len(groups) - 1:  # where the next stratum's draws start
            for start in range(0, resamples, rows):
                rng.integers(0, len(group), size=(min(rows, resamples - start), len(group)))
    generators = []
    for state in states:
        generator = np.random.default_rng()
        generator.bit_generator.state = state
        generators.append(generator)
    for start in range(0, resamples, rows):
        size = min(rows, resamples - start)
        yield np.concatenate([group[gen.integers(0, len(group), size=(size, len(group)))]
                              for group, gen in zip(groups, generators)], axis=1)


def resample_weights(indices: np.ndarray, n: int) -> np.ndarray:
    """Each image's weight in each resample: counts / n, a (B, n) matrix whose rows sum to 1."""
    resamples = indices.shape[0]
    flat = (indices + np.arange(resamples, dtype=np.int64)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n)
    return counts / float(n)


def resample_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each image is drawn in each resample: an (n, B) matrix of the smallest unsigned int type that
    holds the largest count (uint8 unless an image is drawn more than 255 times)."""
    resamples = indices.shape[0]
    flat = (indices + np.arange(resamples, dtype=np.int64)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n)
    return counts.astype(np.min_scalar_type(int(counts.max(initial=0)))).T


#: entries (images × resamples) of the count matrix held at once: 2²⁸ uint8 = 256 MiB, whatever B is
#: (B = 1000 resamples of 150,000 images are one block, so each method's curves are read once)
COUNT_ENTRIES = 1 << 28
#: resamples of one block at most, whatever the number of images: what is made per block of curves (the
#: counts as floats, 4096 images × 2048 × 8 bytes = 64 MiB; the sums, 2048 × 512 × 8 = 8 MiB) stays bounded
BLOCK_RESAMPLES = 2048


def count_blocks(n: int, resamples: int, seed: int, strata: Sequence | None = None) -> Iterator[np.ndarray]:
    """The resamples of :func:`resample_indices` as (n, b) count matrices of consecutive resamples, b·n at most
    :data:`COUNT_ENTRIES` and b at most :data:`BLOCK_RESAMPLES` (b at least 1): column j of the blocks in turn is
    :func:`resample_counts` of row j of :func:`resample_indices`. Drawn through :func:`resample_chunks`; one
    buffer is reused, so a block is valid until the next is asked for."""
    width = min(resamples, BLOCK_RESAMPLES, max(1, COUNT_ENTRIES // max(1, n)))
    block, filled, left = np.zeros((n, width), np.uint8), 0, resamples
    for indices in resample_chunks(n, resamples, seed, strata):
        counts, taken = resample_counts(indices, n), 0
        if counts.dtype.itemsize > block.dtype.itemsize:
            block = block.astype(counts.dtype)
        while taken < counts.shape[1]:
            size = min(min(width, left) - filled, counts.shape[1] - taken)
            block[:, filled:filled + size] = counts[:, taken:taken + size]
            filled, taken = filled + size, taken + size
            if filled == min(width, left):
                yield block[:, :filled]
                left, filled = left - filled, 0


def _feature_columns(metrics: Sequence[str]) -> tuple[list[str], list[str]]:
    scalars = [m for m in _SCALAR_METRICS if m in metrics]
    curves = sorted({_CURVE_METRICS[m][0] for m in metrics if m in _CURVE_METRICS}, key=CURVES.index)
    return scalars, curves


def weighted_metrics(weights: np.ndarray, scalars: np.ndarray, curves: np.ndarray,
                     metrics: Sequence[str] = STAT_METRICS) -> np.ndarray:
    """Dataset metrics of one method under each row of weights (one matrix product).

    Args:
        weights: (B, n) image weights, rows summing to 1 (``np.full((1, n), 1 / n)`` is the dataset itself).
        scalars: (n, len(IMAGE_METRICS)) per-image values.
        curves: (n, len(CURVES), 256) per-image curves.
        metrics: names from :data:`STAT_METRICS`.

    Returns:
        (B, len(metrics)) values; the row of uniform weights equals :func:`samis.metrics.aggregate`.
    """
    scalar_names, curve_names = _feature_columns(metrics)
    blocks = [np.asarray(scalars[:, [IMAGE_METRICS.index(m) for m in scalar_names]], dtype=np.float64)]
    blocks += [np.asarray(curves[:, CURVES.index(c), :], dtype=np.float64) for c in curve_names]
    return _reduce(weights @ np.concatenate(blocks, axis=1), metrics)


def _reduce(means: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """(B, len(metrics)) metrics from (B, features) weighted means: the scalar metrics of
    :func:`_feature_columns` in order, then 256 columns per curve (the max / mean of a curve metric)."""
    scalar_names, curve_names = _feature_columns(metrics)
    out = np.empty((means.shape[0], len(metrics)))
    curve_start = {c: len(scalar_names) + 256 * i for i, c in enumerate(curve_names)}
    for k, metric in enumerate(metrics):
        if metric in _CURVE_METRICS:
            name, reduce = _CURVE_METRICS[metric]
            out[:, k] = reduce(means[:, curve_start[name]:curve_start[name] + 256], axis=1)
        else:
            out[:, k] = means[:, scalar_names.index(metric)]
    return out


def percentile_interval(values: np.ndarray, confidence: float = CONFIDENCE, axis: int = 0) -> np.ndarray:
    """The percentile interval of resampled values: quantiles (1 − c)/2 and (1 + c)/2 along ``axis``."""
    tail = (1.0 - confidence) / 2.0
    return np.quantile(values, [tail, 1.0 - tail], axis=axis)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values (NaN stays NaN and is not counted).

    The k-th smallest of m p-values is multiplied by (m − k + 1), made non-decreasing in that order,
    and capped at 1.
    """
    values = np.asarray(pvalues, dtype=float)
    out = np.full(values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    order = valid[np.argsort(values[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for k, index in enumerate(order):
        running = max(running, min(1.0, (m - k) * values[index]))
        out[index] = running
    return out.tolist()


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired values, as ``scipy.stats.wilcoxon(a, b)`` gives it.

    The convention (scipy's defaults): zero differences are dropped (Wilcoxon's rule) and tied
    |differences| share their mean rank; the p-value is exact for at most 50 pairs with no zero and no
    tie, exact over all 2^n sign patterns for at most 13 pairs otherwise, and else the normal
    approximation with the tie-corrected variance and no continuity correction. Identical values (all
    differences zero) give 1.0, which scipy also returns (with a warning).

    Args:
        a, b: paired per-image values of two methods, same length.

    Returns:
        the p-value in [0, 1].
    """
    from scipy.stats import wilcoxon  # lazy: importing scipy.stats costs about 0.2 s, needed only when comparing

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.all(a - b == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(wilcoxon(a, b).pvalue)


def _higher(metric: str) -> bool:
    return HIGHER_IS_BETTER.get(metric, True)


# ---- the bootstrap of several methods --------------------------------------------------------------
@dataclass
class Bootstrap:
    """Resampled dataset metrics of several methods over the same images and the same resamples.

    Attributes:
        dataset, split: where the per-image results come from.
        methods: the methods, in order.
        metrics: names from :data:`STAT_METRICS`.
        images: the image ids used (those every method has), in split order.
        point: (M, K) the metrics on ``images``.
        samples: (M, B, K) the metrics on each resample.
        per_image: method → (n, len(PAIRED_METRICS)) per-image values on ``images`` (for the tests).
        resamples, seed, strata: B, the seed, and the number of classes resampled within (1: none).
        notes: what a reader must know (e.g. images left out because a method lacks maps).
    """

    dataset: str
    split: str
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    images: list[str]
    point: np.ndarray
    samples: np.ndarray
    per_image: dict[str, np.ndarray]
    resamples: int
    seed: int
    strata: int
    confidence: float = CONFIDENCE
    notes: list[str] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return len(self.images)

    def _m(self, method: str) -> int:
        try:
            return self.methods.index(method)
        except ValueError:
            raise StatsError(f"method {method!r} is not in this bootstrap ({', '.join(self.methods)})") from None

    def _k(self, metric: str) -> int:
        try:
            return self.metrics.index(metric)
        except ValueError:
            raise StatsError(f"metric {metric!r} is not in this bootstrap ({', '.join(self.metrics)})") from None

    def value(self, method: str, metric: str) -> float:
        return float(self.point[self._m(method), self._k(metric)])

    def interval(self, method: str, metric: str) -> tuple[float, float]:
        """The percentile interval of one method's metric."""
        lo, hi = percentile_interval(self.samples[self._m(method), :, self._k(metric)], self.confidence)
        return float(lo), float(hi)

    def intervals(self) -> dict[str, dict[str, tuple[float, float]]]:
        """method → metric → (lo, hi), all at once."""
        bounds = percentile_interval(self.samples, self.confidence, axis=1)  # (2, M, K)
        return {m: {k: (float(bounds[0, i, j]), float(bounds[1, i, j])) for j, k in enumerate(self.metrics)}
                for i, m in enumerate(self.methods)}

    def difference(self, a: str, b: str, metric: str) -> tuple[float, float, float]:
        """(A − B on the images, lo, hi) with the paired-bootstrap percentile interval of the difference."""
        i, j, k = self._m(a), self._m(b), self._k(metric)
        lo, hi = percentile_interval(self.samples[i, :, k] - self.samples[j, :, k], self.confidence)
        return float(self.point[i, k] - self.point[j, k]), float(lo), float(hi)

    def ahead(self, best: str, other: str, metric: str) -> bool:
        """True when ``best`` is significantly better than ``other``: the interval of the difference excludes 0
        on the better side."""
        _, lo, hi = self.difference(best, other, metric)
        return lo > 0 if _higher(metric) else hi < 0

    def gap_interval(self, method: str, against: str, metric: str, definition: str) -> tuple[float, float] | None:
        """Interval of the gap row's percentage (see :mod:`samis.tables.gap`) of ``method`` against ``against``.

        Returns None where a resample's denominator is zero.
        """
        ref = self.samples[self._m(method), :, self._k(metric)]
        top = self.samples[self._m(against), :, self._k(metric)]
        denominator = np.maximum(ref, top) if definition == "larger" else ref
        if np.any(denominator == 0):
            return None
        size = np.abs(ref - top) / np.abs(denominator) * 100.0
        other_better = top > ref if _higher(metric) else top < ref
        signed = np.where(other_better | (size == 0), size, -size)
        lo, hi = percentile_interval(signed, self.confidence)
        return float(lo), float(hi)

    def ranks(self, metric: str) -> np.ndarray:
        """(M, B) rank of each method in each resample (1 = best; ties share the lowest rank)."""
        # lazy: scipy.stats costs about 0.2 s, needed only for rank stability
        from scipy.stats import rankdata

        values = self.samples[:, :, self._k(metric)]
        return rankdata(-values if _higher(metric) else values, method="min", axis=0).astype(int)

    def rank_distribution(self, metric: str) -> np.ndarray:
        """(M, M) share of resamples in which method i has rank r + 1 (rows sum to 1)."""
        ranks = self.ranks(metric)
        m = len(self.methods)
        return np.stack([(ranks == r + 1).mean(axis=1) for r in range(m)], axis=1)

    def point_ranks(self, metric: str) -> np.ndarray:
        """(M,) rank of each method on the images themselves."""
        # lazy: scipy.stats costs about 0.2 s, needed only for rank stability
        from scipy.stats import rankdata

        values = self.point[:, self._k(metric)]
        return rankdata(-values if _higher(metric) else values, method="min").astype(int)

    def wilcoxon(self, a: str, b: str, metric: str) -> float:
        """Two-sided Wilcoxon signed-rank p-value of A and B's per-image values of a per-image metric."""
        if metric not in PAIRED_METRICS:
            raise StatsError(f"{metric} has no per-image value: no Wilcoxon test (per-image metrics: "
                             f"{', '.join(PAIRED_METRICS)})")
        k = PAIRED_METRICS.index(metric)
        return wilcoxon_p(self.per_image[a][:, k], self.per_image[b][:, k])

    def description(self) -> str:
        """The footnote: interval method, B, seed, stratification and the test."""
        strat = f"stratified by defect class ({self.strata} classes)" if self.strata > 1 else "not stratified"
        return (f"[lo, hi]: {self.confidence:.0%} {INTERVAL_METHOD} bootstrap intervals over {self.n_images} images "
                f"(B = {self.resamples}, seed {self.seed}, {strat}); best mark: 'sig.' when the paired-bootstrap "
                f"interval of its difference to the runner-up excludes 0, else 'tied'; tests: {TEST_NAME}")


def bootstrap(evaluation, methods: Sequence[str] | None = None, metrics: Sequence[str] | None = None, *,
              resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, images: Sequence[str] | None = None,
              stratify: bool = True) -> Bootstrap:
    """Resample the images of an evaluation and measure every method on each resample.

    Args:
        evaluation: a :class:`samis.evaluation.EvaluationResult`.
        methods: methods to include (default: all of the evaluation's).
        metrics: names from :data:`STAT_METRICS` (default: all).
        resamples: B (at least :data:`MIN_RESAMPLES`).
        seed: the generator's seed.
        images: only these image ids (e.g. the images a case filter kept); default: all.
        stratify: resample within defect classes when the images have more than one class.

    Returns:
        the :class:`Bootstrap`, over the images every method has (a note says when some were left out).

    Raises:
        StatsError: bad B or seed, an unknown method or metric, or fewer than 2 images in common.
    """
    resamples, seed = check_resamples(resamples), check_seed(seed)
    metrics = check_metrics(metrics)
    names = list(methods) if methods is not None else list(evaluation.methods)
    for name in names:
        if name not in evaluation.methods:
            raise StatsError(f"method {name!r} was not evaluated on {evaluation.dataset}/{evaluation.split} "
                             f"(evaluated: {', '.join(evaluation.methods) or 'none'})")
    if not names:
        raise StatsError("no methods to resample")
    common, notes = _common_images(evaluation, names, images)
    classes = [evaluation.image_classes.get(s, "") for s in common]
    n_strata = len(set(classes))
    stratified = stratify and n_strata > 1
    sums = [_MethodSums(evaluation.methods[name], common, metrics) for name in names]
    samples = np.empty((len(names), resamples, len(metrics)))
    start = 0  # one block of resamples at a time: memory is bounded by the block, not by B
    for counts in count_blocks(len(common), resamples, seed, classes if stratified else None):
        scalar_sums = _scalar_sums(counts, sums)
        for m, method in enumerate(sums):
            means = np.concatenate([scalar_sums[m], method.curve_sums(counts)], axis=1) / len(common)
            samples[m, start:start + counts.shape[1]] = _reduce(means, metrics)
        start += counts.shape[1]
    point = np.stack([_reduce(method.point_means()[None, :], metrics)[0] for method in sums])
    per_image = {name: method.paired for name, method in zip(names, sums)}
    return Bootstrap(evaluation.dataset, evaluation.split, tuple(names), metrics, common, point, samples,
                     per_image, resamples, seed, n_strata if stratified else 1, notes=notes)


def _common_images(evaluation, names: list[str], images: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(the image ids every method has, in split order, among ``images`` if given; notes on those left out)."""
    order = list(evaluation.image_classes)
    wanted = set(order) if images is None else set(images)
    common = [s for s in order if s in wanted]
    notes = []
    for name in names:
        have = set(evaluation.methods[name].stems)
        lacking = [s for s in common if s not in have]
        if lacking:
            notes.append(f"{name} has no map for {len(lacking)} of {len(common)} images: statistics use only the "
                         "images every compared method has")
        common = [s for s in common if s in have]
    if len(common) < 2:
        raise StatsError(f"intervals and tests need at least 2 images that every compared method has; "
                         f"{evaluation.dataset}/{evaluation.split} has {len(common)}")
    return common, notes


#: from this many images on, the curve products are float32 (about 3× the speed of float64 here; their sums
#: are measured within 1e-8 of float64 ones from 8192 images on, the error shrinking with more images); below
#: it, where float64 costs little, they are float64 (within 1e-13 of a float64 mean)
FLOAT32_FROM_IMAGES = 8192

#: images whose counts are turned into float64 at once for the scalar sums (4096 × B = 32 MiB at B = 1000)
_SCALAR_ROWS = 4096


def _scalar_sums(counts: np.ndarray, sums: list["_MethodSums"]) -> list[np.ndarray]:
    """Per method, (b, scalar metrics): Σ over the images of count × value, in float64: one product per block of
    images for every method's columns together (the counts turned into float64 once)."""
    widths = [method.scalar_columns.size for method in sums]
    total = np.zeros((counts.shape[1], sum(widths)))
    if total.shape[1]:
        for start in range(0, counts.shape[0], _SCALAR_ROWS):
            values = np.concatenate([method.paired[start:start + _SCALAR_ROWS][:, method.scalar_columns]
                                     for method in sums], axis=1)
            total += counts[start:start + _SCALAR_ROWS].astype(np.float64).T @ values
    return np.split(total, np.cumsum(widths)[:-1], axis=1)


class _MethodSums:
    """One method's per-image values on a bootstrap's images, and its curves read as a stream.

    The curves come only through :meth:`MethodResult.curve_chunks <samis.evaluation.MethodResult.curve_chunks>`,
    a block of images at a time; the first read also keeps the float64 sum of each curve column (the point
    estimate) and the centre the products are taken around (the mean of the first block).
    """

    def __init__(self, result, images: list[str], metrics: Sequence[str]):
        position = {s: i for i, s in enumerate(result.stems)}
        self.result = result
        self.rows = np.array([position[s] for s in images], dtype=np.int64)  # its row of each image, in image order
        self.image_of = np.full(len(result.stems), -1, dtype=np.int64)  # row → image number
        self.image_of[self.rows] = np.arange(len(images))
        scalar_names, curve_names = _feature_columns(metrics)
        self.paired = np.asarray(result.scalars[self.rows][:, [IMAGE_METRICS.index(m) for m in PAIRED_METRICS]],
                                 dtype=np.float64)  # (n, PAIRED_METRICS)
        self.scalar_columns = np.array([PAIRED_METRICS.index(m) for m in scalar_names], dtype=np.int64)
        picks = [CURVES.index(c) for c in curve_names]
        self.n_curves = len(picks)
        # fm, em are neighbours in CURVES: a slice of a block (one row of 256 × curves per image), no copy
        consecutive = picks == list(range(picks[0], picks[0] + len(picks))) if picks else True
        self.curve_picks = slice(picks[0], picks[0] + len(picks)) if picks and consecutive else picks
        self.total: np.ndarray | None = None  # (256 × curves,) float64 sum over the images, after the first read
        self.centre: np.ndarray | None = None

    def curve_sums(self, counts: np.ndarray) -> np.ndarray:
        """(b, 256 × curves): Σ over the images of count × curve, one read of the curves.

        Computed as total + Σ (count − 1)(curve − centre): the counts of a resample add up to the number of
        images, so the second sum adds nothing but the resample's deviation, small enough for float32 products
        (summed in float64 block by block) from :data:`FLOAT32_FROM_IMAGES` images on.
        """
        width = 256 * self.n_curves
        if not width:
            return np.zeros((counts.shape[1], 0))
        total = np.zeros(width) if self.total is None else None
        products = np.float32 if len(self.rows) >= FLOAT32_FROM_IMAGES else np.float64
        deviation = None
        for positions, block in self.result.curve_chunks(self.rows):
            picked = np.asarray(block)[:, self.curve_picks, :].reshape(len(positions), width)
            if total is not None:
                total += picked.sum(axis=0, dtype=np.float64)
            if self.centre is None:
                self.centre = picked.mean(axis=0, dtype=np.float64).astype(products)
            values = np.subtract(picked, self.centre, dtype=products)
            drawn = np.subtract(counts[self.image_of[positions]], 1, dtype=products)
            product = drawn.T @ values
            deviation = product.astype(np.float64) if deviation is None else np.add(deviation, product, out=deviation)
        if total is not None:
            self.total = total
        return deviation + self.total

    def point_means(self) -> np.ndarray:
        """(scalar metrics + 256 × curves,) the means over the images (the curves' once they were read)."""
        scalars = [float(np.mean(self.paired[:, j])) for j in self.scalar_columns]
        curves = np.zeros(0) if self.total is None else self.total / len(self.rows)
        return np.concatenate([np.asarray(scalars, dtype=np.float64), curves])


# ---- paired comparison of two methods -----------------------------------------------------------------
@dataclass
class PairedComparison:
    """Two methods on the same images: per metric A, B, A − B with its interval, and p-values.

    ``metrics[M]`` holds ``a``, ``b``, ``diff``, ``diff_ci`` ([lo, hi]) and, for per-image metrics,
    ``p_wilcoxon`` and ``p_holm`` (Holm over the per-image metrics of this comparison).
    """

    dataset: str
    split: str
    a: str
    b: str
    n_images: int
    metrics: dict[str, dict]
    resamples: int
    seed: int
    description: str
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict:
        """The ``compare --format json`` document."""
        return {"dataset": self.dataset, "split": self.split, "a": self.a, "b": self.b, "n_images": self.n_images,
                "metrics": self.metrics, "resamples": self.resamples, "seed": self.seed,
                "method": self.description, "notes": list(self.notes)}

    def rows(self) -> list[dict]:
        """One flat dict per metric (for a table display)."""
        out = []
        for metric, entry in self.metrics.items():
            out.append({"metric": metric, "better": "higher" if _higher(metric) else "lower", "A": entry["a"],
                        "B": entry["b"], "A − B": entry["diff"], "lo": entry["diff_ci"][0], "hi": entry["diff_ci"][1],
                        "p (Wilcoxon)": entry.get("p_wilcoxon"), "p (Holm)": entry.get("p_holm"),
                        "verdict": entry["verdict"]})
        return out

    def to_text(self) -> str:
        """An aligned table for a terminal."""
        def number(value, places=4):
            return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{places}f}"

        header = ["metric", "A", "B", "A − B", "95% interval", "p Wilcoxon", "p Holm", "verdict"]
        body = [[metric_label(m), number(e["a"]), number(e["b"]), number(e["diff"], 4),
                 f"[{number(e['diff_ci'][0])}, {number(e['diff_ci'][1])}]", format_p(e.get("p_wilcoxon")),
                 format_p(e.get("p_holm")), e["verdict"]] for m, e in self.metrics.items()]
        lines = [f"{self.dataset} / {self.split}: A = {self.a}, B = {self.b}, {self.n_images} images"]
        lines += text_table(header, body, right_columns=range(1, 7))
        lines += [self.description, *self.notes]
        return "\n".join(lines) + "\n"


def format_p(value) -> str:
    """A p-value as statisticians print it: scientific notation, two significant digits (``3.1e-12``);
    ``< 1e-300`` below that; ``–`` when there is none (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 1e-300:
        return "< 1e-300"
    return f"{value:.1e}"


def _verdict(metric: str, a: str, b: str, lo: float, hi: float) -> str:
    if lo <= 0 <= hi:
        return "tied"
    a_ahead = (lo > 0) == _higher(metric)
    return f"{a if a_ahead else b} better"


def compare_methods(evaluation, a: str, b: str, metrics: Sequence[str] | None = None, *,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                    images: Sequence[str] | None = None) -> PairedComparison:
    """Compare two methods on the images both have.

    Args:
        evaluation: a :class:`samis.evaluation.EvaluationResult` holding both methods.
        a, b: the two methods (differences are A − B).
        metrics: names from :data:`STAT_METRICS` (default: all).
        resamples, seed: the bootstrap's B and seed.
        images: only these image ids (default: all of the split).

    Returns:
        the :class:`PairedComparison`; verdict per metric: ``tied`` when the interval of the difference
        holds 0, else which method is better.

    Raises:
        StatsError: A equals B, an unknown method or metric, bad B or seed, fewer than 2 common images.
    """
    if a == b:
        raise StatsError(f"compare needs two different methods; got {a!r} twice")
    boot = bootstrap(evaluation, [a, b], metrics, resamples=resamples, seed=seed, images=images)
    entries: dict[str, dict] = {}
    tested = [m for m in boot.metrics if m in PAIRED_METRICS]
    pvalues = [boot.wilcoxon(a, b, m) for m in tested]
    adjusted = dict(zip(tested, holm(pvalues)))
    raw = dict(zip(tested, pvalues))
    for metric in boot.metrics:
        diff, lo, hi = boot.difference(a, b, metric)
        entry = {"a": boot.value(a, metric), "b": boot.value(b, metric), "diff": diff, "diff_ci": [lo, hi]}
        if metric in raw:
            entry["p_wilcoxon"], entry["p_holm"] = raw[metric], adjusted[metric]
        entry["verdict"] = _verdict(metric, a, b, lo, hi)
        entries[metric] = entry
    description = (f"{boot.confidence:.0%} {INTERVAL_METHOD} paired-bootstrap intervals of A − B (B = {boot.resamples}, "
                   f"seed {boot.seed}, " + (f"stratified by defect class ({boot.strata} classes)" if boot.strata > 1
                                            else "not stratified") + f"); p: {TEST_NAME} over {len(tested)} metrics")
    return PairedComparison(evaluation.dataset, evaluation.split, a, b, boot.n_images, entries, boot.resamples,
                            boot.seed, description, list(boot.notes))


# ---- methods × methods ---------------------------------------------------------------------------------
@dataclass
class SignificanceMatrix:
    """Every pair of methods on one metric.

    Attributes:
        metric: the metric.
        methods: row and column order.
        diff: (M, M) row − column on the images.
        lo, hi: (M, M) its paired-bootstrap interval.
        p: (M, M) Holm-corrected p-values over all pairs (Wilcoxon for per-image metrics, else the
            paired-bootstrap p: twice the smaller share of resampled differences on either side of 0).
        test: which p it is.
    """

    metric: str
    methods: tuple[str, ...]
    diff: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    p: np.ndarray
    test: str

    def significant(self) -> np.ndarray:
        """(M, M) True where the interval of row − column excludes 0."""
        return (self.lo > 0) | (self.hi < 0)


def significance_matrix(boot: Bootstrap, metric: str) -> SignificanceMatrix:
    """All pairwise differences of one metric with their intervals and Holm-corrected p-values."""
    k = boot._k(metric)
    values = boot.samples[:, :, k]  # (M, B)
    diffs = values[:, None, :] - values[None, :, :]  # (M, M, B)
    bounds = percentile_interval(diffs, boot.confidence, axis=2)
    point = boot.point[:, k][:, None] - boot.point[:, k][None, :]
    m = len(boot.methods)
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    if metric in PAIRED_METRICS:
        raw = [boot.wilcoxon(boot.methods[i], boot.methods[j], metric) for i, j in pairs]
        test = "Wilcoxon signed-rank, Holm over all pairs"
    else:
        raw = [min(1.0, 2 * min(float(np.mean(diffs[i, j] <= 0)), float(np.mean(diffs[i, j] >= 0))))
               for i, j in pairs]
        test = "paired bootstrap, Holm over all pairs"
    p = np.full((m, m), np.nan)
    for (i, j), value in zip(pairs, holm(raw)):
        p[i, j] = p[j, i] = value
    return SignificanceMatrix(metric, boot.methods, point, bounds[0], bounds[1], p, test)
