"""samis.stats: exact resampled metrics, interval coverage, paired tests by their definition, reproducible seeds."""

from __future__ import annotations

import numpy as np
import pytest
from reference import wilcoxon_signed_rank_p

from samis import stats
from samis.errors import StatsError
from samis.evaluation import EvaluationResult, MethodResult
from samis.metrics import CURVES, DATASET_METRICS, IMAGE_METRICS, aggregate
from samis.stats import (
    PAIRED_METRICS, STAT_METRICS, bootstrap, check_resamples, compare_methods, holm, resample_indices,
    resample_weights, significance_matrix, weighted_metrics, wilcoxon_p,
)


def fake_evaluation(n: int = 60, methods=("A", "B", "C"), seed: int = 0, classes=("x", "y", "z"),
                    shift: float = 0.02) -> EvaluationResult:
    """Random per-image values and curves for a few methods, method i a little better than method i-1."""
    rng = np.random.default_rng(seed)
    stems = [f"im{i:03d}" for i in range(n)]
    results = {}
    base = rng.uniform(0.2, 0.8, size=(n, len(IMAGE_METRICS)))
    base_curves = rng.uniform(0.0, 1.0, size=(n, len(CURVES), 256))
    for i, method in enumerate(methods):
        scalars = np.clip(base + i * shift + rng.normal(0, 0.05, base.shape), 0, 1)
        curves = np.clip(base_curves + i * shift + rng.normal(0, 0.05, base_curves.shape), 0, 1)
        results[method] = MethodResult(method, list(stems), scalars, curves)
    image_classes = {s: classes[i % len(classes)] for i, s in enumerate(stems)}
    return EvaluationResult("fake", "all", results, image_classes)


def test_uniform_weights_equal_aggregate_and_resamples_equal_a_plain_loop():
    evaluation = fake_evaluation()
    result = evaluation.methods["B"]
    n = len(result.stems)
    ours = weighted_metrics(np.full((1, n), 1 / n), result.scalars, result.curves, DATASET_METRICS)[0]
    plain = aggregate(result.scalars, result.curves)
    assert ours == pytest.approx([plain[m] for m in DATASET_METRICS], abs=1e-12)
    indices = resample_indices(n, 50, seed=3)
    resampled = weighted_metrics(resample_weights(indices, n), result.scalars, result.curves, DATASET_METRICS)
    for b in range(50):
        scores = aggregate(result.scalars[indices[b]], result.curves[indices[b]])
        assert resampled[b] == pytest.approx([scores[m] for m in DATASET_METRICS], abs=1e-12)


def test_stratified_resamples_keep_each_class_size():
    labels = ["a"] * 5 + ["b"] * 7 + ["c"] * 3
    indices = resample_indices(len(labels), 200, seed=1, strata=labels)
    drawn = np.asarray(labels, dtype=object)[indices]
    for label, size in (("a", 5), ("b", 7), ("c", 3)):
        assert np.all((drawn == label).sum(axis=1) == size)


def test_interval_coverage_is_95_percent_on_simulated_datasets():
    """600 datasets of 80 skewed per-image scores with a known mean: the 95 % interval covers it 93–97 %."""
    rng = np.random.default_rng(2024)
    true_mean = 2 / 7  # Beta(2, 5)
    datasets, n, covered = 600, 80, 0
    column = IMAGE_METRICS.index("Sa")
    for i in range(datasets):
        scalars = np.zeros((n, len(IMAGE_METRICS)))
        scalars[:, column] = rng.beta(2, 5, size=n)
        evaluation = EvaluationResult("sim", "all", {"m": MethodResult("m", [f"{k}" for k in range(n)], scalars,
                                                                       np.zeros((n, len(CURVES), 256)))},
                                      {f"{k}": "one" for k in range(n)})
        lo, hi = bootstrap(evaluation, metrics=["Sa"], resamples=1000, seed=i).interval("m", "Sa")
        covered += lo <= true_mean <= hi
    assert 0.93 <= covered / datasets <= 0.97, covered / datasets


def test_same_seed_same_intervals_other_seed_close():
    evaluation = fake_evaluation(n=900)
    first = bootstrap(evaluation, seed=5).intervals()
    again = bootstrap(evaluation, seed=5).intervals()
    other = bootstrap(evaluation, seed=6).intervals()
    assert first == again
    for method in first:
        for metric, (lo, hi) in first[method].items():
            assert abs(lo - other[method][metric][0]) < 0.004 and abs(hi - other[method][metric][1]) < 0.004


def test_paired_comparison_and_holm():
    evaluation = fake_evaluation(n=120)
    result = compare_methods(evaluation, "C", "A", resamples=500)
    doc = result.to_json_dict()
    assert doc["n_images"] == 120 and doc["a"] == "C" and doc["b"] == "A"
    for metric, entry in doc["metrics"].items():
        assert entry["diff"] == pytest.approx(entry["a"] - entry["b"])
        assert entry["diff_ci"][0] <= entry["diff"] <= entry["diff_ci"][1]
        assert ("p_wilcoxon" in entry) == (metric in PAIRED_METRICS)
    ps = [doc["metrics"][m]["p_wilcoxon"] for m in PAIRED_METRICS]
    assert [doc["metrics"][m]["p_holm"] for m in PAIRED_METRICS] == pytest.approx(holm(ps))
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert doc["metrics"]["Sa"]["verdict"] == "C better"


def test_rank_distribution_and_significance_matrix():
    boot = bootstrap(fake_evaluation(n=300, shift=0.05), resamples=300)
    shares = boot.rank_distribution("Sa")
    assert shares.shape == (3, 3) and np.allclose(shares.sum(axis=1), 1)
    assert shares[2, 0] > 0.9  # C is clearly first
    matrix = significance_matrix(boot, "MAE")
    assert matrix.diff.shape == (3, 3) and np.allclose(np.diag(matrix.diff), 0)
    assert matrix.significant()[0, 2]
    assert significance_matrix(boot, "maxFm").test.startswith("paired bootstrap")


def test_missing_maps_use_the_common_images_and_say_so():
    evaluation = fake_evaluation(n=30)
    a = evaluation.methods["A"]
    evaluation.methods["A"] = MethodResult("A", a.stems[5:], a.scalars[5:], a.curves[5:], missing=a.stems[:5])
    boot = bootstrap(evaluation, ["A", "B"], resamples=100)
    assert boot.n_images == 25 and "A has no map for 5 of 30 images" in boot.notes[0]


@pytest.mark.parametrize("value", ["abc", "99", "-5", "1.5", None])
def test_bad_resamples(value):
    with pytest.raises(StatsError, match="bootstrap resamples"):
        check_resamples(value)


def test_fewer_than_two_images_and_same_method():
    evaluation = fake_evaluation(n=30)
    with pytest.raises(StatsError, match="at least 2 images"):
        bootstrap(evaluation, images=["im000"])
    with pytest.raises(StatsError, match="two different methods"):
        compare_methods(evaluation, "A", "A")


def _assert_p_equal(ours: float, expected: float, label) -> None:
    assert abs(ours - expected) <= 1e-12, (label, ours, expected)
    assert expected == 0 or abs(ours - expected) <= 1e-9 * expected, (label, ours, expected)  # tiny p too


def test_wilcoxon_p_gives_the_published_exact_value():
    """R's documented example (?wilcox.test; Hollander & Wolfe 1973, p. 29, depression scores before x and
    after y therapy): V = 40, one-sided p = 0.01953 = 10/512, so two-sided 20/512 (n = 9, no tie)."""
    x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    assert wilcoxon_p(np.array(x), np.array(y)) == pytest.approx(20 / 512, abs=1e-15)
    assert wilcoxon_signed_rank_p(x, y) == 20 / 512  # the test's own reference agrees with R
    assert wilcoxon_p(np.array(x), np.array(x)) == 1.0


@pytest.mark.parametrize("n", [6, 12, 30, 49, 120, 360])
def test_wilcoxon_p_equals_the_definition(n):
    """Per-image-like scores with ties and zero differences (3 decimals), and without: every branch of the
    convention (exact, all sign patterns, normal approximation with tie correction) against the definition."""
    rng = np.random.default_rng(n)
    for trial in range(20):
        a = rng.uniform(0.2, 0.9, n)
        b = np.clip(a + rng.normal(0.02 * (trial % 3), 0.05, n), 0, 1)
        if trial % 2:
            a, b = np.round(a, 2), np.round(b, 2)  # tied |differences| and zero differences
        _assert_p_equal(wilcoxon_p(a, b), wilcoxon_signed_rank_p(a, b), (n, trial))


def test_wilcoxon_on_real_sd900_equals_the_definition(sd900_store):
    """Paired p-values on real per-image scores (sd900 test split, 360 images) equal the definition.

    FT and RCRR are imported into the session's SD-saliency-900 store (conftest.py) unless a test did already."""
    from samis.evaluation import evaluate

    sd900_store.imported("FT", "RCRR")
    evaluation = evaluate(sd900_store.workspace, sd900_store.dataset, ["FT", "RCRR"], split="test")
    result = compare_methods(evaluation, "RCRR", "FT", resamples=200)
    frame = evaluation.per_image_frame()
    a = frame[frame.method == "RCRR"].set_index("image")
    b = frame[frame.method == "FT"].set_index("image").loc[a.index]
    assert result.n_images == 360
    for metric in PAIRED_METRICS:
        expected = wilcoxon_signed_rank_p(a[metric].to_numpy(), b[metric].to_numpy())
        _assert_p_equal(result.metrics[metric]["p_wilcoxon"], expected, metric)


# ---- the streaming bootstrap (issue 25): counts blocks, curves only through curve_chunks ----------------------
class StreamedOnly(MethodResult):
    """A method result whose curves can only be streamed: reading ``.curves`` fails the test, and
    ``curve_chunks`` yields small blocks in a shuffled order (as a store read by row groups may)."""

    @property
    def curves(self):
        raise AssertionError("the bootstrap read MethodResult.curves instead of streaming curve_chunks")

    @curves.setter
    def curves(self, value):
        self._hidden = np.asarray(value)

    def curve_chunks(self, rows=None):
        rows = np.arange(len(self.stems)) if rows is None else np.asarray(rows, np.int64)
        self.reads = getattr(self, "reads", 0) + 1
        order = np.random.default_rng(len(rows)).permutation(len(rows))
        for start in range(0, len(rows), 7):
            block = rows[order[start:start + 7]]
            yield block, self._hidden[block].astype(np.float32)


def float32_evaluation(n=90, methods=("A", "B"), classes=("x", "y", "z"), streamed=False, seed=4):
    """Like fake_evaluation, with curves that float32 holds exactly (as the results store keeps them) and each
    method's rows in its own order (not the split's), so positions must be mapped back to images."""
    evaluation = fake_evaluation(n=n, methods=methods, classes=classes, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for name, result in list(evaluation.methods.items()):
        order = rng.permutation(n)
        kind = StreamedOnly if streamed else MethodResult
        evaluation.methods[name] = kind(name, [result.stems[i] for i in order], result.scalars[order],
                                        result.curves[order].astype(np.float32).astype(np.float64))
    return evaluation


def plain_resampled(result, stems, indices):
    """(B, DATASET_METRICS + IoU, Dice) with numpy alone: each resample's drawn rows, the float64 mean of their
    per-image values and curves, the max / mean of the mean curves."""
    curves = result._hidden if isinstance(result, StreamedOnly) else result.curves
    position = {s: i for i, s in enumerate(result.stems)}
    rows = np.array([position[s] for s in stems])
    out = []
    for drawn in rows[indices]:
        mean_scalars = result.scalars[drawn].mean(axis=0)
        em = curves[drawn][:, CURVES.index("em")].mean(axis=0)
        fm = curves[drawn][:, CURVES.index("fm")].mean(axis=0)
        value = {"maxEm": em.max(), "meanEm": em.mean(), "maxFm": fm.max(), "meanFm": fm.mean(),
                 **{m: mean_scalars[IMAGE_METRICS.index(m)] for m in PAIRED_METRICS}}
        out.append([value[m] for m in STAT_METRICS])
    return np.array(out)


@pytest.mark.parametrize("stratify, products", [(True, "float64"), (False, "float64"), (True, "float32")])
def test_streaming_bootstrap_equals_a_plain_numpy_reference(stratify, products, monkeypatch):
    if products == "float32":  # the path of 8192 images and more, on small data
        monkeypatch.setattr(stats, "FLOAT32_FROM_IMAGES", 2)
    evaluation = float32_evaluation(n=90)
    wanted = [f"im{i:03d}" for i in range(90) if i % 10 != 3]  # a subset: 81 images, 3 classes of 27
    boot = bootstrap(evaluation, resamples=200, seed=9, images=wanted, stratify=stratify)
    classes = [evaluation.image_classes[s] for s in boot.images]
    indices = resample_indices(len(boot.images), 200, 9, classes if stratify else None)
    assert boot.images == wanted and boot.metrics == STAT_METRICS
    scalar = [STAT_METRICS.index(k) for k in PAIRED_METRICS]
    curve = [STAT_METRICS.index(k) for k in ("maxEm", "meanEm", "maxFm", "meanFm")]
    for m, name in enumerate(boot.methods):
        expected = plain_resampled(evaluation.methods[name], boot.images, indices)
        # per-image metrics: float64 sums, as exact as a float64 mean
        np.testing.assert_allclose(boot.samples[m][:, scalar], expected[:, scalar], rtol=0, atol=1e-13)
        # curve metrics: float64 products below FLOAT32_FROM_IMAGES; float32 products (summed in float64) from
        # there on: 4.2e-8 measured here on 81 images, the error shrinking with more images (see samis.stats)
        tolerance = 1e-13 if products == "float64" else 1e-7
        np.testing.assert_allclose(boot.samples[m][:, curve], expected[:, curve], rtol=0, atol=tolerance)


def test_the_point_estimate_equals_aggregate():
    evaluation = float32_evaluation(n=120, methods=("A", "B", "C"))
    boot = bootstrap(evaluation, resamples=100)
    for name, result in evaluation.methods.items():
        scores = result.scores(boot.images)
        for metric in STAT_METRICS:
            if metric in DATASET_METRICS:
                assert boot.value(name, metric) == pytest.approx(scores[metric], rel=0, abs=1e-12), metric
        for metric in ("IoU", "Dice"):
            assert boot.value(name, metric) == pytest.approx(result.scalars[:, IMAGE_METRICS.index(metric)].mean(),
                                                             rel=0, abs=1e-12)


def test_the_bootstrap_streams_curves_and_never_reads_them_whole():
    """Methods whose .curves raise: bootstrap, compare_methods and the significance matrix still work, each
    method's curves read once (B = 1000 of 90 images is one block of counts), with the values of in-memory
    results."""
    streamed = float32_evaluation(n=90, methods=("A", "B", "C"), streamed=True)
    held = float32_evaluation(n=90, methods=("A", "B", "C"))
    boot = bootstrap(streamed, resamples=1000, seed=2)
    assert [streamed.methods[m].reads for m in "ABC"] == [1, 1, 1]
    reference = bootstrap(held, resamples=1000, seed=2)
    np.testing.assert_allclose(boot.samples, reference.samples, rtol=0, atol=1e-12)
    np.testing.assert_allclose(boot.point, reference.point, rtol=0, atol=1e-12)
    assert significance_matrix(boot, "maxFm").diff.shape == (3, 3)
    paired = compare_methods(streamed, "C", "A", resamples=300).to_json_dict()
    assert paired["metrics"]["maxEm"]["diff"] == pytest.approx(reference.difference("C", "A", "maxEm")[0], abs=1e-12)
    scalar_only = float32_evaluation(n=30, streamed=True)
    bootstrap(scalar_only, metrics=["Sa", "MAE"], resamples=100)
    assert not hasattr(scalar_only.methods["A"], "reads")  # no curve metric asked: the curves are not read


def test_count_blocks_are_the_resampled_counts_bit_for_bit(monkeypatch):
    strata = ["b", "a", "c", "a", "b", "a", "c"] * 5
    indices = resample_indices(len(strata), 1003, 7, strata)
    expected = np.stack([np.bincount(row, minlength=len(strata)) for row in indices], axis=1)
    monkeypatch.setattr(stats, "COUNT_ENTRIES", len(strata) * 300)
    monkeypatch.setattr(stats.resample_chunks, "__defaults__", (None, len(strata) * 64))
    blocks = [block.copy() for block in stats.count_blocks(len(strata), 1003, 7, strata)]
    assert [b.shape[1] for b in blocks] == [300, 300, 300, 103] and blocks[0].dtype == np.uint8
    assert np.array_equal(np.concatenate(blocks, axis=1), expected)
    monkeypatch.setattr(stats, "BLOCK_RESAMPLES", 250)  # few images, many resamples: bounded by resamples too
    blocks = [block.copy() for block in stats.count_blocks(len(strata), 1003, 7, strata)]
    assert [b.shape[1] for b in blocks] == [250, 250, 250, 250, 3]
    assert np.array_equal(np.concatenate(blocks, axis=1), expected)


def test_counts_past_255_widen_the_block_without_losing_what_it_holds(monkeypatch):
    small = np.tile(np.arange(300), (2, 1))  # every image once
    big = np.zeros((2, 300), dtype=np.int64)  # image 0 drawn 300 times
    monkeypatch.setattr(stats, "resample_chunks", lambda *args: iter([small, big]))
    (block,) = list(stats.count_blocks(300, 4, 0))
    assert block.dtype == np.uint16 and block.shape == (300, 4)
    assert np.all(block[:, :2] == 1) and block[0, 2] == 300 and np.all(block[1:, 2:] == 0)
    assert stats.resample_counts(big, 300).dtype == np.uint16
