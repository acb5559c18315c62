"""Image-level detection on good parts: hand-computed values, the Mann–Whitney count, the cache, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from PIL import Image

from samis.datasets import load_dataset, register_dataset
from samis.errors import EvaluationError
from samis.image_level import (cache_path, check_min_area, default_min_area, evaluate_image_level, flagged_regions,
                               fpr_at_tpr, image_scores, mann_whitney_auc, roc_points)
from samis.store import import_predictions

SHAPE = (100, 100)  # default min area: ceil(0.001 · 10000) = 10 pixels


def _map(*blocks) -> np.ndarray:
    """A 100×100 map with rectangular blocks (row, col, height, width, value)."""
    array = np.zeros(SHAPE, np.uint8)
    for r, c, h, w, v in blocks:
        array[r:r + h, c:c + w] = v
    return array


#: image → (class, ground truth is empty, map)
HAND = {
    "free_a": ("none", True, _map()),  # nothing: area 0, max 0
    "free_b": ("none", True, _map((10, 10, 3, 3, 200))),  # 9 px < 10: dropped; max 200
    "free_c": ("none", True, _map((50, 50, 2, 5, 128), (80, 80, 4, 4, 127))),  # 10 px at 128 kept; 127 is below
    "def_d1": ("scratch", False, _map((20, 20, 4, 5, 255))),  # 20 px
    # two 3×3 blocks touching at a corner: one 8-connected region of 18 px; a lone 210 pixel (1 px) dropped
    "def_d2": ("scratch", False, _map((30, 30, 3, 3, 130), (33, 33, 3, 3, 130), (90, 5, 1, 1, 210))),
    "def_d3": ("patch", False, _map((60, 10, 2, 5, 128))),  # 10 px: ties with free_c on area and max
    "def_d4": ("patch", False, _map((70, 70, 1, 5, 250))),  # 5 px: dropped, a miss; max 250
}


@pytest.fixture
def hand_study(tmp_path, workspace):
    root, maps = tmp_path / "hand", tmp_path / "hand-maps"
    for folder in (root / "images", root / "masks", maps):
        folder.mkdir(parents=True)
    rows = []
    for stem, (cls, empty, saliency) in HAND.items():
        gt = np.zeros(SHAPE, np.uint8)
        if not empty:
            gt[40:60, 40:60] = 255
        Image.fromarray(gt).save(root / "masks" / f"{stem}.png")
        Image.fromarray(np.full(SHAPE, 100, np.uint8)).save(root / "images" / f"{stem}.png")
        Image.fromarray(saliency).save(maps / f"{stem}.png")
        rows.append(f"{stem},{cls}")
    (root / "classes.csv").write_text("stem,class\n" + "\n".join(rows) + "\n")
    register_dataset(workspace, "hand", root)
    dataset = load_dataset(workspace, "hand")
    import_predictions(workspace, dataset, "m", maps)
    return workspace, dataset, maps


def test_regions_are_8_connected_at_128_and_at_least_min_area():
    assert default_min_area(SHAPE) == 10 and default_min_area((200, 200)) == 40 and default_min_area((10, 10)) == 1
    assert default_min_area((1001, 1)) == 2  # rounded up
    assert image_scores(HAND["free_b"][2]) == (0.0, 200 / 255, 0)
    assert image_scores(HAND["free_c"][2]) == (10 / 10000, 128 / 255, 1)
    assert image_scores(HAND["def_d2"][2]) == (18 / 10000, 210 / 255, 1)
    assert image_scores(HAND["def_d2"][2], min_area=1) == (19 / 10000, 210 / 255, 2)
    assert image_scores(HAND["def_d4"][2], min_area=5)[0] == 5 / 10000
    assert image_scores(HAND["def_d4"][2], min_area=6)[0] == 0.0
    assert flagged_regions(HAND["def_d2"][2]).sum() == 18


def test_hand_computed_dataset_values(hand_study):
    workspace, dataset, _ = hand_study
    result = evaluate_image_level(workspace, dataset)
    document = result.to_json_dict()
    assert set(document) == {"dataset", "split", "min_area", "methods"}
    assert document["min_area"] == "ceil(0.001*H*W)"
    m = document["methods"]["m"]
    assert (m["n_defect"], m["n_free"]) == (4, 3)
    assert m["false_alarm_rate"] == pytest.approx(1 / 3)
    assert m["miss_rate"] == pytest.approx(1 / 4)
    # area: d1 beats 3, d2 beats 3, d3 beats 2 and ties free_c (½), d4 = 0 ties free_a and free_b (½ + ½)
    assert m["auroc_area"] == pytest.approx(9.5 / 12)
    # max: 255 > all, 210 > all, 128 > 0 and ties 128, 250 > all
    assert m["auroc_max"] == pytest.approx(10.5 / 12)
    # 95 % of 4 defect images = all 4: the threshold must be 0, which flags every defect-free image
    assert m["fpr_at_tpr95"] == 1.0
    scratch, patch = m["per_class"]["scratch"], m["per_class"]["patch"]
    assert set(m["per_class"]) == {"scratch", "patch"}
    assert (scratch["n_defect"], scratch["n_free"]) == (2, 3)
    assert scratch["miss_rate"] == 0.0 and scratch["auroc_area"] == 1.0 and scratch["fpr_at_tpr95"] == 0.0
    assert patch["miss_rate"] == 0.5 and patch["auroc_area"] == pytest.approx(3.5 / 6)
    assert patch["fpr_at_tpr95"] == 1.0
    worst = result.worst_false_alarms("m")
    assert list(worst["image"]) == ["free_c"]


def test_min_area_changes_the_values_and_keeps_its_own_cache(hand_study):
    workspace, dataset, _ = hand_study
    m = evaluate_image_level(workspace, dataset, min_area=5).to_json_dict()["methods"]["m"]
    # free_b (9 px) and def_d4 (5 px) are kept now
    assert m["false_alarm_rate"] == pytest.approx(2 / 3) and m["miss_rate"] == 0.0
    assert m["fpr_at_tpr95"] == pytest.approx(2 / 3)  # threshold 0.0005 flags free_b and free_c
    assert m["auroc_area"] == pytest.approx(9.5 / 12)
    assert cache_path(workspace, "hand", "m", 5).is_file()
    assert not cache_path(workspace, "hand", "m", None).exists()
    assert evaluate_image_level(workspace, dataset, min_area="5").computed == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_is_the_mann_whitney_count(seed):
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(seed)
    positive = rng.integers(0, 6, 40) / 5  # many ties
    negative = rng.integers(0, 4, 70) / 5
    u = mannwhitneyu(positive, negative, alternative="two-sided").statistic
    assert mann_whitney_auc(positive, negative) == pytest.approx(u / (40 * 70), abs=1e-12)
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in positive for n in negative])
    assert mann_whitney_auc(positive, negative) == pytest.approx(brute, abs=1e-12)
    fpr, tpr = roc_points(positive, negative)
    assert np.trapezoid(tpr, fpr) == pytest.approx(brute, abs=1e-12)  # the drawn curve has the same area
    # the corners only (what the page draws): scikit-learn's own thinning of the same curve
    from sklearn.metrics import roc_curve

    labels = np.r_[np.ones(positive.size), np.zeros(negative.size)]
    sk_fpr, sk_tpr, _ = roc_curve(labels, np.r_[positive, negative], drop_intermediate=True)
    thin_fpr, thin_tpr = roc_points(positive, negative, drop_intermediate=True)
    # its corners are scikit-learn's (which also keeps a point on the first vertical run), and nothing is lost
    assert set(zip(thin_fpr.round(12), thin_tpr.round(12))) <= set(zip(sk_fpr.round(12), sk_tpr.round(12)))
    assert len(sk_fpr) - len(thin_fpr) <= 1
    assert np.trapezoid(thin_tpr, thin_fpr) == pytest.approx(brute, abs=1e-12)
    dense_fpr, dense_tpr = roc_points(np.arange(50.0), np.arange(50.0) + 100)  # a straight run: its two ends
    assert roc_points(np.arange(50.0), np.arange(50.0) + 100, drop_intermediate=True)[0].size < dense_fpr.size


def test_auroc_of_the_dataset_equals_mann_whitney_on_its_scores(hand_study):
    from scipy.stats import mannwhitneyu

    workspace, dataset, _ = hand_study
    result = evaluate_image_level(workspace, dataset)
    frame = result.methods["m"].frame()
    for score, key in (("area", "auroc_area"), ("max", "auroc_max")):
        d, f = frame.loc[~frame.defect_free, score], frame.loc[frame.defect_free, score]
        u = mannwhitneyu(d, f).statistic
        assert result.to_json_dict()["methods"]["m"][key] == pytest.approx(u / (len(d) * len(f)))


def test_fpr_at_tpr95_brute_force():
    rng = np.random.default_rng(5)
    positive, negative = rng.random(37).round(1), rng.random(50).round(1)
    best = min((negative >= t).mean() for t in np.concatenate([positive, negative, [0.0]])
               if (positive >= t).mean() >= 0.95)
    assert fpr_at_tpr(positive, negative) == best
    assert math.isnan(fpr_at_tpr([], negative)) and math.isnan(mann_whitney_auc(positive, []))


def test_cache_reads_again_rescores_a_changed_map_and_recomputes_a_damaged_file(hand_study):
    workspace, dataset, maps = hand_study
    first = evaluate_image_level(workspace, dataset)
    assert first.computed == 7
    assert evaluate_image_level(workspace, dataset).computed == 0
    from samis.store import prediction_files

    stored = prediction_files(workspace, "hand", "m")["free_a"]
    Image.fromarray(_map((0, 0, 10, 10, 255))).save(stored)
    again = evaluate_image_level(workspace, dataset)
    assert again.computed == 1
    assert again.to_json_dict()["methods"]["m"]["false_alarm_rate"] == pytest.approx(2 / 3)
    path = cache_path(workspace, "hand", "m", None)
    path.write_bytes(b"not a zip file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repaired = evaluate_image_level(workspace, dataset)
    assert repaired.computed == 7
    assert any("damaged" in str(w.message) or "moved" in str(w.message) for w in caught)
    assert list(path.parent.glob("m.min-default.npz.damaged-*"))
    assert repaired.to_json_dict() == again.to_json_dict()


def test_a_dataset_without_defect_free_or_defect_images_is_refused(workspace, make_folder_dataset, tmp_path):
    root, preds = make_folder_dataset(n=6)
    register_dataset(workspace, "toy", root)
    dataset = load_dataset(workspace, "toy")
    import_predictions(workspace, dataset, "good", preds["good"])
    with pytest.raises(EvaluationError, match="no defect-free images"):
        evaluate_image_level(workspace, dataset)
    root2, preds2 = make_folder_dataset(n=4, name="allgood", empty_gt=4)
    register_dataset(workspace, "allgood", root2)
    dataset2 = load_dataset(workspace, "allgood")
    import_predictions(workspace, dataset2, "good", preds2["good"])
    with pytest.raises(EvaluationError, match="no defect images"):
        evaluate_image_level(workspace, dataset2)


@pytest.mark.parametrize("value", [-1, "-3", "2.5", "ten", 1.5, True])
def test_min_area_must_be_a_whole_number(value):
    with pytest.raises(EvaluationError, match="--min-area must be a whole number"):
        check_min_area(value)
    assert check_min_area("7") == 7 and check_min_area(0) == 0 and check_min_area(None) is None


# ---- the command line ------------------------------------------------------------------------------
def _cli(workspace, *argv):
    import contextlib
    import io

    from samis.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--workspace", str(workspace.root), *argv])
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_the_json_document_and_every_table_format(hand_study):
    import json

    workspace, _, _ = hand_study
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["dataset", "split", "min_area", "methods"]
    assert list(document["methods"]["m"]) == ["n_defect", "n_free", "false_alarm_rate", "miss_rate", "auroc_area",
                                              "auroc_max", "fpr_at_tpr95", "per_class"]
    assert document["methods"]["m"]["auroc_max"] == pytest.approx(10.5 / 12)
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level", "--min-area", "5", "--format", "json")
    assert json.loads(out)["min_area"] == 5 and json.loads(out)["methods"]["m"]["miss_rate"] == 0.0
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level")
    assert code == 0 and "false alarms" in out and "0.333" in out and "0.792" in out
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level", "--format", "csv")
    assert out.splitlines()[0] == "method,upper_bound,n_defect,n_free,false_alarm_rate,miss_rate,auroc_area,auroc_max,fpr_at_tpr95"
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level", "--format", "markdown")
    assert "| m | 4 | 3 | **0.333** | **0.250** |" in out
    code, out, _ = _cli(workspace, "evaluate", "hand", "--image-level", "--format", "latex")
    assert r"\begin{tabular}" in out and r"\textbf{0.792}" in out


@pytest.mark.parametrize("argv, message", [
    (["--image-level", "--min-area", "-1"], "--min-area must be a whole number of pixels ≥ 0, not '-1'"),
    (["--image-level", "--min-area", "2.5"], "--min-area must be a whole number of pixels ≥ 0, not '2.5'"),
    (["--min-area", "4"], "--min-area applies to --image-level only"),
])
def test_cli_bad_min_area_is_one_line(hand_study, argv, message):
    workspace, _, _ = hand_study
    code, out, err = _cli(workspace, "evaluate", "hand", *argv)
    assert code == 2 and out == "" and err == f"error: {message}\n"


def test_cli_dataset_without_good_parts_exits_2_with_one_line(workspace, make_folder_dataset):
    root, preds = make_folder_dataset(n=6)
    register_dataset(workspace, "toy", root)
    import_predictions(workspace, load_dataset(workspace, "toy"), "good", preds["good"])
    code, out, err = _cli(workspace, "evaluate", "toy", "--image-level")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "has no defect-free images" in err


def test_cases_defect_free_only_keeps_the_good_parts():
    import pandas as pd

    from samis.cases import CaseQuery, filter_cases

    table = pd.DataFrame({"class": ["a", "a", "b"], "m": [0.1, 0.5, 0.9]}, index=pd.Index(["x", "y", "z"], name="image"))
    kept = filter_cases(table, ["m"], CaseQuery("m", "Sa", defect_free_only=True), defect_free=["x", "z"])
    assert kept.image_ids == ["z", "x"]
    assert filter_cases(table, ["m"], CaseQuery("m", "Sa"), defect_free=["x"]).image_ids == ["z", "y", "x"]
    none = filter_cases(table, ["m"], CaseQuery("m", "Sa", defect_free_only=True), defect_free=[])
    assert none.image_ids == [] and none.notes
    with pytest.raises(ValueError, match="defect-free filter needs"):
        filter_cases(table, ["m"], CaseQuery("m", "Sa", defect_free_only=True))


def test_false_alarm_grid_draws_the_flagged_regions(hand_study):
    from samis.figures import FLAG_COLOR, draw_flagged_regions, false_alarm_figure
    from samis.store import prediction_files

    workspace, dataset, _ = hand_study
    by_id = dataset.by_id()
    picture = draw_flagged_regions(np.full(SHAPE, 100, np.uint8), flagged_regions(HAND["free_c"][2]))
    assert tuple(picture[50, 50]) == FLAG_COLOR and tuple(picture[0, 0]) == (100, 100, 100)
    assert tuple(picture[80, 80]) == (100, 100, 100)  # the 127 block is not flagged
    figure = false_alarm_figure([by_id["free_c"], by_id["free_b"]], prediction_files(workspace, "hand", "m"), "m",
                                cell=64)
    assert figure.size[0] > 2 * 64 and figure.mode == "RGB"


def test_roc_and_per_class_figures(hand_study):
    from samis.plots import per_class_rate_figure, roc_figure

    workspace, dataset, _ = hand_study
    result = evaluate_image_level(workspace, dataset)
    figure = roc_figure({"m": result.methods["m"].roc("area")}, {"m": "#123456"}, "area", {"m": 0.79})
    assert figure.data[0].name == "m (AUROC 0.790)" and figure.data[0].x[0] == 0.0 and figure.data[0].y[-1] == 1.0
    bars = per_class_rate_figure(result.per_class_frame(), {})
    assert list(bars.data[0].x) == ["patch", "scratch"] and list(bars.data[0].y) == [1.0, 0.0]
