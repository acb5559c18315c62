"""Time samis.stats.bootstrap (one counts @ values product) against a plain loop over resamples.

Data: the 12 published methods × 900 images of SD-saliency-900 in ../shared, imported into a
workspace and evaluated first (not timed; pass --workspace DIR to keep that workspace between runs).
Both paths draw the same resamples (samis.stats.resample_indices) and compute all nine dataset
metrics for every method: the plain loop calls samis.metrics.aggregate on each resample's rows,
B times per method. The script checks that both give the same values and prints seconds and the ratio.

    python benchmarks/bench_stats.py [--resamples 1000] [--workspace DIR]

Target (issue 11): 12 methods × 900 images, nine metrics, B = 1000 in under 5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.datasets import register_dataset  # noqa: E402
from samis.evaluation import evaluate  # noqa: E402
from samis.metrics import DATASET_METRICS, aggregate  # noqa: E402
from samis.stats import DEFAULT_SEED, bootstrap, resample_indices  # noqa: E402
from samis.store import import_predictions  # noqa: E402
from samis.workspace import Workspace  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def plain_loop(evaluation, resamples: int, seed: int) -> np.ndarray:
    """(M, B, 9): per method, per resample, aggregate() over the drawn rows (same draws as samis.stats)."""
    stems = list(evaluation.image_classes)
    classes = [evaluation.image_classes[s] for s in stems]
    indices = resample_indices(len(stems), resamples, seed, classes if len(set(classes)) > 1 else None)
    out = []
    for result in evaluation.methods.values():
        position = {s: i for i, s in enumerate(result.stems)}
        rows = np.array([position[s] for s in stems])
        values = np.empty((resamples, len(DATASET_METRICS)))
        for b in range(resamples):
            scores = aggregate(result.scalars[rows[indices[b]]], result.curves[rows[indices[b]]])
            values[b] = [scores[m] for m in DATASET_METRICS]
        out.append(values)
    return np.stack(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workspace", help="workspace to import into and keep (default: a temporary one)")
    args = parser.parse_args()
    dataset_root, originals = SHARED / "datasets" / "SD-saliency-900", SHARED / "predictions" / "SD-saliency-900"
    if not dataset_root.exists():
        print(f"needs the real data in {SHARED}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as temp:
        workspace = Workspace(Path(args.workspace or temp))
        dataset = register_dataset(workspace, "sd900", dataset_root, replace=True)
        methods = sorted(p.name for p in originals.iterdir() if p.is_dir())
        for method in methods:
            if method not in workspace.prediction_methods("sd900"):
                import_predictions(workspace, dataset, method, originals / method)
        print(f"preparing: evaluating {len(methods)} methods × {len(dataset.samples)} images (cached after the "
              "first run, not timed)…", file=sys.stderr)
        evaluation = evaluate(workspace, dataset, methods, split="all")

        start = time.perf_counter()
        boot = bootstrap(evaluation, metrics=DATASET_METRICS, resamples=args.resamples, seed=DEFAULT_SEED)
        intervals = boot.intervals()
        fast = time.perf_counter() - start

        start = time.perf_counter()
        plain = plain_loop(evaluation, args.resamples, DEFAULT_SEED)
        slow = time.perf_counter() - start

    difference = float(np.max(np.abs(plain - boot.samples)))
    print(f"{len(methods)} methods × {boot.n_images} images × {len(DATASET_METRICS)} metrics, B = {args.resamples}, "
          f"stratified by {boot.strata} classes")
    print(f"samis.stats.bootstrap (+ intervals): {fast:8.2f} s   target < 5 s: {'met' if fast < 5 else 'MISSED'}")
    print(f"plain loop over resamples:           {slow:8.2f} s")
    print(f"ratio: {slow / fast:.1f}x faster; largest difference between the two: {difference:.1e}")
    assert difference < 1e-10 and len(intervals) == len(methods)
    return 0


if __name__ == "__main__":
    sys.exit(main())
