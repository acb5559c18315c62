"""Importing prediction folders into the store: matching, resizing, reports and atomicity."""

import json

import numpy as np
import pytest
from PIL import Image

from samis.datasets import register_dataset
from samis.errors import StoreError, WorkspaceError
from samis.store import import_predictions, prediction_files, read_manifest


@pytest.fixture
def toy(workspace, make_folder_dataset):
    root, preds = make_folder_dataset(n=6, shape=(40, 50))
    return register_dataset(workspace, "toy", root), preds


def test_import_matches_by_stem_whatever_the_extension_and_resizes(workspace, toy, tmp_path):
    dataset, preds = toy
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, src in enumerate(sorted(preds["good"].iterdir())):
        array = np.asarray(Image.open(src))
        if i == 0:
            Image.fromarray(array).resize((100, 80)).save(mixed / f"{src.stem}.bmp")  # other size
        elif i == 1:
            Image.fromarray(array).save(mixed / f"{src.stem}.jpg")
        elif i < 5:
            Image.fromarray(array).convert("RGB").save(mixed / f"{src.stem}.png")
    (mixed / "stray_map.png").write_bytes((mixed / "img_002.png").read_bytes())
    report = import_predictions(workspace, dataset, "mixed", mixed)
    assert report.matched == 5 and report.resized == 1
    assert report.missing == ["img_005"] and report.extra == ["stray_map"]
    stored = prediction_files(workspace, "toy", "mixed")
    assert sorted(stored) == [f"img_{i:03d}" for i in range(5)]
    for path in stored.values():
        image = Image.open(path)
        assert image.mode == "L" and image.size == (50, 40)
    manifest = read_manifest(workspace, "toy", "mixed")
    assert manifest["counts"] == {"matched": 5, "missing": 1, "extra": 1, "unreadable": 0, "resized": 1}
    assert manifest["source_folder"] == str(mixed.resolve())
    # a png keeps its exact pixels
    assert np.array_equal(np.asarray(Image.open(stored["img_003"])), np.asarray(Image.open(preds["good"] / "img_003.png")))


def test_truncated_map_refuses_and_keeps_previous_import(workspace, toy, tmp_path):
    dataset, preds = toy
    import_predictions(workspace, dataset, "good", preds["good"])
    before = {p.name: p.read_bytes() for p in workspace.method_dir("toy", "good").iterdir()}
    broken = tmp_path / "broken"
    broken.mkdir()
    for src in preds["weak"].iterdir():
        (broken / src.name).write_bytes(src.read_bytes())
    data = (broken / "img_003.png").read_bytes()
    (broken / "img_003.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match=r"img_003.png: unreadable or truncated image"):
        import_predictions(workspace, dataset, "good", broken)
    after = {p.name: p.read_bytes() for p in workspace.method_dir("toy", "good").iterdir()}
    assert after == before
    leftovers = [p.name for p in workspace.predictions_dir("toy").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_skip_unreadable_imports_the_rest_and_reports(workspace, toy, tmp_path):
    dataset, preds = toy
    folder = tmp_path / "some-bad"
    folder.mkdir()
    for src in preds["weak"].iterdir():
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "img_001.png").write_text("not an image at all")
    report = import_predictions(workspace, dataset, "weak", folder, skip_unreadable=True)
    assert report.matched == 5
    assert [name for name, _ in report.unreadable] == ["img_001.png"]
    assert "img_001" in report.missing
    assert "not an image file" in report.unreadable[0][1]


@pytest.mark.parametrize("method", ["a/b", "..", "../up", ""])
def test_bad_method_names_are_refused(workspace, toy, method):
    dataset, preds = toy
    with pytest.raises(WorkspaceError):
        import_predictions(workspace, dataset, method, preds["good"])
    assert not workspace.predictions_dir("toy").exists() or not any(workspace.predictions_dir("toy").iterdir())


def test_missing_empty_and_unmatched_folders(workspace, toy, tmp_path):
    dataset, _ = toy
    with pytest.raises(StoreError, match="does not exist"):
        import_predictions(workspace, dataset, "m", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="folder is empty"):
        import_predictions(workspace, dataset, "m", tmp_path / "empty")
    (tmp_path / "other").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "other" / "zzz.png")
    with pytest.raises(StoreError, match="no file matches an image"):
        import_predictions(workspace, dataset, "m", tmp_path / "other")


def test_real_sd900_method_imports_all_900(sd900_store):
    """MCITF (published as JPG) imported into the session's SD-saliency-900 store (conftest.py) matched all 900."""
    report = sd900_store.imported("MCITF")["MCITF"]
    assert (report.matched, report.resized, report.missing, report.extra) == (900, 0, [], [])
    manifest = json.loads((sd900_store.workspace.method_dir("sd900", "MCITF") / "manifest.json").read_text())
    assert manifest["counts"]["matched"] == 900


def test_stored_files_get_normal_permissions_not_temp_file_ones(workspace, toy):
    import os
    import stat

    dataset, preds = toy
    import_predictions(workspace, dataset, "good", preds["good"])
    umask = os.umask(0)
    os.umask(umask)
    folder = workspace.method_dir("toy", "good")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((folder / "img_000.png").stat().st_mode) == 0o666 & ~umask
