"""The command line: JSON shapes, and one-line errors with exit code 2 for user mistakes."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from samis.cli import main

KEYS = ["n_images", "Sa", "MAE", "maxEm", "meanEm", "adpEm", "Fw", "maxFm", "meanFm", "adpFm"]


def run(*args, workspace):
    return main(["--workspace", str(workspace.root), *map(str, args)])


def test_add_import_evaluate_json(workspace, make_folder_dataset, capsys):
    root, preds = make_folder_dataset(n=8)
    assert run("datasets", "add", "toy", root, workspace=workspace) == 0
    assert run("predictions", "import", "toy", "good", preds["good"], workspace=workspace) == 0
    assert run("predictions", "import", "toy", "weak", preds["weak"], workspace=workspace) == 0
    capsys.readouterr()
    assert run("evaluate", "toy", "--methods", "good,weak", "--split", "all", "--format", "json", workspace=workspace) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["dataset", "split", "methods"]
    assert document["dataset"] == "toy" and document["split"] == "all"
    assert list(document["methods"]) == ["good", "weak"]
    assert list(document["methods"]["good"]) == KEYS
    assert document["methods"]["good"]["n_images"] == 8
    assert document["methods"]["good"]["Sa"] > document["methods"]["weak"]["Sa"]
    assert run("datasets", "list", "--format", "json", workspace=workspace) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["datasets"][0]["id"] == "toy" and listing["datasets"][0]["methods"] == ["good", "weak"]


def test_workspace_from_environment_variable(workspace, make_folder_dataset, capsys):
    root, _ = make_folder_dataset(n=2)
    assert main(["datasets", "add", "toy", str(root)]) == 0  # SAMIS_WORKSPACE points at `workspace`
    assert "toy" in workspace.registered_datasets()


@pytest.mark.parametrize("case", ["unknown-dataset", "missing-path", "wrong-layout", "bad-method-name",
                                  "truncated-map", "non-image", "empty-folder", "missing-gt", "other-size",
                                  "missing-maps"])
def test_bad_input_one_line_exit_2_and_nothing_half_written(workspace, make_folder_dataset, tmp_path, capsys, case):
    root, preds = make_folder_dataset(n=4)
    assert run("datasets", "add", "toy", root, workspace=workspace) == 0
    assert run("predictions", "import", "toy", "good", preds["good"], workspace=workspace) == 0
    stored_before = sorted(p.name for p in workspace.root.rglob("*"))
    bad = tmp_path / "bad"
    bad.mkdir()
    if case == "unknown-dataset":
        args = ("evaluate", "nope")
    elif case == "missing-path":
        args = ("datasets", "add", "x", tmp_path / "nowhere")
    elif case == "wrong-layout":
        (bad / "stuff").mkdir()
        args = ("datasets", "add", "x", bad)
    elif case == "bad-method-name":
        args = ("predictions", "import", "toy", "../escape", preds["weak"])
    elif case == "truncated-map":
        data = (preds["weak"] / "img_001.png").read_bytes()
        for src in preds["weak"].iterdir():
            (bad / src.name).write_bytes(src.read_bytes())
        (bad / "img_001.png").write_bytes(data[:40])
        args = ("predictions", "import", "toy", "good", bad)
    elif case == "non-image":
        for src in preds["weak"].iterdir():
            (bad / src.name).write_bytes(src.read_bytes())
        (bad / "img_002.png").unlink()
        (bad / "img_002.txt").write_text("hello")
        args = ("predictions", "import", "toy", "good", bad)
    elif case == "empty-folder":
        args = ("predictions", "import", "toy", "weak", bad)
    elif case == "missing-gt":
        (root / "masks" / "img_003.png").unlink()
        args = ("evaluate", "toy")
    elif case == "other-size":
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(workspace.method_dir("toy", "good") / "img_000.png")
        stored_before = sorted(p.name for p in workspace.root.rglob("*"))
        args = ("evaluate", "toy")
    elif case == "missing-maps":
        (workspace.method_dir("toy", "good") / "img_000.png").unlink()
        stored_before = sorted(p.name for p in workspace.root.rglob("*"))
        args = ("evaluate", "toy")
    capsys.readouterr()
    assert run(*args, workspace=workspace) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    after = sorted(p.name for p in workspace.root.rglob("*") if not p.name.startswith("_ground_truth_index"))
    before = [n for n in stored_before if not n.startswith("_ground_truth_index")]
    assert [n for n in after if not n.startswith(".")] == [n for n in before if not n.startswith(".")]
    assert not [n for n in after if n.startswith(".") and n.endswith(".tmp")]


def test_python_dash_m_entry_point(workspace):
    completed = subprocess.run([sys.executable, "-m", "samis", "--workspace", str(workspace.root), "evaluate", "nope"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: unknown dataset 'nope'")


def test_empty_workspace_gets_the_demo_on_first_listing(workspace, capsys):
    assert run("datasets", "list", "--format", "json", workspace=workspace) == 0
    listing = json.loads(capsys.readouterr().out)
    demo = listing["datasets"][0]
    assert demo["id"] == "demo" and demo["n_images"] == 72  # 60 defect, 12 defect-free
    assert demo["methods"] == ["ft", "hc", "mbd", "otsu", "sr"]
    # the second time nothing is rebuilt
    assert run("datasets", "list", workspace=workspace) == 0
    assert "building the synthetic demo" not in capsys.readouterr().err


def test_naming_the_demo_dataset_builds_it_on_an_empty_workspace(workspace, capsys):
    assert run("evaluate", "demo", "--methods", "ft,otsu", "--format", "json", workspace=workspace) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["methods"]["ft"]["n_images"] == 72
    assert document["methods"]["ft"]["Sa"] > document["methods"]["otsu"]["Sa"]


def test_reader_closing_the_pipe_early_is_no_traceback(workspace, make_folder_dataset, tmp_path):
    """``python -m samis predictions list … | head -1``: the reader leaves; samis ends quietly."""
    import os
    from pathlib import Path

    root, preds = make_folder_dataset(n=2)
    assert run("datasets", "add", "toy", root, workspace=workspace) == 0
    assert run("predictions", "import", "toy", "good", preds["good"], workspace=workspace) == 0
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "samis", "--workspace", str(workspace.root), "predictions",
                                    "list", "toy"], stdout=subprocess.PIPE, stderr=stderr,
                                   cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONUNBUFFERED": ""})
        process.stdout.close()  # like head after its lines: the reader is gone before samis writes
        code = process.wait(timeout=120)
    err = stderr_path.read_text()
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert code == 0
