"""Wall time of the CLI commands that run no model, each in a fresh process, against a temporary workspace.

    python benchmarks/bench_cli.py [--repeat 3]

Builds a small generated dataset (12 images, two imported methods, evaluated once so ``evaluate``
reads cached results), then runs every command ``--repeat`` times in a new interpreter and prints the
median wall time (interpreter start included: what a user waits for) and whether torch or
segment_anything got imported. Nothing outside the temporary folder is written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samis.datasets import load_dataset, register_dataset  # noqa: E402
from samis.evaluation import evaluate  # noqa: E402
from samis.store import import_predictions  # noqa: E402
from samis.workspace import Workspace  # noqa: E402

COMMANDS = [
    ["--help"],
    ["datasets", "list"],
    ["datasets", "add", "toy2", "{root}"],
    ["datasets", "remove", "toy2"],
    ["predictions", "list", "toy"],
    ["predictions", "import", "toy", "again", "{good}"],
    ["evaluate", "toy"],
    ["report", "sd900", "--paper"],
    ["report", "sd900", "--paper", "--format", "json"],
    ["report", "toy", "--measured"],
]

#: runs one command like ``python -m samis`` and records which heavy modules it imported
_RUNNER = """
import json, sys
from samis.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as stop:  # --help exits through argparse
    code = stop.code or 0
with open(sys.argv[1], "w") as handle:
    json.dump([m for m in ("torch", "segment_anything") if m in sys.modules], handle)
sys.exit(code)
"""


def make_study(base: Path) -> tuple[Workspace, Path, Path]:
    """A workspace with dataset ``toy``: 12 generated 64x48 images, methods ``good`` and ``weak``, evaluated."""
    rng = np.random.default_rng(0)
    root, good, weak = base / "toy", base / "good", base / "weak"
    for folder in (root / "images", root / "masks", good, weak):
        folder.mkdir(parents=True)
    for i in range(12):
        mask = np.zeros((48, 64), np.uint8)
        mask[10 + i:30 + i, 20:40] = 255
        image = (rng.normal(120, 10, mask.shape) + (mask > 0) * 40).clip(0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"img_{i:03d}.png")
        Image.fromarray(mask).save(root / "masks" / f"img_{i:03d}.png")
        for folder, noise in ((good, 20), (weak, 80)):
            pred = (mask * 0.7 + rng.normal(40, noise, mask.shape)).clip(0, 255).astype(np.uint8)
            Image.fromarray(pred).save(folder / f"img_{i:03d}.png")
    workspace = Workspace(base / "workspace")
    register_dataset(workspace, "toy", root)
    dataset = load_dataset(workspace, "toy")
    for method, folder in (("good", good), ("weak", weak)):
        import_predictions(workspace, dataset, method, folder)
    evaluate(workspace, dataset, ["good", "weak"], "all", workers=1)
    return workspace, root, good


def time_command(argv: list[str], workspace: Workspace, flag: Path) -> tuple[float, list[str], int]:
    """(wall seconds, heavy modules imported, exit code) of one fresh-process run."""
    env = {**os.environ, "SAMIS_WORKSPACE": str(workspace.root),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(flag), "--workspace", str(workspace.root), *argv],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"  {' '.join(argv)} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return seconds, json.loads(flag.read_text()) if flag.exists() else ["?"], done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs per command (median shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samis-bench-cli-") as tmp:
        workspace, root, good = make_study(Path(tmp))
        flag = Path(tmp) / "heavy.json"
        print(f"python -m samis …, median of {args.repeat} fresh processes (workspace: 12 generated images)")
        print(f"{'command':<44} {'median s':>9} {'min s':>7}  torch / segment_anything imported")
        for template in COMMANDS:
            argv = [a.format(root=root, good=good) for a in template]
            times, heavy = [], []
            for _ in range(args.repeat):
                if template[:2] == ["datasets", "remove"]:
                    register_dataset(workspace, "toy2", root, replace=True)  # each run removes it again
                flag.unlink(missing_ok=True)
                seconds, heavy, _ = time_command(argv, workspace, flag)
                times.append(seconds)
            shown = " ".join(template).replace("{root}", "PATH").replace("{good}", "FOLDER")
            print(f"{shown:<44} {statistics.median(times):>9.2f} {min(times):>7.2f}  {', '.join(heavy) or 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
