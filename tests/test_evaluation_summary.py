"""The dashboard's summarized evaluation: no per-image curves held, every score the full result's and pysodmetrics'."""

from __future__ import annotations

import numpy as np
import pytest

from samis.datasets import get_split, load_dataset
from samis.errors import EvaluationError
from samis.evaluation import evaluate
from samis.evaluation_summary import SummarizedEvaluation, summarize_evaluation, summarized
from samis.metrics import DATASET_METRICS
from samis.store import prediction_files
from tests.reference import pysodmetrics_scores


@pytest.fixture
def toy(two_method_toy):
    return two_method_toy


def _one(workspace, dataset, split="all"):
    return lambda method, progress: evaluate(workspace, dataset, methods=[method], split=split, progress=progress)


def test_summary_scores_equal_pysodmetrics_and_the_full_result_per_class_too(toy):
    workspace, dataset = toy
    full = evaluate(workspace, dataset, methods=["good", "weak"], split="all")
    summary = summarize_evaluation(_one(workspace, dataset), ["good", "weak"])
    assert isinstance(summary, SummarizedEvaluation)
    assert all(result.curves is None for result in summary.methods.values())  # nothing images × 4 × 256 kept
    by_id = dataset.by_id()
    for method in ("good", "weak"):
        maps = prediction_files(workspace, "toy", method)
        reference = pysodmetrics_scores((maps[s.id], s.gt_path) for s in get_split(workspace, dataset, "all"))
        for metric in DATASET_METRICS:
            assert summary.scores[method][metric] == pytest.approx(reference[metric], abs=1e-6)
            assert summary.scores[method][metric] == pytest.approx(full.scores[method][metric], rel=1e-12)
        np.testing.assert_allclose(summary.methods[method].scalars, full.methods[method].scalars, rtol=1e-12)
    classes = full.class_scores()
    assert set(summary.class_scores()) == set(classes) and len(classes) >= 2
    for cls, per_method in classes.items():
        members = [i for i, c in full.image_classes.items() if c == cls]
        maps = prediction_files(workspace, "toy", "weak")
        reference = pysodmetrics_scores((maps[i], by_id[i].gt_path) for i in members)
        assert summary.class_scores()[cls]["weak"]["maxFm"] == pytest.approx(reference["maxFm"], abs=1e-6)
        for method, scores in per_method.items():
            assert summary.class_scores()[cls][method]["Sa"] == pytest.approx(scores["Sa"], rel=1e-12)
    assert summary.per_image_frame().equals(full.per_image_frame())


def test_leaving_images_out_equals_the_full_result_without_them(toy):
    workspace, dataset = toy
    drop = tuple(sorted(s.id for s in dataset.samples[:4]))
    full = evaluate(workspace, dataset, methods=["good", "weak"]).without(drop, "4 images left out")
    summary = summarize_evaluation(_one(workspace, dataset), ["good", "weak"], (drop, "4 images left out"))
    assert summary.left_out == "4 images left out" and set(summary.image_classes) == set(full.image_classes)
    for method in ("good", "weak"):
        assert summary.scores[method]["n_images"] == 12
        assert summary.scores[method]["maxEm"] == pytest.approx(full.scores[method]["maxEm"], rel=1e-12)


def test_a_subset_or_a_second_leave_out_needs_the_full_result(toy):
    workspace, dataset = toy
    summary = summarized(evaluate(workspace, dataset, methods=["good"]))
    with pytest.raises(EvaluationError, match="summarized away"):
        summary.methods["good"].scores([dataset.samples[0].id])
    with pytest.raises(EvaluationError, match="cannot leave images out"):
        summary.without([dataset.samples[0].id], "one")


def test_cases_operating_point_scored_one_method_at_a_time_equals_the_joint_run(toy):
    from samis.dashboard import data
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level

    workspace, dataset = toy
    events = []
    light, frame = data.score_operating_point(workspace, dataset, "test", ("good", "weak"), events.append)
    joint = evaluate_pixel_level(workspace, dataset, methods=["good", "weak"], split="test",
                                 options=PixelLevelOptions(allow_missing=True))
    assert all(m.histograms is None for m in light.methods.values())  # no per-image histograms kept
    assert {m: r.threshold for m, r in light.methods.items()} == {m: r.threshold for m, r in joint.methods.items()}
    assert light.notes == joint.notes and light.calibration_split == joint.calibration_split
    expected = joint.per_image_iou_frame()
    assert frame[["image", "method"]].equals(expected[["image", "method"]])
    np.testing.assert_allclose(frame["iou_at_t"], expected["iou_at_t"], rtol=1e-12)
    assert (frame["flagged"] == expected["flagged"]).all()
    assert events[-1].done == events[-1].total and [e.done for e in events] == sorted(e.done for e in events)


def test_progress_counts_every_methods_pairs_once(toy):
    workspace, dataset = toy
    events = []
    summarize_evaluation(_one(workspace, dataset), ["good", "weak"], progress=events.append)
    assert events and events[-1].done == events[-1].total == 32  # 16 images × 2 methods, scored now
    assert [e.done for e in events] == sorted(e.done for e in events)  # never goes back
    assert all(e.total == 32 for e in events)  # both methods have every map: the estimate is exact
