"""Every command that reads a dataset leaves its folder byte for byte as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

from samis.cli import main

FAST_SAM = ["--model", "tiny", "--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0",
            "--box-nms-thresh", "1.0", "--no-progress", "--device", "cpu"]


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under root (hidden ones too) with the hash of its bytes."""
    return {str(path.relative_to(root)): ("dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest())
            for path in sorted(root.rglob("*"))}


def test_commands_never_write_into_the_dataset(workspace, make_folder_dataset, capsys):
    root, predictions = make_folder_dataset(n=3, shape=(40, 48))
    before = _fingerprint(root)
    before_predictions = _fingerprint(predictions["good"])
    commands = [
        ["datasets", "add", "toy", root],
        ["datasets", "list"],
        ["datasets", "list", "--format", "json"],
        ["predictions", "import", "toy", "good", predictions["good"]],
        ["predictions", "list", "toy"],
        ["evaluate", "toy"],
        ["evaluate", "toy", "--split", "test", "--allow-missing", "--format", "json"],
        ["baseline", "toy", "ft,otsu", "--workers", "1"],
        ["report", "toy", "--measured"],
        ["sam", "toy", *FAST_SAM, "--selection", "oracle,best-single", "--prompts", "box"],
        ["evaluate", "toy", "--format", "csv"],
    ]
    for command in commands:
        code = main(["--workspace", str(workspace.root), *map(str, command)])
        err = capsys.readouterr().err
        assert code == 0, (command, err)
    assert _fingerprint(root) == before
    assert _fingerprint(predictions["good"]) == before_predictions
