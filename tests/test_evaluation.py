"""evaluate(): equality with a plain pysodmetrics loop, the content-keyed cache, missing maps."""

import os
import time

import numpy as np
import pytest
from PIL import Image
from reference import pysodmetrics_scores

from samis.datasets import get_split, register_dataset
from samis.errors import EvaluationError, StoreError
from samis.evaluation import evaluate
from samis.metrics import DATASET_METRICS
from samis.store import import_predictions

#: dataset metrics read from the per-image curves, which the results store keeps in float32
CURVE_METRICS = ("maxEm", "meanEm", "maxFm", "meanFm")


@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, preds = make_folder_dataset(n=30, empty_gt=2)
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    return dataset, preds


def test_scores_equal_plain_loop_on_every_split(workspace, toy):
    dataset, preds = toy
    for split in ("all", "test"):
        result = evaluate(workspace, dataset, split=split, workers=2)
        samples = get_split(workspace, dataset, split)
        for method, folder in preds.items():
            plain = pysodmetrics_scores([(folder / f"{s.id}.png", s.gt_path) for s in samples])
            ours = result.to_json_dict()["methods"][method]
            assert ours["n_images"] == plain["n_images"]
            for name in DATASET_METRICS:
                # curve metrics come from float32 curves (the results store): within 2^-24 of pysodmetrics'
                tolerance = 1e-7 if name in CURVE_METRICS else 1e-10
                assert ours[name] == pytest.approx(plain[name], abs=tolerance), (split, method, name)


def test_parallel_and_serial_agree_exactly(workspace, toy):
    dataset, _ = toy
    parallel = evaluate(workspace, dataset, workers=2)
    assert parallel.computed == 60
    for method_result in parallel.methods.values():
        (workspace.results_dir("toy") / f"{method_result.method}.parquet").unlink()
    serial = evaluate(workspace, dataset, workers=1)
    for method in parallel.methods:
        assert np.array_equal(parallel.methods[method].scalars, serial.methods[method].scalars)
        assert np.array_equal(parallel.methods[method].curves, serial.methods[method].curves)


def test_cache_recomputes_only_what_changed(workspace, toy, tmp_path):
    dataset, preds = toy
    assert evaluate(workspace, dataset).computed == 60
    assert evaluate(workspace, dataset).computed == 0
    # touching a file without changing its content costs a hash, not a score
    path = workspace.method_dir("toy", "good") / "img_004.png"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert evaluate(workspace, dataset).computed == 0
    # changing one map re-scores that one image of that one method
    array = np.asarray(Image.open(path)).copy()
    array[0, 0] ^= 0xFF
    Image.fromarray(array).save(path)
    again = evaluate(workspace, dataset)
    assert again.computed == 1
    # a new method scores only itself
    import_predictions(workspace, dataset, "weak2", preds["weak"])
    assert evaluate(workspace, dataset).computed == 30
    # and the numbers of the unchanged method stayed the same
    after = evaluate(workspace, dataset)
    assert after.computed == 0
    assert after.to_json_dict()["methods"]["weak"] == again.to_json_dict()["methods"]["weak"]


def test_unchanged_scores_are_identical_from_cache(workspace, toy):
    dataset, _ = toy
    first = evaluate(workspace, dataset).to_json_dict()
    second = evaluate(workspace, dataset).to_json_dict()
    assert first == second


def test_missing_maps_are_refused_with_their_ids_or_scored_when_allowed(workspace, toy):
    dataset, _ = toy
    (workspace.method_dir("toy", "weak") / "img_007.png").unlink()
    (workspace.method_dir("toy", "weak") / "img_011.png").unlink()
    with pytest.raises(EvaluationError, match=r"'weak' has no map for 2 of 30 images of toy/all: img_007, img_011"):
        evaluate(workspace, dataset)
    result = evaluate(workspace, dataset, allow_missing=True)
    assert result.methods["weak"].missing == ["img_007", "img_011"]
    assert result.to_json_dict()["methods"]["weak"]["n_images"] == 28
    assert result.to_json_dict()["methods"]["good"]["n_images"] == 30


def test_map_of_another_size_names_the_file(workspace, toy):
    dataset, _ = toy
    path = workspace.method_dir("toy", "good") / "img_002.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(path)
    with pytest.raises(StoreError, match=r"img_002.png: prediction is 10x10 but the ground truth is 64x48"):
        evaluate(workspace, dataset, methods=["good"], workers=1)


def test_unknown_method_and_empty_dataset(workspace, toy, make_folder_dataset):
    dataset, _ = toy
    with pytest.raises(EvaluationError, match=r"no predictions for method 'nope' \(available: good, weak\)"):
        evaluate(workspace, dataset, methods=["nope"])
    root, _ = make_folder_dataset(n=2, name="bare")
    bare = register_dataset(workspace, "bare", root)
    with pytest.raises(EvaluationError, match="has no predictions yet"):
        evaluate(workspace, bare)


def test_class_scores_and_per_image_frame(workspace, toy):
    dataset, _ = toy
    result = evaluate(workspace, dataset)
    by_class = result.class_scores()
    assert set(by_class) == {"patch", "scratch"}
    assert by_class["scratch"]["good"]["n_images"] == 10
    frame = result.per_image_frame()
    assert len(frame) == 60 and set(frame["class"]) == {"patch", "scratch"}
    assert frame.loc[frame.method == "good", "Sa"].mean() == pytest.approx(result.scores["good"]["Sa"])


@pytest.mark.slow
def test_real_sd900_twelve_methods_equal_pysodmetrics_scores(sd900_store):
    """The check of issue 2: evaluate over the 12 imported methods = an independent plain loop, to 1e-6.

    ``sd900_store`` (conftest.py) registers SD-saliency-900 with ``datasets add``; its ``twelve()`` imports the
    12 published methods, evaluates them over all 900 images and runs the plain pysodmetrics loop on the
    original files, once per session."""
    store = sd900_store
    assert store.cli_code == 0
    assert len(store.methods) == 12 and len(store.dataset.samples) == 900
    ours, plain_scores = store.twelve()
    assert ours["dataset"] == "sd900" and ours["split"] == "all"
    for method in store.methods:
        plain = plain_scores[method]
        assert plain["n_images"] == 900
        for name, value in plain.items():
            assert ours["methods"][method][name] == pytest.approx(value, abs=1e-6), (method, name)
