"""Damaged, foreign or hand-edited workspace files: moved aside and recomputed, or refused in one line."""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from samis.cli import main
from samis.datasets import get_split, register_dataset
from samis.errors import DatasetError, SamisWarning, StoreError, WorkspaceError
from samis.evaluation import CACHE_VERSION, evaluate
from samis.store import import_predictions, read_manifest
from samis.workspace import Workspace


def _cli(workspace, capsys, *args) -> tuple[int, str, str]:
    code = main(["--workspace", str(workspace.root), *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def study(workspace, make_folder_dataset):
    """Dataset ``toy`` (6 images) with methods good and weak, evaluated once (caches written)."""
    root, predictions = make_folder_dataset(n=6)
    dataset = register_dataset(workspace, "toy", root, "folder")
    for method in ("good", "weak"):
        import_predictions(workspace, dataset, method, predictions[method])
    clean = evaluate(workspace, dataset, workers=1).scores
    return workspace, dataset, clean


def _same_scores(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for method in a:
        for key, value in a[method].items():
            if key != "curves":
                assert np.isclose(value, b[method][key], equal_nan=True), (method, key)


def _foreign_npz() -> bytes:
    buffer = io.BytesIO()  # the right version but arrays of another shape (another tool, or an older samis)
    np.savez(buffer, version=np.array(CACHE_VERSION), stems=np.array(["x", "y"]), pred_stat=np.zeros((3, 2), np.int64),
             scalars=np.zeros((2, 1)))
    return buffer.getvalue()


def _foreign_parquet() -> bytes:
    sink = pa.BufferOutputStream()  # a Parquet file, but not samis's (no provenance, other columns)
    pq.write_table(pa.table({"image": ["x", "y"], "score": [0.1, 0.2]}), sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign", "empty"])
@pytest.mark.parametrize("target", ["results", "gt_index"])
def test_damaged_cache_is_moved_aside_and_recomputed(study, damage, target):
    workspace, dataset, clean = study
    folder = workspace.results_dir("toy")
    path = folder / ("good.parquet" if target == "results" else "_ground_truth_index.npz")
    whole = path.read_bytes()
    foreign = _foreign_parquet() if target == "results" else _foreign_npz()
    path.write_bytes({"truncated": whole[: len(whole) // 2], "garbage": b"not a zip at all",
                      "foreign": foreign, "empty": b""}[damage])
    with pytest.warns(SamisWarning, match="damaged.*moved aside"):
        result = evaluate(workspace, dataset, workers=1)
    _same_scores(result.scores, clean)
    # a lost index only costs hashing the ground truths again; the results themselves still match
    assert (result.computed > 0) == (target == "results")
    kept = list(folder.glob(path.name + ".damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() != whole  # the damaged bytes are kept for a person to look at
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamisWarning)  # the rewritten cache is whole: no second warning
        assert evaluate(workspace, dataset, workers=1).computed == 0


def test_cli_says_one_warning_line_and_succeeds(study, capsys):
    workspace, _, _ = study
    (workspace.results_dir("toy") / "weak.parquet").write_bytes(b"PAR1 cut")
    code, out, err = _cli(workspace, capsys, "evaluate", "toy", "--format", "json")
    assert code == 0 and json.loads(out)["methods"]["weak"]["n_images"] == 6
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "weak.parquet" in lines[0], err


def test_damaged_manifest_is_moved_aside_and_a_foreign_one_refused(study, capsys):
    workspace, _, _ = study
    manifest = workspace.method_dir("toy", "good") / "manifest.json"
    manifest.write_text('{"source": "imp')
    code, out, err = _cli(workspace, capsys, "predictions", "list", "toy")
    assert code == 0 and "good" in out and err.startswith("warning: ") and "manifest.json" in err
    assert not manifest.exists() and list(manifest.parent.glob("manifest.json.damaged-*"))
    assert read_manifest(workspace, "toy", "good") == {}
    manifest.write_text("[1, 2]")
    code, out, err = _cli(workspace, capsys, "predictions", "list", "toy")
    assert code == 2 and err.count("\n") == 1 and str(manifest) in err and "JSON object" in err
    with pytest.raises(StoreError, match="JSON object"):
        read_manifest(workspace, "toy", "good")


@pytest.mark.parametrize("text, words", [
    ("datasets = 5\n", "'datasets' must be a table"),
    ('[datasets]\ntoy = "somewhere"\n', "needs 'path' and 'layout'"),
    ('[datasets.toy]\npath = 5\nlayout = "folder"\n', "'path' must be text"),
    ('[datasets.toy]\npath = "x"\nlayout = ["folder"]\n', "'layout' must be text"),
    ('[datasets."a/b"]\npath = "x"\nlayout = "folder"\n', "not allowed"),
])
def test_registry_of_the_wrong_shape_is_one_line(workspace, capsys, text, words):
    workspace.root.mkdir(parents=True)
    workspace.datasets_file.write_text(text)
    with pytest.raises(WorkspaceError, match=words):
        workspace.registered_datasets()
    code, _, err = _cli(workspace, capsys, "datasets", "list")
    assert code == 2 and err.count("\n") == 1 and str(workspace.datasets_file) in err and "Traceback" not in err


@pytest.mark.parametrize("edit, words", [
    (lambda s: {**s, "test": 5}, "split 'test' must be a list"),
    (lambda s: {**s, "test": [1, 2]}, "split 'test' must be a list"),
    (lambda s: {**s, "test": s["test"] + s["test"][:1]}, "twice"),
    (lambda s: {**s, "test": s["test"] + s["train"][:1]}, "share 1 images"),
    (lambda s: {**s, "train": s["train"] + ["img_999"]}, "img_999"),
    (lambda s: [1, 2], "must map split names"),
])
def test_split_file_of_the_wrong_shape_is_refused(study, capsys, edit, words):
    workspace, dataset, _ = study
    get_split(workspace, dataset, "test")  # freezes the split file
    path = workspace.split_file("toy")
    document = json.loads(path.read_text())
    document["splits"] = edit(document["splits"])
    path.write_text(json.dumps(document))
    with pytest.raises(DatasetError, match=words):
        get_split(workspace, dataset, "test")
    code, _, err = _cli(workspace, capsys, "evaluate", "toy", "--split", "test")
    assert code == 2 and err.count("\n") == 1 and str(path) in err


def test_stray_prediction_folder_is_ignored_with_one_note(study, capsys):
    workspace, dataset, clean = study
    for name in ("bad name!", "x..y"):
        (workspace.predictions_dir("toy") / name).mkdir()
    (workspace.predictions_dir("toy") / ".hidden").mkdir()
    code, out, err = _cli(workspace, capsys, "predictions", "list", "toy")
    assert code == 0 and out.split()[0] == "good" and "bad name!" not in out
    assert err.count("ignored") == 2 and "'bad name!' is not a valid method name" in err
    code, out, err = _cli(workspace, capsys, "evaluate", "toy", "--format", "json")
    assert code == 0 and list(json.loads(out)["methods"]) == ["good", "weak"]
    assert "ignored" not in err  # said once per process
    code, out, _ = _cli(workspace, capsys, "datasets", "list", "--format", "json")
    assert code == 0 and json.loads(out)["datasets"][0]["methods"] == ["good", "weak"]


def test_errors_of_atomic_writes_name_the_real_file(study, monkeypatch, capsys):
    workspace, dataset, _ = study
    real_replace = os.replace

    def refuse(source, target, *args, **kwargs):
        if Path(source).name.endswith(".tmp") or Path(source).name.startswith(".import-"):
            raise PermissionError(13, "Permission denied", str(source), None, str(target))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", refuse)
    from samis.imageio import write_text_atomic

    with pytest.raises(PermissionError) as caught:
        write_text_atomic(workspace.root / "note.txt", "x")
    assert caught.value.filename == str(workspace.root / "note.txt")
    for args in (("evaluate", "toy", "--methods", "good"),  # writes nothing new: cached
                 ("predictions", "import", "toy", "other", dataset.root / "masks")):
        (workspace.results_dir("toy") / "good.parquet").unlink(missing_ok=True)
        code, _, err = _cli(workspace, capsys, *args)
        assert code == 2 and ".tmp" not in err and ".import-" not in err and err.count("\n") == 1, err
        assert "permission denied" in err


def test_workspace_through_a_link_into_the_reference_folder_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "real-shared"
    (shared / "inside").mkdir(parents=True)
    (tmp_path / "shared").symlink_to(shared)  # the reference folder itself reached through a link
    monkeypatch.setattr("samis.workspace.SHARED_REFERENCE_DIR", tmp_path / "shared")
    (tmp_path / "elsewhere").symlink_to(shared / "inside")
    for path in (tmp_path / "shared" / "inside" / "ws", tmp_path / "elsewhere" / "ws", shared / "ws"):
        with pytest.raises(WorkspaceError, match="read-only reference data"):
            Workspace(path)
    Workspace(tmp_path / "ws")  # beside it is fine


@pytest.mark.parametrize("name, reason", [("a" * 300, "File name too long"), ("x\x00y", "embedded null byte")],
                         ids=["too-long", "nul"])
def test_an_unusable_workspace_path_is_one_line(tmp_path, name, reason):
    with pytest.raises(WorkspaceError) as caught:
        Workspace(tmp_path / name)
    message = str(caught.value)
    assert message.startswith("workspace '") and message.endswith(f"is not a usable path ({reason})")
    assert len(message) < 300


def test_cli_with_a_workspace_name_too_long_is_one_line(tmp_path, capsys):
    code = main(["--workspace", str(tmp_path / ("a" * 300)), "datasets", "list"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: workspace '") and "(File name too long)" in err
