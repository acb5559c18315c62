"""samis.methods: one place turns a method id into what it is."""

import pytest

from samis.methods import (PROMPT_KINDS, SELECTION_STRATEGIES, describe, first_sam_method,
                           random_weight_methods, sam_method_id, sam_model_of, upper_bound_methods)
from samis.models import OFFICIAL_CHECKPOINTS, SAM_MODELS, SAM_TYPES


@pytest.mark.parametrize("method, family, model, strategy, prompt, gt, random", [
    ("sam-vit_h+oracle", "sam", "vit_h", "oracle", None, True, False),
    ("sam-vit_b+contrast", "sam", "vit_b", "contrast", None, False, False),
    ("sam-vit_l+small-union", "sam", "vit_l", "small-union", None, False, False),
    ("sam-tiny-random+box", "sam", "tiny", None, "box", True, True),
    ("sam-tiny-random+point", "sam", "tiny", None, "point", True, True),
    ("sam-tiny-random+best-single", "sam", "tiny", "best-single", None, True, True),
    ("sam-tiny-random", "sam", "tiny", None, None, False, True),
    ("sam-vit_h+oracle-10", "sam", "vit_h", "oracle", None, True, False),
    ("SAM", "sam", None, None, None, False, False),
    ("ft", "baseline", None, None, None, False, False),
    ("otsu", "baseline", None, None, None, False, False),
    ("MCITF", "imported", None, None, None, False, False),
    ("samurai", "imported", None, None, None, False, False),
])
def test_describe(method, family, model, strategy, prompt, gt, random):
    info = describe(method)
    assert info.family == family
    assert (info.model.key if info.model else None) == model
    assert info.strategy == strategy
    assert info.prompt == prompt
    assert info.uses_ground_truth is gt and info.upper_bound is gt
    assert info.random_weights is random


def test_notes_say_upper_bound_and_random_weights():
    assert describe("ft").note == ""
    assert "upper bound" in describe("sam-vit_h+oracle").note
    note = describe("sam-tiny-random+oracle").note
    assert "random weights" in note and "upper bound" in note
    assert describe("sam-vit_h+contrast").note == ""


def test_sam_method_id_round_trips_through_describe():
    for key in SAM_MODELS:
        for how in [*SELECTION_STRATEGIES, *PROMPT_KINDS]:
            method = sam_method_id(key, how)
            info = describe(method)
            assert info.model.key == key
            assert (info.strategy or info.prompt) == how
    assert sam_method_id("tiny") == "sam-tiny-random"
    assert sam_method_id("sam-vit_h", "oracle") == "sam-vit_h+oracle"
    with pytest.raises(ValueError):
        sam_method_id("vit_x", "oracle")
    with pytest.raises(ValueError):
        sam_method_id("vit_h", "magic")


def test_sam_model_of_accepts_keys_labels_and_short_forms():
    assert sam_model_of("vit_b").key == "vit_b"
    assert sam_model_of("sam-vit_b").key == "vit_b"
    assert sam_model_of("sam-tiny-random").key == "tiny"
    assert sam_model_of("sam-tiny").key == "tiny"
    assert sam_model_of("tiny").key == "tiny"
    assert sam_model_of("ft") is None


def test_lists():
    methods = ["ft", "sam-vit_h+contrast", "sam-tiny-random+oracle", "MCITF"]
    assert first_sam_method(methods) == "sam-vit_h+contrast"
    assert first_sam_method(["MCITF", "SAM", "sam-vit_h+oracle"]) == "SAM"
    assert first_sam_method(["ft", "MCITF"]) is None
    assert upper_bound_methods(methods) == ["sam-tiny-random+oracle"]
    assert random_weight_methods(methods) == ["sam-tiny-random+oracle"]


def test_checkpoint_facts_match_the_official_files():
    # ../shared/README.md: sizes, and the 6 hex digits in each name start the MD5
    assert {m.checkpoint: m.checkpoint_bytes for m in OFFICIAL_CHECKPOINTS.values()} == {
        "sam_vit_h_4b8939.pth": 2_564_550_879, "sam_vit_l_0b3195.pth": 1_249_524_607,
        "sam_vit_b_01ec64.pth": 375_042_383}
    assert SAM_MODELS["vit_h"].md5_prefix == "4b8939"
    assert SAM_TYPES == ("vit_h", "vit_l", "vit_b")
    assert SAM_MODELS["vit_b"].url == "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"


def test_describe_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys; from samis.methods import describe; "
            "[describe(m) for m in ('sam-vit_h+oracle', 'ft', 'MCITF')]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_engines_registries_hold_exactly_the_named_strategies_and_prompts():
    from samis.sam.prompts import PROMPTS
    from samis.sam.selection import NEEDS_GROUND_TRUTH, STRATEGY_REGISTRY

    assert set(STRATEGY_REGISTRY) == set(SELECTION_STRATEGIES)
    assert set(PROMPTS) == set(PROMPT_KINDS)
    assert NEEDS_GROUND_TRUTH == {s for s, uses_gt in SELECTION_STRATEGIES.items() if uses_gt}
