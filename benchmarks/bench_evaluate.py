"""Time a plain sequential pysodmetrics loop against samis evaluate (cold and warm cache).

Data: the 12 published methods × 900 images of SD-saliency-900 in ../shared (imported into a
temporary workspace first; the import is not timed). All three runs happen in this one process,
one after the other, and the script prints seconds and ratios.

    python benchmarks/bench_evaluate.py [--methods FT,HC] [--workers N]

Targets (issue 2): cold >= 1.7x faster than the plain loop on 2 cores, warm >= 50x faster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import py_sod_metrics as sod

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.datasets import register_dataset  # noqa: E402
from samis.evaluation import evaluate  # noqa: E402
from samis.store import import_predictions  # noqa: E402
from samis.workspace import Workspace  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def plain_loop(methods: list[str], samples, originals: Path) -> dict:
    """What one would write with pysodmetrics alone: per method, per image, read both files, step all metrics."""
    out = {}
    for method in methods:
        files = {p.stem: p for p in (originals / method).iterdir()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fm = sod.Fmeasure()
        wfm, sm, em, mae = sod.WeightedFmeasure(), sod.Smeasure(), sod.Emeasure(), sod.MAE()
        for sample in samples:
            pred = cv2.imread(str(files[sample.id]), cv2.IMREAD_GRAYSCALE)
            gt = cv2.imread(str(sample.gt_path), cv2.IMREAD_GRAYSCALE)
            for metric in (fm, wfm, sm, em, mae):
                metric.step(pred=pred, gt=gt)
        out[method] = (sm.get_results()["sm"], mae.get_results()["mae"], em.get_results()["em"]["curve"].max(),
                       wfm.get_results()["wfm"], fm.get_results()["fm"]["curve"].max())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", help="comma list (default: all 12)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    originals = SHARED / "predictions" / "SD-saliency-900"
    if not originals.is_dir():
        print(f"skipped: {originals} is absent")
        return 0
    methods = args.methods.split(",") if args.methods else sorted(p.name for p in originals.iterdir() if p.is_dir())
    root = Path(tempfile.mkdtemp(prefix="samis-bench-evaluate-"))
    try:
        workspace = Workspace(root)
        dataset = register_dataset(workspace, "sd900", SHARED / "datasets" / "SD-saliency-900")
        for method in methods:
            import_predictions(workspace, dataset, method, originals / method)
        n_pairs = len(methods) * len(dataset)
        print(f"{len(methods)} methods x {len(dataset)} images = {n_pairs} image-method pairs, {os.cpu_count()} cores")

        start = time.perf_counter()
        reference = plain_loop(methods, dataset.samples, originals)
        plain_s = time.perf_counter() - start
        print(f"plain sequential pysodmetrics loop: {plain_s:8.2f} s")

        start = time.perf_counter()
        cold = evaluate(workspace, dataset, methods, "all", workers=args.workers)
        cold_s = time.perf_counter() - start
        print(f"samis evaluate, cold cache:         {cold_s:8.2f} s  ({cold.computed} pairs scored)")

        start = time.perf_counter()
        warm = evaluate(workspace, dataset, methods, "all", workers=args.workers)
        warm_s = time.perf_counter() - start
        print(f"samis evaluate, warm cache:         {warm_s:8.3f} s  ({warm.computed} pairs scored)")

        worst = 0.0
        for method, values in reference.items():
            ours = warm.scores[method]
            mine = (ours["Sa"], ours["MAE"], ours["maxEm"], ours["Fw"], ours["maxFm"])
            worst = max(worst, *(abs(a - b) for a, b in zip(mine, values)))
        print(f"largest difference from the plain loop over Sa, MAE, maxEm, Fw, maxFm: {worst:.2e}")
        print(f"ratio plain / cold: {plain_s / cold_s:6.2f}x   (target >= 1.7x)")
        print(f"ratio plain / warm: {plain_s / warm_s:6.1f}x   (target >= 50x)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
