"""Box prompts as a protocol (issue 24): jitter draws, boxes from another method's maps, the method ids."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from samis.baselines.run import compute_baseline
from samis.datasets import register_dataset
from samis.errors import SamError, SamisError
from samis.methods import box_method_id, describe
from samis.prompts.box_run import BoxRun, run_box_prompts
from samis.prompts.jitter import check_jitter, image_rng, jitter_boxes
from samis.prompts.source import region_boxes
from samis.runner import EngineSpec
from samis.store import prediction_files, read_manifest
from samis.workspace import Workspace


def _main(workspace, capsys, *args):
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ---- jitter ------------------------------------------------------------------------------------------
def test_jitter_is_reproducible_from_the_seed_and_stays_inside_the_image():
    boxes = np.array([[0, 0, 9, 19], [30, 5, 59, 44], [70, 40, 79, 49]], float)
    shape = (50, 80)
    one = jitter_boxes(boxes, 20, image_rng(3, "img_007"), shape)
    assert np.array_equal(one, jitter_boxes(boxes, 20, image_rng(3, "img_007"), shape))  # same seed, same draws
    assert not np.array_equal(one, jitter_boxes(boxes, 20, image_rng(4, "img_007"), shape))
    assert not np.array_equal(one, jitter_boxes(boxes, 20, image_rng(3, "img_008"), shape))  # per image
    for seed in range(50):
        moved = jitter_boxes(boxes, 20, image_rng(seed, "x"), shape)
        assert (moved[:, [0, 2]] >= 0).all() and (moved[:, [0, 2]] <= 79).all()
        assert (moved[:, [1, 3]] >= 0).all() and (moved[:, [1, 3]] <= 49).all()
        assert (moved[:, 0] <= moved[:, 2]).all() and (moved[:, 1] <= moved[:, 3]).all()
        width, height = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
        limit = 0.2 * np.stack([width, height, width, height], axis=1) + 1e-9
        assert (np.abs(moved - boxes) <= limit).all()  # no side moves more than 20 % (clipping only shortens)
    np.testing.assert_array_equal(jitter_boxes(boxes, 0, image_rng(1, "x"), shape), boxes)


def test_jitter_draws_are_uniform_over_plus_minus_p():
    boxes = np.tile([[100, 100, 199, 199]], (4000, 1)).astype(float)  # width 100 px, far from the edges
    moved = jitter_boxes(boxes, 10, np.random.default_rng(0), (1000, 1000))
    shifts = (moved - boxes)[:, 0]
    assert -10 <= shifts.min() < -9.9 and 9.9 < shifts.max() <= 10 and abs(shifts.mean()) < 0.2


@pytest.mark.parametrize("value", ["-1", "-0.01", "101", "nan", "lots"])
def test_bad_jitter_is_one_line(value):
    with pytest.raises(SamError, match="--box-jitter"):
        check_jitter(value)


# ---- boxes from a map ---------------------------------------------------------------------------------
def test_region_boxes_follow_image_level_regions():
    saliency = np.zeros((100, 100), np.uint8)
    saliency[10:20, 10:30] = 200  # 200 px: kept
    saliency[50:52, 50:52] = 255  # 4 px: below the minimum area (10 px for 100 x 100)
    saliency[70:80, 60:70] = 127  # below 128: not a region
    saliency[30:40, 60:70] = 128
    saliency[40, 70] = 128  # 8-connected to the region above (diagonally)
    assert region_boxes(saliency).tolist() == [[10, 10, 29, 19], [60, 30, 70, 40]]


def test_method_ids_say_the_jitter_and_the_source():
    jitter = describe(box_method_id("vit_b", jitter=10, seed=2))
    assert (jitter.id, jitter.prompt, jitter.box_jitter, jitter.jitter_seed) == ("sam-vit_b+box:jitter=10:seed=2", "box", 10.0, 2)
    assert jitter.upper_bound  # the boxes come from the ground truth
    free = describe(box_method_id("vit_b", source="ft"))
    assert free.prompt == "box" and free.prompt_source == "ft" and not free.upper_bound
    assert "from the maps of ft" in free.note
    plus = describe(box_method_id("tiny", source="sam-tiny-random+small-union"))
    assert plus.id == "sam-tiny-random+box:from=sam-tiny-random+small-union"
    assert plus.prompt_source == "sam-tiny-random+small-union" and plus.strategy is None and not plus.upper_bound
    assert plus.random_weights
    oracle = describe(box_method_id("vit_b", source="sam-vit_b+oracle"))  # boxes of an upper bound: an upper bound
    assert oracle.upper_bound and oracle.prompt_source == "sam-vit_b+oracle"
    assert describe("sam-vit_b+box").upper_bound  # the plain ground-truth boxes stay upper bounds


# ---- runs --------------------------------------------------------------------------------------------
@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, _ = make_folder_dataset(n=5, empty_gt=1)
    return root, register_dataset(workspace, "toy", root)


def test_prompt_source_never_opens_a_ground_truth_file(workspace, toy):
    root, dataset = toy
    compute_baseline(workspace, dataset, "otsu")
    masks = sorted((root / "masks").iterdir())
    for path in masks:
        path.write_bytes(b"not an image: the ground truth must not be read")  # planted unreadable files
    opened: list[str] = []
    watching = [True]

    def audit(event, args):
        if watching[0] and event == "open" and args and str(args[0]).startswith(str(root / "masks")):
            opened.append(str(args[0]))

    sys.addaudithook(audit)
    try:
        report = run_box_prompts(workspace, dataset, BoxRun("tiny", source="otsu", device="cpu"))
    finally:
        watching[0] = False
    assert opened == []
    assert report.method == "sam-tiny-random+box:from=otsu" and not report.upper_bound
    assert len(prediction_files(workspace, "toy", report.method)) == 5
    manifest = read_manifest(workspace, "toy", report.method)
    assert manifest["prompt_source"] == "otsu" and manifest["upper_bound"] is False
    with pytest.raises(SamisError):  # the planted files are unreadable indeed: ground-truth boxes fail on them
        run_box_prompts(workspace, dataset, BoxRun("tiny", jitter=5, seed=0, device="cpu"))


def test_jitter_run_writes_one_method_per_seed_and_resumes(workspace, toy):
    _, dataset = toy
    first = run_box_prompts(workspace, dataset, BoxRun("tiny", jitter=10, seed=1, device="cpu"))
    assert first.method == "sam-tiny-random+box:jitter=10:seed=1" and first.upper_bound
    assert first.empty == ["img_000"]  # the defect-free image has no box: an empty map, counted
    files = prediction_files(workspace, "toy", first.method)
    kept = files["img_002"].read_bytes()
    files["img_003"].unlink()
    again = run_box_prompts(workspace, dataset, BoxRun("tiny", jitter=10, seed=1, device="cpu"))
    assert (again.computed, again.cached) == (1, 4)
    assert prediction_files(workspace, "toy", first.method)["img_002"].read_bytes() == kept
    assert again.empty == ["img_000"]


@pytest.mark.parametrize("args, words", [
    (["--box-jitter", "-5"], "--box-jitter"),
    (["--box-jitter", "5", "--seed", "x"], "--seed"),
    (["--prompt-source", "nothing"], "no maps of 'nothing'"),
    (["--box-jitter", "5", "--prompt-source", "ft"], "one of them"),
])
def test_bad_box_protocol_input_is_one_line_and_writes_nothing(workspace, toy, capsys, args, words):
    before = _files(workspace.root)
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--selection", "none",
                           "--prompts", "box", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err
    assert _files(workspace.root) == before


def test_box_protocol_flags_need_prompts_box(workspace, toy, capsys):
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--box-jitter", "5")
    assert code == 2 and "--prompts box" in err


def test_box_protocol_alone_runs_no_automatic_masks(workspace, toy, capsys):
    import json

    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny", "--device", "cpu", "--selection", "none",
                           "--prompts", "box", "--box-jitter", "0,20", "--seed", "3", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert [b["method"] for b in document["boxes"]] == ["sam-tiny-random+box:jitter=0:seed=3",
                                                        "sam-tiny-random+box:jitter=20:seed=3"]
    assert all(b["upper_bound"] and b["images"] == 5 for b in document["boxes"])
    assert not workspace.sam_cache_dir("sam-tiny-random", "toy").exists()  # no automatic masks were made


@pytest.mark.slow
def test_box_prompts_on_ray_write_the_bytes_of_a_local_run(ray_cluster, tmp_path, make_folder_dataset):
    """A box run (from another method's maps, and jittered ground-truth boxes) on Ray writes the same map files as
    a local run."""
    root, _ = make_folder_dataset(n=4, empty_gt=1)
    written = []
    for name, engine in (("local", None), ("ray", EngineSpec("ray", workers=2))):
        workspace = Workspace(tmp_path / name)
        dataset = register_dataset(workspace, "toy", root)
        compute_baseline(workspace, dataset, "otsu", workers=1)
        files = {}
        for run in (BoxRun("tiny", source="otsu", device="cpu", engine=engine),
                    BoxRun("tiny", jitter=10, seed=3, device="cpu", engine=engine)):
            report = run_box_prompts(workspace, dataset, run)
            assert report.computed == 4
            files.update({(report.method, stem): path.read_bytes()
                          for stem, path in prediction_files(workspace, "toy", report.method).items()})
        written.append(files)
    assert len(written[0]) == 8 and written[0] == written[1]
