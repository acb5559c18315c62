"""Weak spots in reading user input: files a dataset folder holds but samis does not load, a hand-edited
registry, a damaged manifest's message, suggested commands, worker counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samis.cli import main
from tests.conftest import write_gray


def test_datasets_add_counts_and_names_masks_without_an_image(tmp_path, workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=4)
    write_gray(root / "masks" / "orphan.png", np.zeros((48, 64), np.uint8))
    (root / "images" / "img_002.png").rename(tmp_path / "moved.png")
    (root / "images" / "img_002.png").symlink_to(tmp_path / "gone.png")  # dangling: its mask has no image
    assert main(["datasets", "add", "toy", str(root)]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("skipped"))
    assert line.startswith("skipped 3 file(s): ")
    assert "images/img_002.png (dangling symbolic link)" in line
    assert "masks/img_002.png (mask without an image)" in line and "masks/orphan.png (mask without an image)" in line
    assert "3 images" in out


def test_mt_layout_counts_a_png_mask_without_its_jpg(tmp_path):
    from PIL import Image

    from samis.datasets import open_dataset

    imgs = tmp_path / "mt" / "MT_Crack" / "Imgs"
    imgs.mkdir(parents=True)
    for stem in ("a", "b"):
        Image.fromarray(np.full((8, 8), 90, np.uint8)).save(imgs / f"{stem}.jpg")
        Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(imgs / f"{stem}.png")
    (imgs / "b.jpg").unlink()
    dataset = open_dataset(tmp_path / "mt", "mt")
    assert [s.id for s in dataset.samples] == ["a"]
    assert dataset.skipped == [("MT_Crack/Imgs/b.png", "mask without an image")]


@pytest.mark.parametrize("entry, words", [('layout = "bogus"', "unknown layout 'bogus'"),
                                          ('layout = "mt"\ninclude_defect_free = "no"', "must be bool"),
                                          ('layout = "folder"\ncolour = 1', "unknown option 'colour'")])
def test_a_bad_registry_entry_names_datasets_toml(workspace, make_folder_dataset, capsys, entry, words):
    root, _ = make_folder_dataset(n=3)
    workspace.root.mkdir(parents=True, exist_ok=True)
    (workspace.root / "datasets.toml").write_text(f'[datasets.toy]\npath = {json.dumps(str(root))}\n{entry}\n')
    assert main(["evaluate", "toy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "datasets.toml" in err and words in err and "'toy'" in err


def test_a_damaged_manifest_warning_promises_no_recomputation(workspace, make_folder_dataset, capsys):
    from samis.datasets import load_dataset, register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=3)
    register_dataset(workspace, "toy", root)
    import_predictions(workspace, load_dataset(workspace, "toy"), "good", preds["good"])
    manifest = workspace.method_dir("toy", "good") / "manifest.json"
    manifest.write_text('{"source": "imp')
    assert main(["predictions", "list", "toy"]) == 0
    captured = capsys.readouterr()
    assert "computed again" not in captured.err and "where they came from is lost" in captured.err
    assert captured.out.split()[-1] == "?"  # what the warning says the listing shows


def _suggested_sam_args(message: str) -> list[str]:
    assert "python -m samis " in message, message
    return message.split("python -m samis ", 1)[1].split()


def test_masks_suggests_only_commands_that_sam_accepts(masks_workspace, capsys):
    import dataclasses

    from samis.cli import build_parser
    from samis.errors import SamError
    from samis.mask_explorer import explore_masks
    from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES

    assert main(["masks", "toy", "img_000", "--strategy", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python -m samis" not in err and "unknown strategy or prompt kind 'bogus'" in err

    explorer = explore_masks(masks_workspace, "toy", "img_000", "tiny")
    for how in ("box", "small-union"):  # a prompt kind and a strategy, as if never written
        missing = dataclasses.replace(explorer, selections=[v for v in explorer.selections if v.how != how])
        with pytest.raises(SamError) as caught:
            missing.selection(how)
        args = build_parser().parse_args(_suggested_sam_args(str(caught.value)))
        assert args.command == "sam"
        assert all(s in SELECTION_STRATEGIES for s in args.selection.split(",")) or args.selection == "none"
        assert args.prompts is None or all(p in PROMPT_KINDS for p in args.prompts.split(","))
        assert how in (args.prompts or "").split(",") + args.selection.split(",")


@pytest.mark.parametrize("command", [["evaluate", "demo", "--workers", "0"], ["baseline", "demo", "ft", "--workers", "-3"],
                                     ["demo", "--workers", "0"], ["evaluate", "demo", "--image-level", "--workers", "0"]])
def test_a_worker_count_below_one_is_refused_by_every_command(workspace, capsys, command):
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err == f"error: --workers must be at least 1 (got {command[-1]})\n"
    assert not workspace.root.exists() or not any(workspace.root.iterdir())  # nothing built or computed


def test_the_split_file_describes_the_rule_applied_to_a_small_copy(tmp_path, workspace):
    from PIL import Image

    from samis.datasets import frozen_splits, register_dataset

    root = tmp_path / "sd30"
    (root / "Source Images").mkdir(parents=True)
    (root / "Ground truth").mkdir()
    for prefix in ("In", "Pa", "Sc"):
        for i in range(10):
            Image.fromarray(np.full((8, 8), 90, np.uint8)).save(root / "Source Images" / f"{prefix}_{i}.bmp")
            Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(root / "Ground truth" / f"{prefix}_{i}.png")
    splits = frozen_splits(workspace, register_dataset(workspace, "sd30", root))
    assert (len(splits["train"]), len(splits["test"])) == (18, 12)
    rule = json.loads(workspace.split_file("sd30").read_text())["rules"]["train/test"]
    assert "540/360" not in rule and "120" not in rule
    assert rule.startswith("18/12 of 30 images") and "inclusion 4, patches 4, scratches 4" in rule
