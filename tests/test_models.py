"""The model registry (one ModelSpec per model) and the generator parameters declared once."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from samis.errors import SamError
from samis.models import MODEL_CHOICES, RUNNABLE_MODELS, ModelSpec, find_model, get_model
from samis.sam.params import GENERATOR_PARAMS, AmgParams, Sam2AmgParams

SAM_DEFAULT_KEY = {"points_per_side": 32, "pred_iou_thresh": 0.88, "stability_score_thresh": 0.95,
                   "stability_score_offset": 1.0, "box_nms_thresh": 0.7, "crop_n_layers": 0, "crop_nms_thresh": 0.7,
                   "crop_overlap_ratio": 0.3413333333333333, "crop_n_points_downscale_factor": 1,
                   "min_mask_region_area": 0}


def test_get_model_resolves_a_key_once_and_refuses_an_unknown_one_in_one_line():
    spec = get_model("vit_h")
    assert isinstance(spec, ModelSpec) and get_model(spec) is spec and spec.label == "sam-vit_h"
    with pytest.raises(SamError) as error:
        get_model("vit_x")
    assert str(error.value) == f"unknown SAM model 'vit_x'; choose one of {', '.join(MODEL_CHOICES)}"
    assert find_model("sam2.1-hiera_l") is get_model("hiera_l") and find_model("nope") is None
    assert list(RUNNABLE_MODELS) == ["vit_h", "vit_l", "vit_b", "tiny", "tiny-sam2", "hiera_t", "hiera_s", "hiera_b+",
                                     "hiera_l", "tiny-hq", "hq_vit_h", "hq_vit_l", "hq_vit_b", "tiny-evit", "evit_l0",
                                     "evit_l1", "evit_l2", "evit_xl0", "evit_xl1", "tiny-sam3", "sam3"]


def test_a_spec_says_what_its_family_does():
    sam, sam2, tiny2 = get_model("vit_b"), get_model("hiera_l"), get_model("tiny-sam2")
    assert (sam.family, sam2.family, tiny2.family) == ("sam", "sam2.1", "sam2")
    assert sam.supports_embedding_cache and not sam2.supports_embedding_cache and not tiny2.supports_embedding_cache
    assert not sam.runs_on_sam2 and sam2.runs_on_sam2 and tiny2.runs_on_sam2
    assert sam.params_class is AmgParams and sam2.params_class is Sam2AmgParams is tiny2.params_class
    assert (sam.family_title, sam2.family_title) == ("SAM", "SAM 2.1")
    assert get_model("tiny").real_keys() == ("vit_h", "vit_l", "vit_b")
    assert sam.md5_prefix == "01ec64" and sam2.md5_prefix is None and sam.md5 is None is sam2.md5
    assert sam.size_text == "0.38 GB" and sam2.size_text == "about 0.86 GB"
    assert sam.url == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"
    assert tiny2.needs_checkpoint is False and sam.needs_checkpoint


def test_the_registry_and_the_parameters_import_no_torch():
    code = ("import sys, samis.models, samis.sam.params, samis.sam.model_cache, samis.commands.sam; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_cache_key_of_default_parameters_is_todays_literal_dict():
    """Old mask caches must still count as done: the key of the default parameters did not change."""
    assert AmgParams().result_key() == SAM_DEFAULT_KEY
    assert Sam2AmgParams().result_key() == {**SAM_DEFAULT_KEY, "pred_iou_thresh": 0.8, "mask_threshold": 0.0,
                                            "use_m2m": False, "multimask_output": True}
    assert Sam2AmgParams(min_mask_region_area=4).result_key()["hole_filling"] == "8-connected"
    assert list(Sam2AmgParams().as_dict())[:11] == list(AmgParams().as_dict())  # SAM's order, then SAM 2's own


def test_every_parameter_is_declared_once_with_a_range():
    names = [p.name for p in GENERATOR_PARAMS]
    assert names == [*AmgParams().as_dict(), "mask_threshold", "use_m2m", "multimask_output", "hq_token_only"]
    counts = {p.name: p.high for p in GENERATOR_PARAMS if p.kind is int and p.name != "min_mask_region_area"}
    assert counts == {"points_per_side": 128, "points_per_batch": 4096, "crop_n_layers": 4,
                      "crop_n_points_downscale_factor": 8}  # counts have an upper bound
    assert all(p.help for p in GENERATOR_PARAMS)


@pytest.mark.parametrize("values, message", [
    ({"points_per_side": 0}, "points_per_side must lie in [1, 128] (--points-per-side), got 0"),
    ({"points_per_side": 129}, "points_per_side must lie in [1, 128] (--points-per-side), got 129"),
    ({"points_per_batch": 5000}, "points_per_batch must lie in [1, 4096] (--points-per-batch), got 5000"),
    ({"pred_iou_thresh": 1.5}, "pred_iou_thresh must lie in [0, 1] (--pred-iou-thresh), got 1.5"),
    ({"mask_threshold": 30.0}, "mask_threshold must lie in [-20, 20] (--mask-threshold), got 30.0"),
    ({"points_per_side": 2.5}, "points_per_side (--points-per-side) must be an integer, got 2.5"),
])
def test_a_value_out_of_range_is_one_line_naming_the_flag_and_range(values, message):
    with pytest.raises(SamError) as error:
        get_model("hiera_t").params(values)
    assert str(error.value) == message


def test_cli_flags_and_defaults_come_from_the_declaration_and_are_unchanged():
    from samis.commands.sam import add_generator_arguments

    parser = argparse.ArgumentParser()
    add_generator_arguments(parser)
    args = parser.parse_args([])
    assert {name: getattr(args, name) for name in ("points_per_side", "points_per_batch", "stability_score_thresh",
                                                   "crop_overlap_ratio", "min_mask_region_area")} == {
        "points_per_side": 32, "points_per_batch": 64, "stability_score_thresh": 0.95,
        "crop_overlap_ratio": 512 / 1500, "min_mask_region_area": 0}
    # defaults that differ by family, and SAM 2.1's own: None, the model's own default
    assert args.pred_iou_thresh is None and args.mask_threshold is None and args.use_m2m is None
    assert args.multimask_output is None
    flags = parser.parse_args(["--points-per-side", "4", "--use-m2m", "--single-mask", "--mask-threshold", "0.5",
                               "--crop-n-points-downscale-factor", "2"])
    assert (flags.points_per_side, flags.use_m2m, flags.multimask_output, flags.mask_threshold) == (4, True, False, 0.5)
    params = get_model("hiera_t").params(vars(flags))
    assert params.pred_iou_thresh == 0.8 and params.crop_n_points_downscale_factor == 2
    assert get_model("vit_b").params(vars(parser.parse_args([]))) == AmgParams()


def test_a_spec_sent_to_another_process_is_the_registrys_own():
    """Pool processes and Ray workers get specs by pickling; the family checks compare by identity."""
    import pickle

    for key in ("tiny", "tiny-sam2", "vit_b", "hiera_l"):
        spec = get_model(key)
        copy = pickle.loads(pickle.dumps(spec))
        assert copy is spec and copy.runs_on_sam2 == spec.runs_on_sam2


# ---- adding a family is one module -------------------------------------------------------------------------

TOY_FAMILY_MODULE = '''
"""A toy family declared by tests/test_models.py: one module, no other edit."""
from samis.families.base import ModelFamily, ModelSpec, register
from samis.sam.params import AmgParams

TOY_FAMILY = ModelFamily("toy-sam", "Toy-SAM", "toy_sam", "toy_sam:build", AmgParams, "toy generator",
                         "https://example.org/toy/", (".pt",), backend="toy_sam", prompt_modes=("automatic",),
                         licence="MIT", source="https://example.org/toy", key_marker="toy_encoder.",
                         marker_text="toy_encoder of a Toy", detector="toy_sam:detect", order=90)
register(TOY_FAMILY, [
    ModelSpec("tiny-toy", "toy-sam-tiny-random", "test-size Toy-SAM, random weights (not Toy-SAM)", TOY_FAMILY,
              random_weights=True, params_m=0.1),
    ModelSpec("toy_b", "toy-sam-b", "Toy-SAM B", TOY_FAMILY, checkpoint="toy_sam_b.pt", approx_bytes=12_000_000,
              params_m=3.0),
])
'''

TOY_CHECKS = '''
import contextlib, io, json, sys
import samis.families
samis.families.__path__.append(sys.argv[1])
from samis.cli import main
from samis.models import FAMILIES, MODEL_CHOICES, checkpoint_catalogue, get_model
from samis.tables.family import family_table

out = io.StringIO()
with contextlib.redirect_stdout(out):
    main(["--workspace", sys.argv[2], "checkpoints", "list", "--format", "json"])
listed = [c["model"] for c in json.loads(out.getvalue())["checkpoints"]]
scores = {"toy-sam-b+contrast": {"Sa": 0.5, "MAE": 0.1, "maxEm": 0.6, "Fw": 0.4, "maxFm": 0.5},
          "toy-sam-tiny-random+oracle": {"Sa": 0.7, "MAE": 0.05, "maxEm": 0.8, "Fw": 0.6, "maxFm": 0.7}}
rows = [(r.method, r.family, r.mode, r.upper_bound, r.params_m) for r in family_table("d", "test", scores).rows]
err = io.StringIO()
with contextlib.redirect_stderr(err):
    with contextlib.suppress(SystemExit):
        main(["--workspace", sys.argv[2], "sam", "nodata", "--model", "toy_b"])
print(json.dumps({"families": [f.name for f in FAMILIES], "choices": list(MODEL_CHOICES), "listed": listed,
                  "url": checkpoint_catalogue()["toy_b"].url, "rows": rows, "title": get_model("tiny-toy").title,
                  "sam_error": err.getvalue().strip().splitlines()[-1:]}))
'''


def test_a_new_family_module_appears_everywhere_the_registry_is_listed(tmp_path):
    """A family module dropped into samis.families (here: a toy, through the package's path) is a --model choice,
    a checkpoint in ``checkpoints list``, a row of the family table, with no other edit."""
    import json

    extra = tmp_path / "families"
    extra.mkdir()
    (extra / "toy_sam.py").write_text(TOY_FAMILY_MODULE, encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", TOY_CHECKS, str(extra), str(tmp_path / "ws")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["families"] == ["sam", "sam2", "hq-sam", "efficientvit-sam", "sam3", "toy-sam"]
    assert found["choices"][-2:] == ["tiny-toy", "toy_b"] and found["choices"][:-2] == list(MODEL_CHOICES)
    assert found["listed"][-1] == "toy_b" and found["url"] == "https://example.org/toy/toy_sam_b.pt"
    assert found["rows"] == [["toy-sam-b+contrast", "Toy-SAM", "contrast", False, 3.0],
                             ["toy-sam-tiny-random+oracle", "Toy-SAM", "oracle", True, 0.1]]
    assert found["title"].startswith("test-size Toy-SAM, random weights")
    # ``sam --model toy_b`` passes the choices and stops at the next thing wrong (no dataset here)
    assert found["sam_error"] and found["sam_error"][0].startswith("error: unknown dataset 'nodata'"), found["sam_error"]


def test_a_family_registers_once_with_a_test_size_model():
    from samis.families.base import ModelFamily, register

    lonely = ModelFamily("lonely", "Lonely", "lonely", "x:y", AmgParams, "g", "https://example.org/", (".pt",))
    with pytest.raises(SamError, match="Lonely declares no test-size model with random weights"):
        register(lonely, [ModelSpec("lonely_b", "lonely-b", "Lonely B", lonely, checkpoint="l.pt")])
    with pytest.raises(SamError, match="declares vit_b, which another family has"):
        register(lonely, [ModelSpec("vit_b", "lonely-vit_b", "Lonely", lonely, random_weights=True)])
