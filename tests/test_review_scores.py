"""``--exclude-tag`` (issue 27): leaving tagged images out changes the scores exactly as dropping them from the
split does — for evaluate, report (with intervals) and compare (intervals and tests on the same images)."""

from __future__ import annotations

import json
import shutil

import pytest

from samis.cli import main
from samis.datasets import register_dataset
from samis.review import ReviewStore
from samis.store import import_predictions
from samis.workspace import Workspace

TAGGED = ("img_002", "img_005", "img_009")


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory, folder_dataset_writer):
    """``toy`` with three images tagged ``gt error`` (one only on an image × method), and ``dropped``: the same
    files without those three images."""
    base = tmp_path_factory.mktemp("exclude")
    root, preds = folder_dataset_writer(base, n=15, empty_gt=1)
    workspace = Workspace(base / "workspace")
    toy = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, toy, method, folder)
    dropped_root = base / "dropped"
    shutil.copytree(root, dropped_root)
    lines = (dropped_root / "classes.csv").read_text().splitlines()
    (dropped_root / "classes.csv").write_text("\n".join(l for l in lines if l.split(",")[0] not in TAGGED) + "\n")
    for stem in TAGGED:
        (dropped_root / "images" / f"{stem}.png").unlink()
        (dropped_root / "masks" / f"{stem}.png").unlink()
    dropped = register_dataset(workspace, "dropped", dropped_root)
    for method, folder in preds.items():
        kept = base / f"dropped-{method}"
        shutil.copytree(folder, kept)
        for stem in TAGGED:
            (kept / f"{stem}.png").unlink()
        import_predictions(workspace, dropped, method, kept)
    store = ReviewStore(workspace.root)
    store.add_tag("toy", "img_002", "gt error", author="ann")
    store.add_tag("toy", "img_005", "gt error", author="bob")
    store.add_tag("toy", "img_009", "gt error", method="good", author="ann")
    store.add_tag("toy", "img_010", "boundary", author="ann")  # another tag: not left out
    return workspace


def _json(capsys, *argv):
    capsys.readouterr()
    assert main(list(argv)) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_evaluate_exclude_tag_equals_dropping_the_images(two_datasets, capsys):
    ws = str(two_datasets.root)
    excluded, err = _json(capsys, "--workspace", ws, "evaluate", "toy", "--format", "json", "--exclude-tag", "gt error")
    dropped, _ = _json(capsys, "--workspace", ws, "evaluate", "dropped", "--format", "json")
    full, _ = _json(capsys, "--workspace", ws, "evaluate", "toy", "--format", "json")
    assert excluded["methods"] == dropped["methods"]  # exactly, every float
    assert excluded["methods"] != full["methods"]
    assert excluded["left_out"] == "left out 3 images tagged 'gt error' (tags by ann: 2, bob: 1)"
    assert "left out 3 images" in err
    assert main(["--workspace", ws, "evaluate", "toy", "--exclude-tag", "gt error"]) == 0
    assert "left out 3 images tagged 'gt error' (tags by ann: 2, bob: 1)" in capsys.readouterr().out


def test_compare_and_report_use_the_same_images(two_datasets, capsys):
    ws = str(two_datasets.root)
    excluded, err = _json(capsys, "--workspace", ws, "compare", "toy", "good", "weak", "--b", "200", "--format", "json",
                          "--exclude-tag", "gt error")
    dropped, _ = _json(capsys, "--workspace", ws, "compare", "dropped", "good", "weak", "--b", "200", "--format", "json")
    assert excluded["metrics"] == dropped["metrics"] and excluded["n_images"] == dropped["n_images"] == 12
    assert any("left out 3 images" in note for note in excluded["notes"]) and err.count("left out") == 1
    report, _ = _json(capsys, "--workspace", ws, "report", "toy", "--ci", "200", "--format", "json", "--exclude-tag",
                      "gt error")
    reference, _ = _json(capsys, "--workspace", ws, "report", "dropped", "--ci", "200", "--format", "json")
    def numbers(document):  # values, intervals, best marks and image counts; not the dataset's name or the time
        return [{k: v for k, v in row.items() if k not in ("dataset", "time")} for row in document["rows"]]

    assert numbers(report) == numbers(reference) and report["rows"][0]["n_images"] == 12
    assert any(key.endswith("_ci") for key in report["rows"][0])
    assert report["uncertainty"] == reference["uncertainty"]
    assert any("left out 3 images tagged 'gt error'" in note for note in report["notes"])
    text = main(["--workspace", ws, "report", "toy", "--exclude-tag", "gt error"])
    assert text == 0 and "left out 3 images" in capsys.readouterr().out


def test_reference_rows_use_the_same_images(two_datasets):
    """Reference rows beside scores that leave tagged images out are scored on the images kept."""
    from samis.tables.report import ComparisonQuery, comparison_rows

    def references(dataset, *tags):
        found = comparison_rows(two_datasets, ComparisonQuery(dataset, measured=True, references=True,
                                                              exclude_tags=tags))
        return [(r.method, r.values, r.details.get("n_images")) for r in found.rows if r.reference]

    excluded, dropped = references("toy", "gt error"), references("dropped")
    assert excluded and excluded == dropped
    assert references("toy") != dropped


def test_pixel_level_refuses_exclude_tag_in_one_line(tmp_path, capsys):
    from samis.cli import main

    code = main(["--workspace", str(tmp_path / "ws"), "evaluate", "demo", "--pixel-level", "--exclude-tag", "gt error"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: --exclude-tag applies to the segmentation scores; --pixel-level does not take it yet"
