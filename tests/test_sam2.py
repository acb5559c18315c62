"""SAM 2.1 through the official sam2 package: the test-size SAM 2 (random weights) through the whole pipeline,
method ids, wrong checkpoints, and the conversion of SAM2AutomaticMaskGenerator's output."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from samis.datasets import register_dataset
from samis.errors import SamError
from samis.methods import RANDOM_WEIGHTS_SAM2_NOTE, UPPER_BOUND_NOTE, describe, sam_method_id
from samis.models import MODEL_CHOICES, SAM2_MODELS, find_model, get_model
from samis.sam.params import Sam2AmgParams, params_for_model

pytest.importorskip("sam2")

# every threshold open and no NMS, so random weights still leave masks in every stage
SAM2_FAST = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
             "--box-nms-thresh", "1.0"]
SAM2_FAST_PARAMS = Sam2AmgParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                                 box_nms_thresh=1.0)


def _main(workspace, capsys, *args):
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _image(seed: int = 0, shape=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gray = rng.normal(120, 20, shape).clip(0, 255).astype(np.uint8)
    gray[10:25, 20:40] = 220
    return np.repeat(gray[:, :, None], 3, axis=2)


# ---- models and method ids ------------------------------------------------------------------------

def test_sam2_models_are_choices_with_labels():
    assert {"tiny-sam2", "hiera_t", "hiera_s", "hiera_b+", "hiera_l"} <= set(MODEL_CHOICES)
    assert get_model("tiny-sam2").label == "sam2-tiny-random" and get_model("tiny-sam2").random_weights
    assert find_model("sam2.1-hiera_l").key == "hiera_l" and not get_model("hiera_l").random_weights
    assert sam_method_id("hiera_l", "oracle") == "sam2.1-hiera_l+oracle"
    assert sam_method_id("tiny-sam2", "box") == "sam2-tiny-random+box"


@pytest.mark.parametrize("method, model, strategy, prompt, upper, random", [
    ("sam2.1-hiera_l+oracle", "hiera_l", "oracle", None, True, False),
    ("sam2.1-hiera_l+box", "hiera_l", None, "box", True, False),
    ("sam2.1-hiera_b++point", "hiera_b+", None, "point", True, False),
    ("sam2.1-hiera_t+contrast", "hiera_t", "contrast", None, False, False),
    ("sam2-tiny-random+oracle", "tiny-sam2", "oracle", None, True, True),
    ("sam2-tiny-random+small-union", "tiny-sam2", "small-union", None, False, True),
    ("sam-vit_h+oracle", "vit_h", "oracle", None, True, False),
])
def test_describe_sam2_method_ids(method, model, strategy, prompt, upper, random):
    info = describe(method)
    assert info.family == "sam" and info.is_sam
    assert info.model.key == model
    assert (info.strategy, info.prompt, info.upper_bound, info.random_weights) == (strategy, prompt, upper, random)


def test_tiny_sam2_note_says_random_weights_and_upper_bound():
    note = describe("sam2-tiny-random+oracle").note
    assert RANDOM_WEIGHTS_SAM2_NOTE in note and UPPER_BOUND_NOTE in note
    assert describe("sam2.1-hiera_l+small-union").note == ""


def test_catalogue_shapes_match_the_sam2_package_configs():
    """The Hiera widths and depths samis uses to tell a checkpoint's type are those of sam2's own configs."""
    from hydra import compose

    import sam2  # noqa: F401  (initialises hydra with the package's configs)

    for model in SAM2_MODELS.values():
        trunk = compose(config_name=model.config).model.image_encoder.trunk
        stages = trunk.get("stages", (2, 3, 16, 3))  # Hiera's default (hiera_b+ leaves it out)
        assert (trunk.embed_dim, sum(stages)) == model.encoder_shape, model.key


def test_sam2_only_parameters_refused_for_sam():
    assert params_for_model(get_model("hiera_t"), {"use_m2m": True, "pred_iou_thresh": None}).pred_iou_thresh == 0.8
    assert params_for_model(get_model("vit_b"), {"pred_iou_thresh": None}).pred_iou_thresh == 0.88
    with pytest.raises(SamError, match="use_m2m is a SAM 2.1 generator parameter"):
        params_for_model(get_model("tiny"), {"use_m2m": True})


# ---- the generator ----------------------------------------------------------------------------------

def test_mask_set_equals_the_official_generators_output():
    """samis's MaskSet holds exactly what SAM2AutomaticMaskGenerator returns, mask for mask."""
    from samis.sam.engine import SamEngine, load_sam
    from samis.sam.sam2_backend import stock_generator

    loaded = load_sam("tiny-sam2", device="cpu")
    params = Sam2AmgParams(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=0.9)
    image = _image()
    mask_set = SamEngine(loaded, params).generate(image)
    records = stock_generator(loaded.model, params).generate(image)
    assert len(mask_set) == len(records) > 0
    assert np.array_equal(mask_set.masks, np.stack([r["segmentation"] for r in records]))
    assert np.allclose(mask_set.predicted_iou, [r["predicted_iou"] for r in records])
    assert np.allclose(mask_set.stability_score, [r["stability_score"] for r in records])
    assert mask_set.area.tolist() == [r["area"] for r in records]
    assert mask_set.bbox.tolist() == [[int(v) for v in r["bbox"]] for r in records]
    assert np.allclose(mask_set.point_coords, [r["point_coords"][0] for r in records])


def test_sam2_parameters_change_the_masks():
    """use_m2m, multimask_output and the thresholds reach the official generator."""
    from samis.sam.engine import SamEngine, load_sam

    loaded = load_sam("tiny-sam2", device="cpu")
    image = _image(1)
    base = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
    three = SamEngine(loaded, Sam2AmgParams(**base)).generate(image)
    one = SamEngine(loaded, Sam2AmgParams(**base, multimask_output=False)).generate(image)
    assert len(three) == 3 * 16 and len(one) == 16
    m2m = SamEngine(loaded, Sam2AmgParams(**base, use_m2m=True)).generate(image)
    assert len(m2m) == 48 and not np.allclose(m2m.predicted_iou, three.predicted_iou)
    strict = SamEngine(loaded, Sam2AmgParams(**{**base, "pred_iou_thresh": float(np.median(three.predicted_iou))}))
    assert 0 < len(strict.generate(image)) < len(three)


def test_tiny_sam2_is_seeded_and_labelled_random():
    from samis.sam.engine import load_sam
    from samis.sam.sam2_backend import build_tiny_sam2

    first, second = build_tiny_sam2(), build_tiny_sam2()
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    provenance = load_sam("tiny-sam2", device="cpu").provenance()
    assert provenance["model"] == "sam2-tiny-random" and provenance["weights"].startswith("random")
    assert provenance["package"].startswith("sam2 ") and "SAM2AutomaticMaskGenerator" in provenance["generator"]
    with pytest.raises(SamError, match="takes no checkpoint"):
        load_sam("tiny-sam2", "x.pt", device="cpu")


# ---- the whole pipeline -----------------------------------------------------------------------------

def test_cli_tiny_sam2_every_strategy_prompts_and_resume(workspace, make_folder_dataset, capsys):
    from samis.sam.masks import read_mask_set
    from samis.sam.selection import STRATEGIES
    from samis.store import read_manifest

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root, "folder")
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam2", *SAM2_FAST, "--device", "cpu",
                           "--selection", ",".join(STRATEGIES), "--prompts", "box,point", "--format", "table")
    assert code == 0, err
    assert "sam2-tiny-random has random weights" in out and "nothing about SAM 2.1" in out
    cache = workspace.sam_cache_dir("sam2-tiny-random", "toy")
    assert sorted(p.stem for p in cache.glob("*.npz")) == ["img_000", "img_001", "img_002"]
    mask_set, provenance = read_mask_set(cache / "img_000.npz")
    assert len(mask_set) == 48 and mask_set.shape == (48, 64)
    assert provenance["package"].startswith("sam2 ") and provenance["params"]["use_m2m"] is False
    for how in [*STRATEGIES, "box", "point"]:
        method = f"sam2-tiny-random+{how}"
        folder = workspace.method_dir("toy", method)
        assert sorted(p.stem for p in folder.glob("*.png")) == ["img_000", "img_001", "img_002"], method
        assert read_manifest(workspace, "toy", method) is not None
    prompted = read_manifest(workspace, "toy", "sam2-tiny-random+box")
    assert prompted["model"] == "sam2-tiny-random" and prompted["upper_bound"] is True
    # the mask explorer reads the SAM 2 cache and every selection made of it
    from samis.mask_explorer import cached_models, explore_masks

    assert cached_models(workspace, "toy") == ["sam2-tiny-random"]
    explorer = explore_masks(workspace, "toy", "img_001", "tiny-sam2")
    assert len(explorer.table) == 48
    assert {v.how for v in explorer.selections} == {*STRATEGIES, "box", "point"}

    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam2", *SAM2_FAST, "--device", "cpu",
                           "--selection", "none", "--format", "json")
    assert code == 0, err
    run = json.loads(out)["run"]
    assert (run["computed"], run["cached"]) == (0, 3)
    # another SAM 2-only parameter is another result: the cache is not reused
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", "tiny-sam2", *SAM2_FAST, "--device", "cpu",
                           "--single-mask", "--selection", "none", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["run"]["computed"] == 3


@pytest.mark.parametrize("model, filename", [("hiera_t", "sam2.1_hiera_tiny.pt"), ("vit_b", "sam_vit_b_01ec64.pth")])
def test_without_checkpoint_the_workspace_file_is_used(workspace, make_folder_dataset, capsys, model, filename):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root, "folder")
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", model)
    folder = workspace.checkpoints_dir
    assert code == 2 and err.strip() == (f"error: --model {model} needs --checkpoint PATH (the official "
                                         f"{'SAM 2.1' if model == 'hiera_t' else 'SAM'} {model} weights), or {filename} "
                                         f"in {folder}: python -m samis checkpoints download {model}")
    folder.mkdir(parents=True)
    (folder / filename).write_bytes(b"x" * 1000)  # an interrupted copy: picked up, then refused as truncated
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", model)
    lines = err.strip().splitlines()
    assert code == 2 and lines[0] == f"note: checkpoint {folder / filename} (the workspace's; --checkpoint names another)"
    assert len(lines) == 2 and lines[1].startswith(f"error: {folder / filename}") and "truncated" in lines[1]
    assert not workspace.sam_cache_dir(get_model(model).label, "toy").exists()
    # prompts load the model themselves: the same file is used
    from samis.datasets import load_dataset
    from samis.sam.run import write_sam_maps

    with pytest.raises(SamError, match=f"^{re.escape(str(folder / filename))}: .*truncated"):
        write_sam_maps(workspace, load_dataset(workspace, "toy"), model, "box")


def test_cli_one_line_errors(workspace, make_folder_dataset, capsys, tmp_path):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root, "folder")
    with pytest.raises(SystemExit) as exit_info:
        _main(workspace, capsys, "sam", "toy", "--model", "hiera_xl")
    assert exit_info.value.code == 2 and "invalid choice: 'hiera_xl'" in capsys.readouterr().err
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "vit_b", "--use-m2m", "--checkpoint", "x.pth")
    assert code == 2 and err.count("\n") == 1 and "use_m2m is a SAM 2.1 generator parameter" in err
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "hiera_l")
    assert code == 2 and "needs --checkpoint" in err and "SAM 2.1" in err
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "hiera_l", "--checkpoint", str(tmp_path / "no.pt"))
    assert code == 2 and "checkpoints download hiera_l" in err and err.count("\n") == 1
    sam_file = _sam_shaped(tmp_path / "weights.pth", width=1280, depth=32)
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "hiera_l", "--checkpoint", str(sam_file))
    assert code == 2 and err.count("\n") == 1
    assert f"{sam_file}: a SAM vit_h checkpoint, not SAM 2.1 hiera_l; use --model vit_h" in err
    sam2_file = _sam2_shaped(tmp_path / "weights.pt")
    code, _, err = _main(workspace, capsys, "sam", "toy", "--model", "vit_h", "--checkpoint", str(sam2_file))
    assert code == 2 and err.count("\n") == 1
    assert f"{sam2_file}: a SAM 2.1 hiera_l checkpoint, not SAM vit_h; use --model hiera_l" in err


# ---- wrong checkpoints ------------------------------------------------------------------------------

def _sam_shaped(path, width=768, depth=12):
    state = {"image_encoder.pos_embed": torch.zeros(1, 4, 4, width),
             "image_encoder.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}
    state.update({f"image_encoder.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(depth)})
    torch.save(state, path)
    return path


def _sam2_shaped(path, width=144, depth=48):
    state = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}
    state.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(depth)})
    torch.save({"model": state}, path)  # SAM 2's files wrap the weights in {"model": …}
    return path


def test_sam_checkpoint_given_to_a_sam2_model_is_refused(tmp_path):
    from samis.sam.engine import load_sam

    path = _sam_shaped(tmp_path / "weights.pth")
    with pytest.raises(SamError) as error:
        load_sam("hiera_l", path, device="cpu")
    assert str(error.value) == f"{path.resolve()}: a SAM vit_b checkpoint, not SAM 2.1 hiera_l; use --model vit_b"


def test_sam2_checkpoint_given_to_a_sam_model_is_refused(tmp_path):
    from samis.sam.engine import load_sam

    path = _sam2_shaped(tmp_path / "weights.pt")
    with pytest.raises(SamError) as error:
        load_sam("vit_h", path, device="cpu")
    assert str(error.value) == f"{path.resolve()}: a SAM 2.1 hiera_l checkpoint, not SAM vit_h; use --model hiera_l"
    with pytest.raises(SamError, match="holds a SAM 2.1 hiera_l model, not hiera_t; use --model hiera_l"):
        load_sam("hiera_t", path, device="cpu")


def test_official_sam2_file_names_checked(tmp_path):
    from samis.sam.checkpoints import check_checkpoint_file

    cut = tmp_path / "sam2.1_hiera_large.pt"
    cut.write_bytes(b"x" * 1000)
    with pytest.raises(SamError, match="truncated"):
        check_checkpoint_file(cut, "hiera_l")
    with pytest.raises(SamError, match="official hiera_l checkpoint, but --model vit_h was given"):
        check_checkpoint_file(cut, "vit_h")
    sam = tmp_path / "sam_vit_b_01ec64.pth"
    sam.write_bytes(b"x")
    with pytest.raises(SamError, match="official vit_b checkpoint, but --model hiera_b\\+ was given"):
        check_checkpoint_file(sam, "hiera_b+")


def test_sam2_weights_that_do_not_fit_the_config_are_one_line(tmp_path):
    """A file with the right trunk shape but not the rest fails loading with a named one-line error."""
    from samis.sam.engine import load_sam

    path = _sam2_shaped(tmp_path / "weights.pt", width=96, depth=12)
    with pytest.raises(SamError) as error:
        load_sam("hiera_t", path, device="cpu")
    message = str(error.value)
    assert message.startswith(f"{path.resolve()}: weights do not fit SAM 2.1 hiera_t (") and "\n" not in message


def test_a_sam2_checkpoint_of_july_2024_is_named_as_such(tmp_path):
    """SAM 2 (not 2.1) weights lack exactly the parts SAM 2.1 added: the error says which file to get."""
    from samis.sam.sam2_backend import SAM21_ONLY_KEYS, _import_sam2, build_sam2_from_state

    model = get_model("hiera_t")
    build_sam2, _, _ = _import_sam2()
    full = build_sam2(model.config, None, device="cpu").state_dict()
    old = {key: value for key, value in full.items() if not key.startswith(SAM21_ONLY_KEYS)}
    assert 0 < len(full) - len(old) <= 3  # no_obj_embed_spatial, obj_ptr_tpos_proj.weight and .bias
    path = tmp_path / "sam2_hiera_tiny.pt"
    with pytest.raises(SamError) as error:
        build_sam2_from_state(model, old, path)
    assert str(error.value) == (f"{path}: a SAM 2 checkpoint (July 2024), not SAM 2.1; samis runs SAM 2.1: get "
                                "sam2.1_hiera_tiny.pt with `python -m samis checkpoints download hiera_t`")
    del old["image_encoder.neck.convs.0.conv.weight"]  # something else missing too: the general message
    with pytest.raises(SamError, match="weights do not fit SAM 2.1 hiera_t"):
        build_sam2_from_state(model, old, path)
    assert build_sam2_from_state(model, full, path) is not None


# ---- speed ------------------------------------------------------------------------------------------

def test_speed_subject_for_tiny_sam2():
    """The speed table's SAM 2 subject: labelled random weights, the official generator, parameters counted;
    its run makes masks (timing it is the speed table's own tested protocol)."""
    from samis.speed import sam_subjects, split_speed_methods

    _, requested = split_speed_methods(["sam2-tiny-random"], ["ft"])
    subjects, rows, _ = sam_subjects(requested, device="cpu")
    (subject,) = subjects
    assert rows == [] and subject.method == "sam2-tiny-random" and 1.0 < subject.params_m < 2.0
    assert "random weights" in subject.label and "SAM2AutomaticMaskGenerator" in subject.note
    assert isinstance(subject.run(_image(2, shape=(24, 32))).masks, np.ndarray)


def test_speed_options_and_parameter_rows_for_sam2_1():
    from samis.speed import parse_checkpoint_options, sam_subjects, split_speed_methods

    assert parse_checkpoint_options(["/a/sam2.1_hiera_large.pt", "hiera_t=/b/w.pt"]) == {
        "hiera_l": "/a/sam2.1_hiera_large.pt", "hiera_t": "/b/w.pt"}
    assert split_speed_methods(["sam2.1-hiera_t", "sam2-tiny-random"], ["ft"]) == ([], {"hiera_t": None,
                                                                                        "tiny-sam2": None})
    subjects, rows, _ = sam_subjects({"hiera_t": None})
    assert subjects == [] and rows[0].method == "sam2.1-hiera_t" and rows[0].fps is None
    assert round(rows[0].params_m, 1) == 39.0  # SAM 2.1 Hiera-T: 38.9 M in the official model table


@pytest.mark.slow
def test_real_sam2_loading_path_with_a_hiera_t_shaped_file(tmp_path):
    """The checkpoint path of a real SAM 2.1 model: a file laid out like sam2.1_hiera_tiny.pt ({"model": state},
    Hiera-T's keys and shapes; random weights here) is identified, loaded by build_sam2 + load_state_dict, runs."""
    from samis.sam.checkpoints import identify_weights
    from samis.sam.engine import SamEngine, load_sam
    from samis.sam.sam2_backend import _import_sam2

    build_sam2, _, _ = _import_sam2()
    torch.manual_seed(0)
    source = build_sam2(SAM2_MODELS["hiera_t"].config, None, device="cpu")
    path = tmp_path / "my_hiera_t.pt"
    torch.save({"model": source.state_dict()}, path)
    assert identify_weights(path) == "hiera_t"
    loaded = load_sam("hiera_t", path, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), loaded.model.state_dict().values()))
    assert loaded.label == "sam2.1-hiera_t" and loaded.provenance()["weights"] == "checkpoint"
    assert loaded.checkpoint_md5 and round(loaded.params_m, 1) == 39.0
    masks = SamEngine(loaded, Sam2AmgParams(points_per_side=2, pred_iou_thresh=0.0,
                                            stability_score_thresh=0.0)).generate(_image())
    assert masks.shape == (48, 64) and len(masks) >= 1
    with pytest.raises(SamError, match="holds a SAM 2.1 hiera_t model, not hiera_s; use --model hiera_t"):
        load_sam("hiera_s", path, device="cpu")


def test_cached_models_list_real_models_before_test_size_ones(workspace):
    from samis.mask_explorer import cached_models

    for label in ("sam2-tiny-random", "sam-tiny-random", "sam2.1-hiera_l", "sam-vit_b"):
        (workspace.root / "cache" / "sam" / label / "toy").mkdir(parents=True)
    assert cached_models(workspace, "toy") == ["sam-vit_b", "sam2.1-hiera_l", "sam-tiny-random", "sam2-tiny-random"]


def test_connected_components_match_an_8_connected_labelling():
    """samis's stand-in for sam2's CUDA kernel: the same component areas as SciPy's 8-connected labelling."""
    from scipy import ndimage

    from samis.sam.sam2_backend import connected_components

    rng = np.random.default_rng(3)
    masks = torch.from_numpy(rng.random((4, 1, 40, 56)) > 0.6)
    masks[3] = False  # an empty mask
    labels, areas = connected_components(masks)
    assert labels.shape == areas.shape == masks.shape and labels.dtype == areas.dtype == torch.int32
    for index in range(4):
        reference, count = ndimage.label(masks[index, 0].numpy(), structure=np.ones((3, 3)))
        sizes = np.bincount(reference.ravel())
        sizes[0] = 0
        assert np.array_equal(areas[index, 0].numpy(), sizes[reference])
        assert np.array_equal(labels[index, 0].numpy() > 0, masks[index, 0].numpy())
        assert len(np.unique(labels[index, 0].numpy()[masks[index, 0].numpy()])) == count
    # diagonal neighbours are one component (8-connectivity), not two
    diagonal = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    diagonal[0, 0, 0, 0] = diagonal[0, 0, 1, 1] = True
    assert connected_components(diagonal)[1].max() == 2
    assert connected_components(torch.zeros(0, 1, 8, 8, dtype=torch.bool))[1].shape == (0, 1, 8, 8)


def test_hole_filling_runs_on_the_cpu_without_a_warning(recwarn):
    """min_mask_region_area's hole and sprinkle filling inside sam2 runs on the CPU too (sam2 alone skips it)."""
    from samis.sam.sam2_backend import _import_sam2

    _import_sam2()
    from sam2.utils.transforms import SAM2Transforms

    logits = torch.full((1, 1, 32, 32), -5.0)
    logits[0, 0, 4:20, 4:20] = 5.0
    logits[0, 0, 10:12, 10:12] = -5.0  # a 4-pixel hole
    logits[0, 0, 28, 28] = 5.0  # a 1-pixel sprinkle
    transforms = SAM2Transforms(resolution=32, mask_threshold=0.0, max_hole_area=5, max_sprinkle_area=5)
    out = transforms.postprocess_masks(logits, (32, 32))[0, 0] > 0
    expected = torch.zeros(32, 32, dtype=torch.bool)
    expected[4:20, 4:20] = True
    assert torch.equal(out, expected)
    assert not [w for w in recwarn if "Skipping the post-processing" in str(w.message)]


def test_a_sam2_run_with_min_mask_region_area_has_no_notice(workspace, make_folder_dataset, recwarn):
    from samis.sam.run import SamRun, run_sam_over_dataset

    root, _ = make_folder_dataset(n=2)
    dataset = register_dataset(workspace, "toy", root, "folder")
    params = Sam2AmgParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, min_mask_region_area=5)
    report = run_sam_over_dataset(workspace, dataset, SamRun("tiny-sam2", params, device="cpu"))
    assert len(report.computed) == 2 and report.notices == []
    assert not [w for w in recwarn if "Skipping the post-processing" in str(w.message)]
    assert len(run_sam_over_dataset(workspace, dataset, SamRun("tiny-sam2", params, device="cpu")).skipped) == 2
    # masks cached before the hole filling ran on the CPU (their key lacks it) are computed again
    assert params.result_key()["hole_filling"] == "8-connected"
    assert "hole_filling" not in Sam2AmgParams().result_key()  # min_mask_region_area 0: no filling, key as before
    for path in workspace.sam_cache_dir("sam2-tiny-random", "toy").glob("*.npz"):
        with np.load(path, allow_pickle=False) as data:
            arrays = dict(data)
        provenance = json.loads(str(arrays["provenance"]))
        del provenance["params"]["hole_filling"]
        arrays["provenance"] = np.array(json.dumps(provenance))
        np.savez(path, **arrays)
    assert len(run_sam_over_dataset(workspace, dataset, SamRun("tiny-sam2", params, device="cpu")).computed) == 2
