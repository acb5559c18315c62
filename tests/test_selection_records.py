"""Selection records: every strategy and prompt kind says per image what it chose, and the record
re-makes the stored map from the mask cache (the test-size SAM, random weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samis.datasets import load_dataset
from samis.errors import SamError
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES, sam_method_id
from samis.sam.masks import read_mask_set
from samis.sam.records import read_selection_record, record_path
from samis.sam.selection import render_weighted
from samis.sam.selection_search import fit_masks
from samis.store import prediction_files, read_prediction, to_uint8_map

LABEL = "sam-tiny-random"


def _render(record, masks: np.ndarray, shape) -> np.ndarray:
    if record.how == "contrast":
        return render_weighted(masks, {int(k): v for k, v in record.details["weights"].items()}, shape)
    if record.whole_image:
        return np.ones(shape, bool)
    out = np.zeros(shape, bool)
    for index in record.chosen:
        out |= ~masks[index] if index in record.negated else masks[index]
    return out


@pytest.mark.parametrize("strategy", list(SELECTION_STRATEGIES))
def test_each_strategy_records_what_it_chose_and_the_record_remakes_the_map(masks_workspace, strategy):
    workspace = masks_workspace
    dataset = load_dataset(workspace, "toy")
    method = sam_method_id(LABEL, strategy)
    files = prediction_files(workspace, "toy", method)
    assert len(files) == len(dataset.samples)
    for sample in dataset.samples:
        record = read_selection_record(workspace, "toy", method, sample.id)
        assert record is not None and record.how == strategy and record.kind == "selection"
        mask_set, _ = read_mask_set(workspace.sam_cache_dir(LABEL, "toy") / f"{sample.id}.npz")
        assert record.n_masks == len(mask_set)
        assert all(0 <= i < len(mask_set) for i in record.chosen)
        assert set(record.negated) <= set(record.chosen)
        assert record.uses_ground_truth == SELECTION_STRATEGIES[strategy]
        assert record.score_name
        gt = sample.read_gt()
        remade = to_uint8_map(_render(record, fit_masks(mask_set, gt.shape).masks, gt.shape))
        np.testing.assert_array_equal(remade, read_prediction(files[sample.id]))


def test_oracle_record_score_is_the_iou_of_its_map(masks_workspace):
    from samis.sam.selection import iou

    dataset = load_dataset(masks_workspace, "toy")
    method = sam_method_id(LABEL, "oracle")
    for sample in dataset.samples:
        record = read_selection_record(masks_workspace, "toy", method, sample.id)
        stored = read_prediction(prediction_files(masks_workspace, "toy", method)[sample.id]) > 0
        assert record.score == pytest.approx(iou(stored, sample.read_gt()), abs=1e-9)
        assert "exact_search" in record.details


@pytest.mark.parametrize("kind", list(PROMPT_KINDS))
def test_prompt_records_hold_the_prompts(masks_workspace, kind):
    from samis.sam.prompts import component_prompts

    for sample in load_dataset(masks_workspace, "toy").samples:
        record = read_selection_record(masks_workspace, "toy", sam_method_id(LABEL, kind), sample.id)
        assert record.kind == "prompt" and record.chosen == [] and record.uses_ground_truth
        boxes, points = component_prompts(sample.read_gt())
        assert len(record.prompts["boxes" if kind == "box" else "points"]) == len(boxes)


def test_a_map_without_record_says_none_and_a_damaged_record_is_an_error(masks_workspace):
    method = sam_method_id(LABEL, "oracle")
    path = record_path(masks_workspace, "toy", method, "img_000")
    path.unlink()
    assert read_selection_record(masks_workspace, "toy", method, "img_000") is None
    path.write_text("{cut")
    with pytest.raises(SamError, match="damaged selection record"):
        read_selection_record(masks_workspace, "toy", method, "img_000")
    path.write_text(json.dumps({"format": 99}))
    with pytest.raises(SamError, match="not a selection record"):
        read_selection_record(masks_workspace, "toy", method, "img_000")
