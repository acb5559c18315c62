"""Inspection metrics (issue 22): hand-made cases, scikit-learn and a brute-force AUPRO on real MT data, the cache,
bootstrap and paired differences, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samis.datasets import load_dataset, register_dataset
from samis.errors import EvaluationError
from samis.pixel_level import (PixelLevelOptions, area_to_limit, cache_path, evaluate_pixel_level, image_histograms,
                               size_bin_keys)
from samis.store import import_predictions

SHAPE = (10, 10)


def _half_found():
    """One 20-pixel region (4×5) of which 10 pixels score 200; the rest of the map is 0."""
    gt = np.zeros(SHAPE, bool)
    gt[2:6, 2:7] = True
    saliency = np.zeros(SHAPE, np.uint8)
    saliency[2:4, 2:7] = 200
    return gt, saliency


def _flagged_free():
    """A defect-free image with 5 pixels at 255."""
    saliency = np.zeros(SHAPE, np.uint8)
    saliency[0, :5] = 255
    return np.zeros(SHAPE, bool), saliency


def _tie_at_limit():
    """FPR reaches exactly 0.3 (27 of 90 non-defect pixels at 100) and stays there while PRO climbs to 1."""
    gt = np.zeros(SHAPE, bool)
    gt[0, :10] = True
    saliency = np.zeros(SHAPE, np.uint8)
    saliency[0, :4], saliency[0, 4:7], saliency[0, 7:] = 200, 100, 50
    saliency[1:4, :9] = 100  # 27 non-defect pixels
    return gt, saliency


def _hand_dataset(tmp_path, workspace, images: dict):
    root, maps = tmp_path / "hand", tmp_path / "hand-maps"
    for folder in (root / "images", root / "masks", maps):
        folder.mkdir(parents=True, exist_ok=True)
    for stem, (gt, saliency) in images.items():
        Image.fromarray(gt.astype(np.uint8) * 255).save(root / "masks" / f"{stem}.png")
        Image.fromarray(np.full(SHAPE, 100, np.uint8)).save(root / "images" / f"{stem}.png")
        Image.fromarray(saliency).save(maps / f"{stem}.png")
    register_dataset(workspace, "hand", root)
    dataset = load_dataset(workspace, "hand")
    import_predictions(workspace, dataset, "m", maps)
    return dataset


def _evaluate(workspace, dataset, **options):
    options = {"calibration_split": "all", **options}
    return evaluate_pixel_level(workspace, dataset, split="all", options=PixelLevelOptions(**options), workers=1)


def test_one_region_half_found(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"half": _half_found()})
    result = _evaluate(workspace, dataset)
    m = result.to_json_dict()["methods"]["m"]
    assert m["pixel_auroc"] == pytest.approx(0.75, abs=1e-12)  # (10·80 + 10·½·80) / (20·80)
    assert m["pixel_ap"] == pytest.approx(0.6, abs=1e-12)  # ½·1 + ½·0.2
    assert m["pixel_f1_max"] == pytest.approx(2 / 3, abs=1e-12)
    # (0,0) → (0,0.5) → (1,1): PRO at 0.3 is 0.65; area 0.3·(0.5+0.65)/2, divided by 0.3
    assert m["aupro"]["0.3"] == pytest.approx(0.575, abs=1e-12)
    assert m["aupro"]["0.05"] == pytest.approx((0.5 + 0.525) / 2, abs=1e-12)
    point = m["operating_point"]
    assert point["threshold"] == 1 and point["budget"] == 0.01  # the smallest t with pixel FPR ≤ 1 %: 0 of 80
    assert (point["pixel_fpr"], point["precision"], point["recall"], point["iou"]) == (0.0, 1.0, 0.5, 0.5)
    assert point["pro"] == 0.5 and point["mean_image_iou"] == 0.5 and point["miss_rate"] == 0.0
    assert point["image_false_alarm_rate"] is None or np.isnan(point["image_false_alarm_rate"])
    assert list(m["by_size"]) == ["[0,0.1)", "[0.1,1)", "[1,10)", "[10,100]"]
    assert m["by_size"]["[10,100]"] == {"n_regions": 1, "mean_overlap": 0.5, "found": 1.0}  # 20 % of the image
    assert m["by_size"]["[0,0.1)"]["n_regions"] == 0


def test_a_defect_free_image_flagged(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"half": _half_found(), "free": _flagged_free()})
    # 5 of 180 non-defect pixels at 255: FPR 2.8 % > 1 % for every t ≤ 255, so the threshold is 256
    point = _evaluate(workspace, dataset).to_json_dict()["methods"]["m"]["operating_point"]
    assert point["threshold"] == 256 and point["recall"] == 0.0 and point["image_false_alarm_rate"] == 0.0
    assert point["miss_rate"] == 1.0
    point = _evaluate(workspace, dataset, budget=0.05).to_json_dict()["methods"]["m"]["operating_point"]
    assert point["threshold"] == 1 and point["pixel_fpr"] == pytest.approx(5 / 180)
    assert point["image_false_alarm_rate"] == 1.0 and point["miss_rate"] == 0.0
    assert point["precision"] == pytest.approx(10 / 15) and point["mean_image_iou"] == 0.5
    # image calibration: the one defect-free image is flagged (5 ≥ min area 1) at every t ≤ 255
    point = _evaluate(workspace, dataset, calibrate="image", budget=0.5).to_json_dict()["methods"]["m"]["operating_point"]
    assert point["threshold"] == 256 and point["image_false_alarm_rate"] == 0.0
    point = _evaluate(workspace, dataset, calibrate="image", min_area=6, budget=0.5).to_json_dict()["methods"]["m"]
    # t = 0 flags all 100 pixels; from t = 1 on only the 5 at 255, below min area 6
    assert point["operating_point"]["threshold"] == 1


def test_ties_at_the_limit(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"tie": _tie_at_limit()})
    m = _evaluate(workspace, dataset, budget=0.3).to_json_dict()["methods"]["m"]
    # (0,0) → (0,0.4) → (0.3,0.7) → (0.3,1.0) → (1,1): the vertical step at the limit adds nothing
    assert m["aupro"]["0.3"] == pytest.approx(0.3 * (0.4 + 0.7) / 2 / 0.3, abs=1e-12)
    assert m["aupro"]["0.05"] == pytest.approx(0.05 * (0.4 + 0.45) / 2 / 0.05, abs=1e-12)
    assert m["operating_point"]["threshold"] == 1  # FPR exactly 0.3 ≤ budget 0.3 at t = 1 … 100
    assert m["operating_point"]["pixel_fpr"] == 0.3 and m["operating_point"]["pro"] == 1.0


def test_area_to_limit_interpolates_and_ignores_steps_beyond():
    fpr, pro = np.array([0.0, 0.0, 0.2, 0.2, 0.6, 1.0]), np.array([0.0, 0.5, 0.5, 0.9, 1.0, 1.0])
    assert area_to_limit(fpr, pro, 0.2) == pytest.approx(0.5)
    assert area_to_limit(fpr, pro, 0.4) == pytest.approx((0.2 * 0.5 + 0.2 * (0.9 + 0.95) / 2) / 0.4)


def test_image_histograms_are_8_connected_regions():
    gt = np.zeros((6, 6), bool)
    gt[0, 0] = gt[1, 1] = True  # diagonal: one region
    gt[4:6, 4:6] = True
    saliency = np.arange(36, dtype=np.uint8).reshape(6, 6)
    hist, regions = image_histograms(saliency, gt)
    assert hist.shape == (2, 256) and hist[0].sum() == 6 and hist[1].sum() == 30
    assert sorted(regions.sum(axis=1).tolist()) == [2, 4]
    assert regions[:, 7].sum() == 1 and regions[:, 35].sum() == 1


def test_the_cache_is_per_image_and_serves_other_options(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"half": _half_found(), "free": _flagged_free(),
                                                  "tie": _tie_at_limit()})
    first = _evaluate(workspace, dataset)
    assert first.computed == 3 and cache_path(workspace, "hand", "m").is_file()
    again = _evaluate(workspace, dataset, budget=0.2, size_edges=(1, 5), fpr_limits=(0.1,))
    assert again.computed == 0
    m = again.to_json_dict()["methods"]["m"]
    assert list(m["by_size"]) == ["[0,1)", "[1,5)", "[5,100]"] and list(m["aupro"]) == ["0.1"]


def test_intervals_and_paired_differences(tmp_path, workspace):
    images = {f"img{i}": (_half_found() if i % 3 else _tie_at_limit()) for i in range(6)}
    images["free"] = _flagged_free()
    dataset = _hand_dataset(tmp_path, workspace, images)
    maps = tmp_path / "other"
    maps.mkdir()
    for stem, (_, saliency) in images.items():
        Image.fromarray(255 - saliency).save(maps / f"{stem}.png")
    import_predictions(workspace, dataset, "inverse", maps)
    result = _evaluate(workspace, dataset, resamples=200, seed=3)
    m = result.to_json_dict()["methods"]["m"]
    low, high = m["pixel_auroc_ci"]
    assert low <= m["pixel_auroc"] <= high and "0.3_ci" in m["aupro"] and "f1_ci" in m["operating_point"]
    again = _evaluate(workspace, dataset, resamples=200, seed=3).to_json_dict()["methods"]["m"]
    assert again["pixel_auroc_ci"] == m["pixel_auroc_ci"]  # same seed, same intervals
    difference = result.paired_difference("m", "inverse", resamples=200)
    auroc = difference["pixel_auroc"]
    assert auroc["difference"] == pytest.approx(auroc["a"] - auroc["b"]) and auroc["difference"] > 0
    assert auroc["ci"][0] <= auroc["difference"] <= auroc["ci"][1]


def test_size_bin_keys():
    assert size_bin_keys((0.1, 1, 10)) == ["[0,0.1)", "[0.1,1)", "[1,10)", "[10,100]"]


@pytest.mark.parametrize("options, message", [
    ({"budget": 0}, "--budget"), ({"budget": 1}, "--budget"), ({"budget": "x"}, "--budget"),
    ({"size_edges": (1, 0.1)}, "increasing"), ({"size_edges": (-1, 1)}, "--size-edges"),
    ({"fpr_limits": (0,)}, "--fpr-limit"), ({"calibrate": "both"}, "--calibrate")])
def test_bad_options_are_one_line_and_nothing_is_written(tmp_path, workspace, options, message):
    dataset = _hand_dataset(tmp_path, workspace, {"half": _half_found()})
    with pytest.raises(EvaluationError, match=message) as error:
        _evaluate(workspace, dataset, **options)
    assert "\n" not in str(error.value)
    assert not (workspace.results_dir("hand") / "pixel_level").exists()


def test_no_defect_pixels_is_one_line(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"free": _flagged_free()})
    with pytest.raises(EvaluationError, match="no defect pixels"):
        _evaluate(workspace, dataset)
    assert not (workspace.results_dir("hand") / "pixel_level").exists()


def test_no_non_defect_pixels_is_one_line(tmp_path, workspace):
    dataset = _hand_dataset(tmp_path, workspace, {"full": (np.ones(SHAPE, bool), np.full(SHAPE, 9, np.uint8))})
    with pytest.raises(EvaluationError, match="no non-defect pixels"):
        _evaluate(workspace, dataset)


def test_calibration_without_good_parts_or_images(tmp_path, workspace):
    full = np.ones(SHAPE, bool), np.full(SHAPE, 9, np.uint8)
    dataset = _hand_dataset(tmp_path, workspace, {"full": full, "half": _half_found()})
    with pytest.raises(EvaluationError, match="needs defect-free images"):
        _evaluate(workspace, dataset, calibrate="image")
    assert not (workspace.results_dir("hand") / "pixel_level").exists()
    with pytest.raises(EvaluationError, match="calibration split"):
        _evaluate(workspace, dataset, calibration_split="nonexistent")


# ---- real data: Magnetic Tile with its defect-free images -------------------------------------------------
@pytest.fixture(scope="module")
def mt_study(tmp_path_factory):
    """MT (with MT_Free) in a fresh workspace, with one method: the inverted grey image as a map, on split test."""
    from tests.conftest import SHARED
    from samis.workspace import Workspace

    mt = SHARED / "datasets" / "MT"
    if not mt.is_dir():
        pytest.skip(f"real data not available: {mt} is absent (it lives in ../shared beside the repository)")
    base = tmp_path_factory.mktemp("mt-pixel")
    workspace = Workspace(base / "workspace")
    register_dataset(workspace, "mt", mt, "mt", {"include_defect_free": True})
    dataset = load_dataset(workspace, "mt")
    maps = base / "maps"
    maps.mkdir()
    from samis.datasets import get_split

    samples = get_split(workspace, dataset, "test")
    for sample in samples:
        grey = np.asarray(Image.open(sample.image_path).convert("L"))
        Image.fromarray(255 - grey).save(maps / f"{sample.id}.png")
    import_predictions(workspace, dataset, "inverted", maps)
    result = evaluate_pixel_level(workspace, dataset, split="test",
                                  options=PixelLevelOptions(calibration_split="test"), workers=2)
    return samples, maps, result


def _pixels(samples, maps):
    """Each image's (map values, ground truth) read straight from the files."""
    from samis.imageio import read_mask

    for sample in samples:
        yield np.asarray(Image.open(maps / f"{sample.id}.png")).ravel(), read_mask(sample.gt_path)[0].ravel()


def test_pixel_auroc_and_ap_equal_scikit_learn_on_real_mt(mt_study):
    from sklearn.metrics import average_precision_score, roc_auc_score

    samples, maps, result = mt_study
    counts = np.zeros(512, np.int64)  # (score, label) pairs: index = score · 2 + label
    for values, gt in _pixels(samples, maps):
        counts += np.bincount(values.astype(np.int64) * 2 + gt, minlength=512)
    pairs = np.flatnonzero(counts)
    scores, labels, weights = pairs // 2, pairs % 2, counts[pairs]
    assert labels.min() == 0 and labels.max() == 1 and weights.sum() > 10_000_000
    m = result.to_json_dict()["methods"]["inverted"]
    assert abs(m["pixel_auroc"] - roc_auc_score(labels, scores, sample_weight=weights)) < 1e-9
    assert abs(m["pixel_ap"] - average_precision_score(labels, scores, sample_weight=weights)) < 1e-9


def _brute_force_aupro(pairs: list[tuple[np.ndarray, np.ndarray]], limits) -> dict[float, float]:
    """AUPRO from its definition: label regions (scipy, 8-connected), flag ``map ≥ t`` for every t, integrate."""
    from scipy import ndimage

    regions = []
    negatives = []
    for saliency, gt in pairs:
        labels, count = ndimage.label(gt, structure=np.ones((3, 3)))
        regions += [saliency[labels == k] for k in range(1, count + 1)]
        negatives.append(saliency[~gt])
    negatives = np.concatenate(negatives)
    fpr, pro = [], []
    for t in range(256, -1, -1):
        fpr.append(np.count_nonzero(negatives >= t) / negatives.size)
        pro.append(np.mean([np.count_nonzero(r >= t) / r.size for r in regions]))
    fpr, pro = np.array(fpr), np.array(pro)
    out = {}
    for limit in limits:
        inside = fpr <= limit
        x = np.append(fpr[inside], limit)
        y = np.append(pro[inside], np.interp(limit, fpr, pro) if fpr[inside][-1] < limit else pro[inside][-1])
        area = sum((x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2 for i in range(len(x) - 1))
        out[limit] = area / limit
    return out


def test_aupro_equals_a_brute_force_reference_on_200_real_images(mt_study):
    from samis.pixel_level import feature_table, weighted_values

    samples, maps, result = mt_study
    method = result.methods["inverted"]
    defect = [s for s, free in zip(method.histograms.stems, method.histograms.free) if not free][:120]
    free = [s for s, f in zip(method.histograms.stems, method.histograms.free) if f][:80]
    chosen = [s for s in samples if s.id in set(defect) | set(free)]
    pairs = [(v.reshape(-1), g.reshape(-1)) for v, g in _pixels(chosen, maps)]
    shapes = [np.asarray(Image.open(maps / f"{s.id}.png")).shape for s in chosen]
    reference = _brute_force_aupro([(v.reshape(sh), g.reshape(sh)) for (v, g), sh in zip(pairs, shapes)], (0.3, 0.05))
    part = method.histograms.subset([s.id for s in chosen])
    values = weighted_values(np.ones((1, len(chosen))), feature_table(part, 128, result.options), 128)
    assert len(chosen) == 200
    for limit in (0.3, 0.05):
        assert abs(values[f"aupro/{limit:g}"][0] - reference[limit]) < 1e-9


# ---- the command line ------------------------------------------------------------------------------------
def _cli(workspace, capsys, *args):
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), "evaluate", "hand", "--pixel-level", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_issue_json_shape(tmp_path, workspace, capsys):
    import json

    _hand_dataset(tmp_path, workspace, {"half": _half_found(), "free": _flagged_free(), "tie": _tie_at_limit()})
    code, out, err = _cli(workspace, capsys, "--split", "all", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["dataset", "split", "calibration_split", "calibration_overlap", "methods"]
    assert document["calibration_overlap"] is True and "overlaps" in err  # train is part of all
    m = document["methods"]["m"]
    assert list(m) == ["pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro", "operating_point", "by_size"]
    assert list(m["aupro"]) == ["0.3", "0.05"]
    assert list(m["operating_point"]) == ["budget", "threshold", "pixel_fpr", "precision", "recall", "f1", "iou",
                                          "mean_image_iou", "pro", "image_false_alarm_rate", "miss_rate"]
    assert list(m["by_size"]) == ["[0,0.1)", "[0.1,1)", "[1,10)", "[10,100]"]
    assert list(m["by_size"]["[10,100]"]) == ["n_regions", "mean_overlap", "found"]
    code, out, _ = _cli(workspace, capsys, "--split", "all", "--calibration-split", "all", "--ci", "200",
                        "--format", "json")
    m = json.loads(out)["methods"]["m"]
    assert "calibration_overlap" in json.loads(out)  # the same split: it overlaps
    assert len(m["pixel_auroc_ci"]) == 2 and "0.05_ci" in m["aupro"] and "miss_rate_ci" in m["operating_point"]
    for fmt in ("table", "csv", "md", "latex"):
        code, out, _ = _cli(workspace, capsys, "--split", "all", "--format", fmt)
        assert code == 0 and "AUPRO" in out or "aupro" in out


@pytest.mark.parametrize("args, message", [
    (("--budget", "0"), "--budget"), (("--budget", "1.2"), "--budget"), (("--size-edges", "1,0.5"), "increasing"),
    (("--size-edges=-1,2",), "--size-edges"), (("--calibration-split", "nope"), "calibration split"),
    (("--calibrate", "image"), "needs defect-free images"), (("--fpr-limit", "0"), "--fpr-limit")])
def test_cli_bad_input_is_one_line_and_nothing_is_written(tmp_path, workspace, capsys, args, message):
    _hand_dataset(tmp_path, workspace, {"half": _half_found(), "tie": _tie_at_limit()})
    code, out, err = _cli(workspace, capsys, "--split", "all", *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert not (workspace.results_dir("hand") / "pixel_level").exists()


def test_ragged_row_cache_round_trip_drop_and_damage(tmp_path):
    from samis.result_cache import RaggedRowCache

    values = {"hist": ("iu", (4,)), "regions": ("iu", (4,))}
    cache = RaggedRowCache(tmp_path / "m.npz", values, 1)
    cache.put("a", (1, 2), "ha", "ga", {"hist": np.arange(8).reshape(2, 4), "regions": np.zeros((0, 4))})
    cache.put("b", (3, 4), "hb", "gb", {"hist": np.ones((2, 4)), "regions": np.full((3, 4), 7)})
    cache.save()
    again = RaggedRowCache(tmp_path / "m.npz", values, 1)
    index, stats, pred_hashes, _ = again.key_columns()
    assert again.lookup("b") == ("hb", "gb") and (stats[index["a"]], pred_hashes[index["a"]]) == ((1, 2), "ha")
    rows = again.rows_for(["b", "a"])
    assert rows["regions"][0].shape == (3, 4) and rows["regions"][1].shape == (0, 4)
    assert rows["hist"][1].tolist() == np.arange(8).reshape(2, 4).tolist()
    again.drop(["b"])
    again.save()
    assert RaggedRowCache(tmp_path / "m.npz", values, 1).lookup("b") is None
    data = dict(np.load(tmp_path / "m.npz"))
    data["regions_count"] = data["regions_count"] + 5  # counts that do not add up: damaged, moved aside
    np.savez(tmp_path / "m.npz", **data)
    with pytest.warns(Warning, match="damaged"):
        assert RaggedRowCache(tmp_path / "m.npz", values, 1).lookup("a") is None
    assert not (tmp_path / "m.npz").exists()


def test_metric_sets_put_saliency_and_inspection_side_by_side(tmp_path, workspace):
    from samis.evaluation import evaluate
    from samis.tables.metric_sets import METRIC_SETS, MetricSetTable

    images = {"half": _half_found(), "free": _flagged_free(), "tie": _tie_at_limit()}
    dataset = _hand_dataset(tmp_path, workspace, images)
    inspection = _evaluate(workspace, dataset)
    saliency = evaluate(workspace, dataset, split="all").scores
    assert METRIC_SETS == ("paper (saliency)", "inspection", "both")
    paper = MetricSetTable("paper (saliency)", saliency, title="t")
    assert paper.header() == ["method", "Sa ↑", "MAE ↓", "Em ↑", "Fw ↑", "Fm ↑"]
    only = MetricSetTable("inspection", None, inspection, title="t")
    assert only.header()[1:4] == ["pixel AUROC ↑", "pixel AP ↑", "pixel F1-max ↑"]
    both = MetricSetTable("both", saliency, inspection, title="t")
    assert len(both.header()) == 1 + 5 + len(only.columns)
    record = both.records()[0]
    assert record["pixel AUROC"] == inspection.methods["m"].values["pixel_auroc"]
    assert record["Sa"] == saliency["m"]["Sa"]
    for text in (both.to_text(), both.to_csv(), both.to_markdown(), both.to_latex()):
        assert "AUROC" in text or "auroc" in text
    with pytest.raises(ValueError, match="metric set"):
        MetricSetTable("all of them", saliency, inspection)


# ---- the worst missed regions (Inspection page) -----------------------------------------------------------
def _three_regions():
    """Three regions: A (3×3) half-flagged-ish, B (2×2) missed, C (1×3) missed; a 4th (1×1) fully found."""
    gt = np.zeros(SHAPE, bool)
    saliency = np.zeros(SHAPE, np.uint8)
    gt[0:3, 0:3] = True
    saliency[0, 0:3] = 200  # A: 3 of 9
    gt[5:7, 5:7] = True  # B: 4 px, nothing flagged
    gt[9, 0:3] = True  # C: 3 px, nothing flagged
    gt[0, 9] = True
    saliency[0, 9] = 255  # D: found
    return gt, saliency


def test_worst_regions_are_the_lowest_overlap_ones_largest_first(tmp_path, workspace):
    import cv2

    from samis.figures import FLAGGED_FILL, REGION_OUTLINE, missed_region_crop, region_mask

    other_gt, other_map = _half_found()
    dataset = _hand_dataset(tmp_path, workspace, {"a": _three_regions(), "b": (other_gt, other_map)})
    result = _evaluate(workspace, dataset)
    t = result.methods["m"].threshold
    brute = []  # from the definition: every 8-connected region, its flagged share at t
    for sample in dataset.samples:
        gt = sample.read_gt()
        saliency = np.asarray(Image.open(tmp_path / "hand-maps" / f"{sample.id}.png"))
        count, labels = cv2.connectedComponents(gt.astype(np.uint8), connectivity=8)
        for k in range(1, count):
            region = labels == k
            brute.append((float((saliency[region] >= t).mean()), -int(region.sum()), sample.id, k - 1))
    brute.sort(key=lambda r: (r[0], r[1]))
    worst = result.worst_regions("m", 3)
    assert list(zip(worst["image"], worst["region"])) == [(r[2], r[3]) for r in brute[:3]]
    assert list(worst["overlap"]) == pytest.approx([r[0] for r in brute[:3]])
    assert list(worst["area"]) == [4, 3, 9]  # B and C both missed: the larger first; then A at 1/3
    assert list(worst["overlap"]) == pytest.approx([0.0, 0.0, 1 / 3])
    assert len(result.worst_regions("m", 99)) == 5 and result.worst_regions("m", 0).empty
    with pytest.raises(EvaluationError, match="not evaluated"):
        result.worst_regions("nope")
    # the crop: the region outlined in orange, the flagged pixels in blue
    gt, saliency = _three_regions()
    crop = missed_region_crop(np.full(SHAPE, 100, np.uint8), gt, saliency, 0, t, side=40)
    colours = {tuple(c) for c in crop.reshape(-1, 3)}
    assert REGION_OUTLINE in colours
    assert any(c[2] > c[0] + 20 for c in colours)  # blue-tinted fill where flagged
    assert region_mask(gt, 2).sum() == 4  # OpenCV labels in raster order: A, D, B, C
    with pytest.raises(ValueError, match="regions"):
        region_mask(gt, 4)
    assert FLAGGED_FILL != REGION_OUTLINE


def test_report_metric_set_inspection_prints_the_evaluate_values(tmp_path, workspace, capsys):
    import json

    from samis.cli import main

    _hand_dataset(tmp_path, workspace, {"half": _half_found(), "free": _flagged_free(), "tie": _tie_at_limit()})
    _, out, _ = _cli(workspace, capsys, "--split", "all", "--format", "json")
    expected = json.loads(out)["methods"]["m"]

    def report(*args):
        code = main(["--workspace", str(workspace.root), "report", "hand", "--split", "all", *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    document = json.loads(report("--metric-set", "inspection", "--format", "json"))
    values = document["methods"]["m"]
    assert values["pixel_auroc"] == expected["pixel_auroc"] and values["aupro@0.3"] == expected["aupro"]["0.3"]
    assert values["aupro@0.05"] == expected["aupro"]["0.05"] and values["f1"] == expected["operating_point"]["f1"]
    assert "Sa" not in values and document["split"] == "all" and document["calibration_split"] == "train"
    text = report("--metric-set", "inspection")
    assert f"{expected['pixel_auroc']:.3f}" in text and f"{expected['aupro']['0.3']:.3f}" in text
    assert "pixel AUROC" in text
    both = json.loads(report("--metric-set", "both", "--format", "json"))
    assert {"Sa", "pixel_auroc"} <= set(both["methods"]["m"])
    for fmt, marker in (("csv", "pixel_auroc"), ("markdown", "pixel AUROC"), ("latex", r"\begin{table")):
        assert marker in report("--metric-set", "inspection", "--format", fmt)
    html = report("--metric-set", "both", "--format", "html", "-o", "-")
    assert "<table" in html and "pixel AUROC" in html and "metric_set=both" in html
    # the default stays the paper's comparison table (which wants two methods here)
    assert main(["--workspace", str(workspace.root), "report", "hand", "--split", "all"]) == 2
    assert "at least two methods" in capsys.readouterr().err


def test_a_method_missing_maps_is_refused_before_any_method_is_scored(tmp_path, workspace):
    """Methods are listed and scored one at a time (one listing in memory): the refusal still comes first."""
    import shutil

    dataset = _hand_dataset(tmp_path, workspace, {"half": _half_found(), "free": _flagged_free()})
    partial = tmp_path / "partial-maps"
    partial.mkdir()
    shutil.copy(workspace.method_dir("hand", "m") / "half.png", partial / "half.png")
    import_predictions(workspace, dataset, "z", partial)  # a map for one of the two images
    with pytest.raises(EvaluationError, match=r"method 'z' has no map for 1 of 2 images of hand/all: free"):
        evaluate_pixel_level(workspace, dataset, ["m", "z"], split="all",
                             options=PixelLevelOptions(calibration_split="all"), workers=1)
    assert not cache_path(workspace, "hand", "m").exists(), "the method before it was not scored"
    result = evaluate_pixel_level(workspace, dataset, ["m", "z"], split="all", workers=1,
                                  options=PixelLevelOptions(calibration_split="all", allow_missing=True))
    assert result.methods["z"].missing == ["free"] and result.methods["z"].n_images == 1
    assert result.methods["m"].missing == [] and result.methods["m"].n_images == 2
