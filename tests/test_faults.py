"""Fault injection: a process killed at any write leaves a workspace the next command repairs or resumes.

Each case runs a samis command in a fresh interpreter that kills itself with SIGKILL (no cleanup, no
``finally``) at the N-th ``os.replace`` (every atomic file write and both renames of an import's swap
end in one) or when it starts removing a retired import folder. The next command, run normally, must
succeed and give the same scores as a run that was never interrupted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from killed_run import run_killed

from samis.cli import main
from samis.datasets import register_dataset
from samis.evaluation import evaluate
from samis.store import import_predictions
from samis.workspace import Workspace

# Runs a snippet of library calls (W is the workspace; the CLI's imports would cost seconds per run) in
# killed_run's child, which SIGKILLs itself at its N-th os.replace (N = 0: never) or, with "rmtree", at the
# first removal of a retired import folder; writes the number of os.replace calls it made.
SNIPPET = """
from samis.workspace import Workspace
W = Workspace(sys.argv[1])
exec(sys.argv[2])
open(sys.argv[3], "w").write(str(calls))
"""

IMPORT = ("from samis.datasets import load_dataset; from samis.store import import_predictions; "
          "import_predictions(W, load_dataset(W, 'toy'), {method!r}, {folder!r})")
EVALUATE = ("from samis.datasets import load_dataset; from samis.evaluation import evaluate; "
            "evaluate(W, load_dataset(W, 'toy'), workers=1)")


def _killed_run(tmp_path: Path, workspace, kill_at: int, code: str, mode: str = "replace") -> tuple[int, int]:
    """Run library calls ``code`` killed at the N-th replace; returns (exit code, replace calls made)."""
    count = tmp_path / "count.txt"
    count.unlink(missing_ok=True)
    done = run_killed(tmp_path, SNIPPET, str(workspace.root), code, str(count), kill_at=kill_at if mode == "replace" else 0,
                      kill_at_rmtree_of=".retired-" if mode == "rmtree" else None)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, int(count.read_text()) if count.exists() else -1


def _scores(workspace, dataset, methods) -> dict:
    result = evaluate(workspace, dataset, methods, workers=1)
    return {m: {k: v for k, v in s.items() if k != "curves"} for m, s in result.scores.items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for method in a:
        for key in a[method]:
            assert np.isclose(a[method][key], b[method][key], equal_nan=True), (method, key)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def test_reimport_killed_at_every_write_keeps_old_or_new_maps(workspace, make_folder_dataset, tmp_path, capsys):
    root, predictions = make_folder_dataset(n=3)
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "m", predictions["good"])
    import_predictions(workspace, dataset, "weak", predictions["weak"])
    old, new = _scores(workspace, dataset, ["m"])["m"], _scores(workspace, dataset, ["weak"])["weak"]
    code, total = _killed_run(tmp_path, workspace, 0, IMPORT.format(method="m", folder=str(predictions["good"])))
    assert code == 0 and total == 3 + 1 + 2  # three maps, the manifest, the two renames of the swap
    cases = [(n, "replace") for n in range(1, total + 1)] + [(0, "rmtree")]
    for kill_at, mode in cases:
        import_predictions(workspace, dataset, "m", predictions["good"])  # back to the old maps
        code, _ = _killed_run(tmp_path, workspace, kill_at, IMPORT.format(method="m", folder=str(predictions["weak"])),
                              mode=mode)
        assert code == -9, (kill_at, mode)
        # the next command that looks at the dataset's predictions repairs what the kill left
        assert main(["--workspace", str(workspace.root), "predictions", "list", "toy"]) == 0
        assert "m " in capsys.readouterr().out
        assert _hidden(workspace.predictions_dir("toy")) == [], (kill_at, mode)
        scores = _scores(workspace, dataset, ["m"])["m"]
        swapped = mode == "rmtree" or kill_at == total + 1
        _assert_same({"m": scores}, {"m": new if swapped else old})
        # and running the import again completes it
        assert main(["--workspace", str(workspace.root), "predictions", "import", "toy", "m", str(predictions["weak"])]) == 0
        _assert_same(_scores(workspace, dataset, ["m"]), {"m": new})


def test_evaluate_killed_at_every_cache_write_then_scores_equal_a_clean_run(workspace, make_folder_dataset, tmp_path):
    root, predictions = make_folder_dataset(n=4)
    dataset = register_dataset(workspace, "toy", root, "folder")
    import_predictions(workspace, dataset, "good", predictions["good"])
    import_predictions(workspace, dataset, "weak", predictions["weak"])
    clean = _scores(workspace, dataset, ["good", "weak"])
    results = workspace.results_dir("toy")
    shutil.rmtree(results)
    code, total = _killed_run(tmp_path, workspace, 0, EVALUATE)
    assert code == 0 and total == 3  # the ground-truth index, then good.parquet and weak.parquet
    for kill_at in range(1, total + 1):
        shutil.rmtree(results)
        code, _ = _killed_run(tmp_path, workspace, kill_at, EVALUATE)
        assert code == -9
        written = sorted(p.name for p in results.iterdir() if not p.name.startswith("."))
        assert len(written) == kill_at - 1  # whole files only: the one being written is not there yet
        _assert_same(_scores(workspace, dataset, ["good", "weak"]), clean)


def test_sam_killed_at_a_mask_cache_write_resumes(workspace, make_folder_dataset, tmp_path, capsys):
    root, _ = make_folder_dataset(n=3, shape=(40, 48))
    register_dataset(workspace, "toy", root, "folder")
    fast = ["--model", "tiny", "--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
            "--box-nms-thresh", "1.0", "--no-progress"]
    sam = ("from samis.datasets import load_dataset; from samis.sam.amg import AmgParams; "
           "from samis.sam.run import SamRun, run_sam_over_dataset; "
           "run_sam_over_dataset(W, load_dataset(W, 'toy'), SamRun('tiny', AmgParams(points_per_side=4, "
           "pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0), device='cpu'))")
    code, _ = _killed_run(tmp_path, workspace, 2, sam)  # while writing the second image's masks
    assert code == -9
    assert main(["--workspace", str(workspace.root), "sam", "toy", *fast, "--selection", "oracle",
                 "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    assert run["cached"] >= 1 and run["cached"] + run["computed"] == 3
    cache = workspace.sam_cache_dir("sam-tiny-random", "toy")
    resumed = {p.name: p.read_bytes() for p in cache.glob("*.npz")}
    assert len(resumed) == 3 and not [p for p in cache.iterdir() if p.name.endswith(".tmp")]
    # the resumed cache holds exactly what a run that was never killed writes
    clean = Workspace(tmp_path / "clean")
    register_dataset(clean, "toy", root, "folder")
    assert main(["--workspace", str(clean.root), "sam", "toy", *fast, "--selection", "none"]) == 0
    assert resumed == {p.name: p.read_bytes() for p in clean.sam_cache_dir("sam-tiny-random", "toy").glob("*.npz")}


def test_demo_build_killed_midway_is_rebuilt_by_the_next_command(workspace, tmp_path, capsys):
    code, _ = _killed_run(tmp_path, workspace, 6, "from samis.demo import ensure_demo; ensure_demo(W)")
    # the 6th of its 18 atomic writes: past the images, inside the baselines
    assert code == -9
    assert main(["--workspace", str(workspace.root), "evaluate", "demo", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(document["methods"]) == ["ft", "hc", "mbd", "otsu", "sr"]
    assert all(m["n_images"] == 72 for m in document["methods"].values())
