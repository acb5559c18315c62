"""The model families on one registry: HQ-SAM and EfficientViT-SAM beside SAM and SAM 2.1.

Each family's test-size model (the package's own modules at small sizes, random weights, labelled) runs the whole
path on generated data; checkpoints of every real variant, built on the meta device from the packages' own
constructors (never downloaded), are recognised, and one family's weights are refused for every other family.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from killed_run import run_killed
from samis.datasets import register_dataset
from samis.errors import SamError
from samis.methods import describe
from samis.models import (
    EVIT_MODELS,
    FAMILIES,
    HQ_MODELS,
    RUNNABLE_MODELS,
    SAM2_MODELS,
    SAM_TYPES,
    checkpoint_catalogue,
    get_model,
)
from samis.sam.params import HqAmgParams, params_for_model

pytest.importorskip("segment_anything_hq")
pytest.importorskip("efficientsam")

FAST = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "--box-nms-thresh", "1.0"]
FAST_PARAMS = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
NEW_TINY = {"tiny-hq": "hq-sam-tiny-random", "tiny-evit": "efficientvit-sam-tiny-random"}


def _main(workspace, capsys, *args):
    from samis.cli import main

    code = main(["--workspace", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- the registry ------------------------------------------------------------------------------------------

def test_every_family_declares_its_facts():
    for family in FAMILIES:
        assert family.licence and family.source.startswith("https://") and family.key_marker, family.name
        assert family.hash_status in ("prefix only", "not published")
        # SAM 3 is prompted with concepts (text, exemplars) and has no automatic generator; every other family has one
        assert ("automatic" in family.prompt_modes) != ("text" in family.prompt_modes), family.name
    for key, label in NEW_TINY.items():
        model = get_model(key)
        assert model.label == label and model.random_weights and "random weights" in model.title
        assert describe(f"{label}+oracle").random_weights and "random weights" in describe(f"{label}+oracle").note
        assert model.code.title in describe(f"{label}+contrast").note
    catalogue = checkpoint_catalogue()
    assert catalogue["hq_vit_b"].url == "https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_vit_b.pth"
    assert catalogue["evit_xl1"].url.endswith("mit-han-lab/efficientvit-sam/resolve/main/efficientvit_sam_xl1.pt")
    assert catalogue["evit_l0"].hash_text == "not published" and catalogue["vit_b"].hash_text.endswith("(prefix only)")


def test_efficientvit_sam_is_never_called_efficientsam():
    for model in EVIT_MODELS.values():
        for text in (model.title, model.label, model.code.title):
            assert "EfficientSAM" not in text and "efficientsam-" not in text
        assert model.title.startswith("EfficientViT-SAM") and model.family == "efficientvit-sam"


def test_declared_sizes_and_parameters_are_the_packages_constructors():
    """The registry's parameter counts and float32 sizes are those of the packages' own models on the meta device."""
    from samis.sam.evit_shapes import evit_network_on_meta
    from samis.sam.hq_backend import hq_network_on_meta

    for model in [*HQ_MODELS.values(), *EVIT_MODELS.values()]:
        network = hq_network_on_meta(model.config) if model in HQ_MODELS.values() else evit_network_on_meta(model)
        params = sum(p.numel() for p in network.parameters())
        assert round(params / 1e6, 1) == model.params_m, model.key
        assert sum(t.numel() for t in network.state_dict().values()) * 4 == model.approx_bytes, model.key


def test_hq_token_only_is_a_declared_parameter_of_hq_sam_only():
    params = params_for_model(get_model("tiny-hq"), {"hq_token_only": True})
    assert isinstance(params, HqAmgParams) and params.result_key()["hq_token_only"] is True
    for other in ("tiny", "tiny-sam2", "tiny-evit"):
        with pytest.raises(SamError, match="hq_token_only is an HQ-SAM generator parameter"):
            params_for_model(get_model(other), {"hq_token_only": True})


def test_a_mode_the_family_lacks_is_one_line():
    model = get_model("tiny-evit")
    with pytest.raises(SamError, match=r"^--prompts: EfficientViT-SAM \(tiny-evit\) has no 'text' mode"):
        model.check_mode("text")


# ---- checkpoint structure: every real variant on the meta device ---------------------------------------------

def _meta_state(key: str) -> dict:
    """A real variant's state dict on the meta device, from its package's own constructor (no weights)."""
    model = get_model(key)
    if model.family == "sam":
        from segment_anything import sam_model_registry

        with torch.device("meta"):
            return sam_model_registry[key](checkpoint=None).state_dict()
    if model.family == "hq-sam":
        from samis.sam.hq_backend import hq_network_on_meta

        return hq_network_on_meta(model.config).state_dict()
    if model.family == "efficientvit-sam":
        from samis.sam.evit_shapes import evit_network_on_meta

        return evit_network_on_meta(model).state_dict()
    if model.family == "sam3":
        from samis.sam.sam3_assembly import SAM3_SIZES, assemble_sam3, file_keys, on_meta

        with on_meta():
            return file_keys(assemble_sam3(SAM3_SIZES).state_dict())
    from samis.sam.sam2_backend import _import_sam2

    build_sam2, _, _ = _import_sam2()
    # Hiera calls Tensor.item() while it is built (no meta device): built on the CPU, then described on meta
    network = build_sam2(model.config, None, device="cpu")
    return {name: torch.empty(t.shape, device="meta") for name, t in network.state_dict().items()}


FAMILY_EXAMPLES = {"sam": "vit_b", "sam2.1": "hiera_t", "hq-sam": "hq_vit_b", "efficientvit-sam": "evit_l0",
                   "sam3": "sam3"}


@pytest.fixture(scope="module")
def meta_states():
    return {}


def _state(meta_states, key):
    if key not in meta_states:
        meta_states[key] = _meta_state(key)
    return meta_states[key]


@pytest.mark.parametrize("key", [*SAM_TYPES, *HQ_MODELS, *EVIT_MODELS, "sam3"])
def test_each_real_variant_is_recognised(meta_states, key):
    from samis.sam.checkpoints import check_family, detect_family

    state = _state(meta_states, key)
    family, detected = detect_family(state)
    assert (family, detected) == (get_model(key).code, key)
    check_family(state, get_model(key), "x.pt")  # no error


def test_sam2_variant_is_recognised(meta_states):
    from samis.sam.checkpoints import detect_family

    pytest.importorskip("sam2")
    assert detect_family(_state(meta_states, "hiera_t"))[1] == "hiera_t"


@pytest.mark.parametrize("given", list(FAMILY_EXAMPLES))
@pytest.mark.parametrize("wanted", list(FAMILY_EXAMPLES))
def test_another_familys_checkpoint_is_refused_in_one_line(meta_states, given, wanted):
    from samis.sam.checkpoints import check_family

    if given == wanted:
        return
    if "sam2.1" in (given, wanted):
        pytest.importorskip("sam2")
    source, target = get_model(FAMILY_EXAMPLES[given]), get_model(FAMILY_EXAMPLES[wanted])
    with pytest.raises(SamError) as error:
        check_family(_state(meta_states, source.key), target, "w.pt")
    message = str(error.value)
    assert "\n" not in message
    assert message == (f"w.pt: a {source.code.title} {source.key} checkpoint, not {target.code.title} {target.key}; "
                       f"use --model {source.key}")


def test_a_plain_sam_file_is_refused_for_hq_sam_before_loading(tmp_path):
    """HQ-SAM's own loader would take SAM weights with strict=False (random HQ layers); samis refuses the file."""
    from segment_anything import sam_model_registry

    from samis.sam.engine import load_model

    with torch.device("meta"):
        shapes = sam_model_registry["vit_b"](checkpoint=None).state_dict()
    # the same keys with tiny tensors: detection reads only names and the encoder's width and depth
    state = {name: torch.zeros(t.shape) if name == "image_encoder.pos_embed" else torch.zeros(1)
             for name, t in shapes.items()}
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    with pytest.raises(SamError, match=r"weights.pth: a SAM vit_b checkpoint, not HQ-SAM hq_vit_b; use --model vit_b$"):
        load_model("hq_vit_b", path, device="cpu")


@pytest.mark.parametrize("name, key", [("sam_hq_vit_b.pth", "hq_vit_b"), ("efficientvit_sam_l0.pt", "evit_l0")])
def test_truncated_and_misnamed_official_files_are_one_line(tmp_path, name, key):
    from samis.sam.checkpoints import check_checkpoint_file

    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04" + b"\0" * 1000)
    with pytest.raises(SamError, match="truncated"):
        check_checkpoint_file(path, key)
    other = "hq_vit_l" if key == "hq_vit_b" else "evit_l1"
    with pytest.raises(SamError, match=f"official {key} checkpoint, but --model {other}"):
        check_checkpoint_file(path, other)


def test_unknown_model_is_one_line(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=1)
    register_dataset(workspace, "toy", root, "folder")
    with pytest.raises(SystemExit) as exit_:  # argparse: its usage, then one error line naming the choice
        _main(workspace, capsys, "sam", "toy", "--model", "hq_vit_x", "--device", "cpu")
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice: 'hq_vit_x'" in err.strip().splitlines()[-1]
    with pytest.raises(SamError, match="^unknown SAM model 'hq_vit_x'"):
        get_model("hq_vit_x")


# ---- the whole path with each family's test-size model ---------------------------------------------------------

@pytest.mark.parametrize("key", list(NEW_TINY))
def test_tiny_model_whole_path_and_resume(workspace, make_folder_dataset, capsys, key):
    from samis.sam.masks import read_mask_set
    from samis.store import read_manifest

    label = NEW_TINY[key]
    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root, "folder")
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", key, *FAST, "--device", "cpu",
                           "--selection", "oracle,contrast", "--prompts", "box,point", "--format", "table")
    assert code == 0, err
    assert f"{label} has random weights" in out
    cache = workspace.sam_cache_dir(label, "toy")
    assert sorted(p.stem for p in cache.glob("*.npz")) == ["img_000", "img_001", "img_002"]
    mask_set, provenance = read_mask_set(cache / "img_000.npz")
    assert len(mask_set) > 0 and provenance["model"] == label and "random" in provenance["weights"]
    assert provenance["package"].split()[0] in ("segment-anything-hq", "efficientsam")
    for how in ("oracle", "contrast", "box", "point"):
        folder = workspace.method_dir("toy", f"{label}+{how}")
        assert sorted(p.stem for p in folder.glob("*.png")) == ["img_000", "img_001", "img_002"], how
        assert read_manifest(workspace, "toy", f"{label}+{how}")["model"] == label
    from samis.mask_explorer import cached_models, explore_masks

    assert cached_models(workspace, "toy") == [label]  # the Masks page's model list
    assert {v.how for v in explore_masks(workspace, "toy", "img_001", key).selections} == {"oracle", "contrast", "box",
                                                                                           "point"}
    code, out, err = _main(workspace, capsys, "evaluate", "toy", "--methods", f"{label}+oracle,{label}+contrast")
    assert code == 0, err
    code, out, err = _main(workspace, capsys, "report", "toy", "--methods", f"{label}+oracle,{label}+contrast")
    assert code == 0, err and label in out
    # a second run finds every image cached
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", key, *FAST, "--device", "cpu",
                           "--selection", "none", "--format", "json")
    assert code == 0, err
    assert (json.loads(out)["run"]["computed"], json.loads(out)["run"]["cached"]) == (0, 3)


KILLED_RUN = r"""
import sys
from samis.datasets import load_dataset
from samis.models import get_model
from samis.sam.run import SamRun, run_sam_over_dataset
from samis.workspace import Workspace
W = Workspace(sys.argv[1])
run_sam_over_dataset(W, load_dataset(W, "toy"), SamRun(sys.argv[2], get_model(sys.argv[2]).params(%r), device="cpu"))
""" % FAST_PARAMS


@pytest.mark.parametrize("key", list(NEW_TINY))
def test_a_killed_run_resumes_with_the_same_bytes(workspace, make_folder_dataset, tmp_path, key):
    from samis.datasets import load_dataset
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.workspace import Workspace

    root, _ = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root, "folder")
    done = run_killed(tmp_path, KILLED_RUN, str(workspace.root), key)
    assert done.returncode == -9, done.stderr
    cache = workspace.sam_cache_dir(NEW_TINY[key], "toy")
    assert len(list(cache.glob("*.npz"))) == 1  # whole files only (the killed write left a hidden temp file)
    params = get_model(key).params(FAST_PARAMS)
    report = run_sam_over_dataset(workspace, load_dataset(workspace, "toy"), SamRun(key, params, device="cpu"))
    assert (len(report.computed), len(report.skipped)) == (2, 1)
    assert len(list(cache.glob("*.npz"))) == 3
    fresh = Workspace(tmp_path / "fresh")
    register_dataset(fresh, "toy", root, "folder")
    run_sam_over_dataset(fresh, load_dataset(fresh, "toy"), SamRun(key, params, device="cpu"))
    for path in sorted(cache.glob("*.npz")):
        resumed, _ = _read(path)
        uninterrupted, _ = _read(fresh.sam_cache_dir(NEW_TINY[key], "toy") / path.name)
        assert np.array_equal(resumed.masks, uninterrupted.masks), path.name


def _read(path):
    from samis.sam.masks import read_mask_set

    return read_mask_set(path)


def test_hq_token_only_changes_the_cache_key(workspace, make_folder_dataset):
    from samis.datasets import load_dataset
    from samis.sam.run import SamRun, run_sam_over_dataset

    root, _ = make_folder_dataset(n=1)
    dataset = register_dataset(workspace, "toy", root, "folder")
    model = get_model("tiny-hq")
    first = run_sam_over_dataset(workspace, dataset, SamRun(model, model.params(FAST_PARAMS), device="cpu"))
    again = run_sam_over_dataset(workspace, load_dataset(workspace, "toy"),
                                 SamRun(model, model.params({**FAST_PARAMS, "hq_token_only": True}), device="cpu"))
    assert (len(first.computed), len(again.computed)) == (1, 1)


@pytest.mark.parametrize("key", list(NEW_TINY))
def test_speed_rows_for_the_test_size_models_and_untimed_real_ones(key):
    from samis.speed import sam_subjects

    subjects, rows, _ = sam_subjects({key: None, "hq_vit_b": None, "evit_l0": None}, device="cpu")
    (subject,) = subjects
    assert subject.method == NEW_TINY[key] and "random weights" in subject.label
    assert round(subject.params_m, 2) == get_model(key).params_m  # the registry's count is the built model's
    assert [(r.method, r.params_m) for r in rows] == [("hq-sam-vit_b", 94.8), ("efficientvit-sam-l0", 34.8)]
    rng = np.random.default_rng(0)
    image = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    assert isinstance(subject.run(image).masks, np.ndarray)


@pytest.mark.slow
@pytest.mark.parametrize("key", list(NEW_TINY))
def test_ray_gives_the_same_bytes_as_a_local_run(ray_cluster, tmp_path, folder_dataset_writer, key):
    from samis.datasets import load_dataset
    from samis.engines import EngineSpec
    from samis.sam.run import SamRun, run_sam_over_dataset
    from samis.workspace import Workspace

    root, _ = folder_dataset_writer(tmp_path, n=4)
    params = get_model(key).params(FAST_PARAMS)
    local, remote = Workspace(tmp_path / "local"), Workspace(tmp_path / "ray")
    for workspace in (local, remote):
        register_dataset(workspace, "toy", root)
    run_sam_over_dataset(local, load_dataset(local, "toy"), SamRun(key, params, device="cpu"))
    run_sam_over_dataset(remote, load_dataset(remote, "toy"), SamRun(key, params, device="cpu", batch_size=2),
                         engine=EngineSpec("ray", workers=2))
    label = NEW_TINY[key]
    mine = {p.name: p.read_bytes() for p in local.sam_cache_dir(label, "toy").glob("*.npz")}
    theirs = {p.name: p.read_bytes() for p in remote.sam_cache_dir(label, "toy").glob("*.npz")}
    assert len(mine) == 4 and mine.keys() == theirs.keys()
    # byte for byte: a Ray worker (one thread by default) runs on the driver's torch threads, so EfficientViT-SAM's
    # convolutions sum in the same order there (its predicted IoUs differed by 5e-8 before)
    assert mine == theirs


def test_runnable_models_cover_every_family():
    families = {m.family for m in RUNNABLE_MODELS.values()}
    assert families == {"sam", "sam2", "sam2.1", "hq-sam", "efficientvit-sam", "sam3"}
    assert set(SAM2_MODELS) < set(RUNNABLE_MODELS)


# ---- the family table ------------------------------------------------------------------------------------------

def test_family_table_rows_deployable_first_with_params():
    from samis.tables.family import UPPER_BOUND_MARK, family_table

    scores = {"hq-sam-tiny-random+contrast": {"Sa": 0.4, "MAE": 0.2, "maxEm": 0.5, "Fw": 0.1, "maxFm": 0.3},
              "sam-tiny-random+oracle": {"Sa": 0.6, "MAE": 0.1, "maxEm": 0.7, "Fw": 0.3, "maxFm": 0.5},
              "efficientvit-sam-tiny-random+small-union": {"Sa": 0.5, "MAE": 0.3, "maxEm": 0.4, "Fw": 0.2,
                                                           "maxFm": 0.4},
              "ft": {"Sa": 0.9}}
    table = family_table("toy", "all", scores, fps={"hq-sam-tiny-random": 12.5})
    assert [r.method for r in table.rows] == ["efficientvit-sam-tiny-random+small-union",
                                              "hq-sam-tiny-random+contrast", "sam-tiny-random+oracle"]
    assert [r.upper_bound for r in table.rows] == [False, False, True]
    assert [r.params_m for r in table.rows] == [0.27, 0.37, 0.34] and table.rows[1].fps == 12.5
    assert table.rows[0].family == "EfficientViT-SAM" and "random weights" in table.rows[0].note
    text = table.to_text()
    assert f"sam-tiny-random+oracle {UPPER_BOUND_MARK}" in text and "EfficientSAM" not in text
    assert "best deployable" not in text  # random weights and upper bounds are no result to name best
    mixed = family_table("toy", "all", {"sam-vit_b+contrast": {"Sa": 0.4, "MAE": 0.2},
                                        "hq-sam-vit_b+contrast": {"Sa": 0.5, "MAE": 0.3},
                                        "sam-tiny-random+contrast": {"Sa": 0.9, "MAE": 0.01},
                                        "sam-vit_b+oracle": {"Sa": 0.95, "MAE": 0.0}}, metrics=["Sa", "MAE"])
    assert "best deployable: Sa hq-sam-vit_b+contrast, MAE sam-vit_b+contrast" in mixed.to_text()
    document = table.to_json_document()
    assert document["rows"][2]["upper_bound"] is True and document["rows"][1]["fps"] == 12.5


def test_pareto_front_keeps_the_deployable_rows_nothing_beats():
    from samis.tables.family import FamilyRow, pareto_front

    def row(method, fps, fm, upper=False):
        return FamilyRow(method, "F", method, "contrast", upper, {"Fm": fm}, 1.0, fps)

    rows = [row("slow-best", 1.0, 0.9), row("fast-worse", 10.0, 0.5), row("beaten", 5.0, 0.4),
            row("mid", 5.0, 0.7), row("bound", 100.0, 0.99, upper=True), row("untimed", None, 0.95)]
    assert [r.method for r in pareto_front(rows, "Fm")] == ["fast-worse", "mid", "slow-best"]
    mae = [FamilyRow("a", "F", "a", "m", False, {"MAE": 0.1}, 1.0, 1.0),
           FamilyRow("b", "F", "b", "m", False, {"MAE": 0.2}, 1.0, 0.5)]
    assert [r.method for r in pareto_front(mae, "MAE")] == ["a"]  # lower is better: b is beaten on both


def test_family_chart_plots_results_only_and_marks_upper_bounds():
    from samis.plots import family_pareto_figure
    from samis.tables.family import FamilyRow, FamilyTable

    rows = [FamilyRow("sam-vit_b+contrast", "SAM", "SAM ViT-B", "contrast", False, {"Fm": 0.5}, 93.7, 2.0),
            FamilyRow("efficientvit-sam-l0+contrast", "EfficientViT-SAM", "l0", "contrast", False, {"Fm": 0.4}, 34.8,
                      20.0),
            FamilyRow("sam-vit_b+oracle", "SAM", "SAM ViT-B", "oracle", True, {"Fm": 0.8}, 93.7, 2.0),
            FamilyRow("sam-tiny-random+contrast", "SAM", "tiny", "contrast", False, {"Fm": 0.9}, 0.34, 50.0,
                      random_weights=True)]
    table = FamilyTable("toy", "all", ("Fm",), rows)
    figure = family_pareto_figure(table)
    names = [t.name for t in figure.data]
    assert "sam-tiny-random+contrast" not in names and "sam-vit_b+oracle †" in names
    front = next(t for t in figure.data if t.name.startswith("Pareto front"))
    assert list(front.x) == [20.0, 2.0] and list(front.y) == [0.4, 0.5]  # the upper bound is not on it
    demo = family_pareto_figure(table, demo=True)
    assert "sam-tiny-random+contrast" in [t.name for t in demo.data] and "test-size demo" in demo.layout.title.text
    assert family_pareto_figure(FamilyTable("toy", "all", ("Fm",), rows[3:])) is None


def test_cli_family_report_and_bad_input(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=2)
    register_dataset(workspace, "toy", root, "folder")
    code, out, err = _main(workspace, capsys, "report", "toy", "--family")
    assert code == 2 and "no maps of SAM-family models" in err and len(err.strip().splitlines()) == 1
    for key in NEW_TINY:
        code, out, err = _main(workspace, capsys, "sam", "toy", "--model", key, *FAST, "--device", "cpu",
                               "--selection", "contrast,oracle", "--format", "json")
        assert code == 0, err
    code, out, err = _main(workspace, capsys, "report", "toy", "--family", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["family"], r["mode"], r["upper_bound"]) for r in rows] == [
        ("EfficientViT-SAM", "contrast", False), ("HQ-SAM", "contrast", False),
        ("EfficientViT-SAM", "oracle", True), ("HQ-SAM", "oracle", True)]
    assert all(r["scores"]["Sa"] is not None and r["params_m"] for r in rows)
    # the inspection columns are samis.pixel_level's numbers; every value sits inside its bootstrap interval
    from samis.datasets import load_dataset
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level

    direct = evaluate_pixel_level(workspace, load_dataset(workspace, "toy"), [r["method"] for r in rows], "all",
                                  PixelLevelOptions())
    for row in rows:
        assert row["inspection"]["pixel AUROC"] == direct.methods[row["method"]].values["pixel_auroc"]
        assert row["inspection"]["AUPRO@0.3"] == direct.methods[row["method"]].values["aupro/0.3"]
        for metric, (low, high) in [*row["intervals"].items(), *row["inspection_intervals"].items()]:
            value = row["scores"].get(metric, row["inspection"].get(metric))
            assert low - 1e-9 <= value <= high + 1e-9, (row["method"], metric)
        assert row["fps"] is None and row["peak_mb"] is None  # nothing timed: shown as —, never 0
    code, out, err = _main(workspace, capsys, "report", "toy", "--family", "--ci", "200", "--seed", "3")
    assert code == 0 and "B = 200, seed 3" in out and "pixel AUROC" in out and "peak MB" in out
    code, out, err = _main(workspace, capsys, "report", "toy", "--family", "--format", "latex")
    assert code == 2 and "--family writes table, json, csv, markdown or html" in err


@pytest.mark.parametrize("key, family", [("tiny-hq", "HQ-SAM"), ("tiny-evit", "EfficientViT-SAM")])
def test_cache_embeddings_is_refused_in_one_line_and_writes_nothing(workspace, make_folder_dataset, capsys, key,
                                                                     family):
    root, _ = make_folder_dataset(n=1)
    register_dataset(workspace, "toy", root, "folder")
    code, out, err = _main(workspace, capsys, "sam", "toy", "--model", key, *FAST, "--device", "cpu",
                           "--cache-embeddings")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"--cache-embeddings is for SAM models only; {family} ({key})" in err
    assert not workspace.sam_cache_dir(NEW_TINY[key], "toy").exists()


def test_compare_page_sam_family_preset(make_study):
    """The Compare page's "SAM family" preset (a link with preset=family): the family table with intervals and
    inspection columns; the test-size model's row is an upper bound with random weights, so nothing is plotted."""
    from tests.test_dashboard import assert_clean, open_page, texts

    make_study(12)
    at = open_page("compare", {"dataset": "toy", "preset": "family"})
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["method"]) == ["sam-tiny-random+oracle †"]
    assert {"pixel AUROC", "AUPRO@0.3", "params (M)", "FPS", "peak MB"} <= set(table.columns)
    assert "(" in table["Sa"][0] and table["FPS"][0] == "—"  # point (interval); not timed: a dash, not 0
    captions = texts(at.caption)
    assert any("bootstrap interval" in c for c in captions) and any("pixel AUROC" in c for c in captions)
    assert any("Nothing to plot" in i for i in texts(at.info))
