"""Time samis.stats.bootstrap against a plain loop (real data) or against the pre-streaming path (at scale).

Real data (default): the 12 published methods × 900 images of SD-saliency-900 in ../shared, imported
into a workspace and evaluated first (not timed; pass --workspace DIR to keep that workspace between
runs). Both paths draw the same resamples (samis.stats.resample_indices) and compute all nine dataset
metrics for every method: the plain loop calls samis.metrics.aggregate on each resample's rows,
B times per method. The script checks that both give the same values and prints seconds and the ratio.

    python benchmarks/bench_stats.py [--resamples 1000] [--workspace DIR]

Target (issue 11): 12 methods × 900 images, nine metrics, B = 1000 in under 5 s.

At scale (``--images N``): synthetic methods in memory — random per-image values, and random float32
curves that each method's ``curve_chunks`` serves a block at a time from a pool of 4096 curves (so the
data held is the per-image values, as with a results store read lazily; reading a real store costs
more). Each run is its own process, which prints its wall time and peak RSS:

- ``old`` at ``--old-images`` (default 15,000): the bootstrap as it was before the streaming change
  (every method's curves in memory as float64, as MethodResult held them, copied per method, and
  ``weighted_metrics`` over a float64 weight matrix per block of resamples);
- ``new`` at the same size (the largest difference to ``old`` is printed);
- ``new`` at ``--images``, with its largest difference to a float64 reference on its first block of
  resamples (counts from ``resample_chunks``, curves summed in float64).

    nice -n 10 python benchmarks/bench_stats.py --images 150000 --methods 12 --resamples 1000

Target (issue 25): B = 1000 at 150,000 images × 12 methods in under 60 s, peak RSS well under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.datasets import register_dataset  # noqa: E402
from samis.evaluation import EvaluationResult, MethodResult, evaluate  # noqa: E402
from samis.metrics import CURVES, DATASET_METRICS, IMAGE_METRICS, aggregate  # noqa: E402
from samis.stats import (  # noqa: E402
    DEFAULT_SEED, STAT_METRICS, bootstrap, resample_chunks, resample_indices, resample_weights,
    weighted_metrics,
)
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
    parser.add_argument("--images", type=int, help="synthetic images (the scale run; default: real SD-saliency-900)")
    parser.add_argument("--methods", type=int, default=12, help="synthetic methods (default 12)")
    parser.add_argument("--old-images", type=int, default=15000,
                        help="images of the side-by-side run of the old path (default 15,000: its float64 curves "
                             "of 12 methods at 150,000 images would be 15 GB)")
    parser.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.images:
        return at_scale(args)
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

# ---- at scale: synthetic methods, the old path and the streaming one, each in its own process ------------------
POOL = 4096


class PooledResult(MethodResult):
    """A method whose curves are served a block at a time from a pool of random float32 curves (never held
    whole): image i of method m has pool curve (i + 977 · m) mod 4096, so an aligned block of 4096 images is two
    slices of the pool (almost no cost: the time measured is the bootstrap's, not a reader's)."""

    def __init__(self, method: str, stems: list[str], scalars: np.ndarray, pool: np.ndarray, number: int):
        super().__init__(method, stems, scalars, np.empty((0, len(CURVES), 256), np.float32))
        self.pool, self.number = pool, number

    def pool_rows(self, rows: np.ndarray) -> np.ndarray:
        return (rows + 977 * self.number) % POOL

    def curve_chunks(self, rows=None):
        rows = np.arange(len(self.stems)) if rows is None else np.asarray(rows, np.int64)
        for start in range(0, len(rows), 4096):
            block = rows[start:start + 4096]
            first = int(self.pool_rows(block[:1])[0]) if len(block) else 0
            if np.array_equal(block, np.arange(block[0], block[0] + len(block))) and first + len(block) <= POOL:
                yield block, self.pool[first:first + len(block)]
            elif np.array_equal(block, np.arange(block[0], block[0] + len(block))):
                yield block, np.concatenate([self.pool[first:], self.pool[:first + len(block) - POOL]])
            else:
                yield block, self.pool[self.pool_rows(block)]


def synthetic(images: int, methods: int, seed: int = 25) -> EvaluationResult:
    """``methods`` pooled methods on ``images`` images of 30 defect classes (random values, fixed seed)."""
    rng = np.random.default_rng(seed)
    pool = rng.random((POOL, len(CURVES), 256), dtype=np.float32)
    stems = [f"img{i:06d}" for i in range(images)]
    results = {}
    for m in range(methods):
        scalars = rng.uniform(0, 1, (images, len(IMAGE_METRICS)))
        results[f"method{m:02d}"] = PooledResult(f"method{m:02d}", stems, scalars, pool, m)
    classes = {s: f"class{i % 30:02d}" for i, s in enumerate(stems)}
    return EvaluationResult("synthetic", "all", results, classes)


def old_bootstrap_samples(evaluation, resamples: int, seed: int) -> np.ndarray:
    """(M, B, K) as samis.stats.bootstrap computed them before the streaming change (its loop, verbatim but for
    the names): every method's float64 curves, weighted_metrics per block of resamples per method."""
    names, common = list(evaluation.methods), list(evaluation.image_classes)
    classes = [evaluation.image_classes[s] for s in common]
    columns = {}
    for name in names:
        position = {s: i for i, s in enumerate(evaluation.methods[name].stems)}
        rows = [position[s] for s in common]
        columns[name] = (evaluation.methods[name].scalars[rows], evaluation.methods[name].curves[rows])
    samples = np.empty((len(names), resamples, len(STAT_METRICS)))
    start = 0
    for indices in resample_chunks(len(common), resamples, seed, classes):
        weights = resample_weights(indices, len(common))
        for m, name in enumerate(names):
            samples[m, start:start + len(indices)] = weighted_metrics(weights, *columns[name], STAT_METRICS)
        start += len(indices)
    return samples


def held_in_memory(evaluation) -> EvaluationResult:
    """The same methods with their curves in memory as float64 (N, 4, 256), as MethodResult held them."""
    methods = {}
    for name, result in evaluation.methods.items():
        curves = result.pool[result.pool_rows(np.arange(len(result.stems)))].astype(np.float64)
        methods[name] = MethodResult(name, result.stems, result.scalars, curves)
    return EvaluationResult(evaluation.dataset, evaluation.split, methods, evaluation.image_classes)


def float64_reference(evaluation, resamples: int, seed: int) -> np.ndarray:
    """(M, b, K) of the first block of resamples (resample_chunks' first), from counts with numpy alone, every
    product and sum in float64: mean values and mean fm / em curves, their max and mean."""
    common = list(evaluation.image_classes)
    indices = next(resample_chunks(len(common), resamples, seed, [evaluation.image_classes[s] for s in common]))
    counts = np.stack([np.bincount(row, minlength=len(common)) for row in indices]).astype(np.float64)
    fm, em = CURVES.index("fm"), CURVES.index("em")
    out = []
    for result in evaluation.methods.values():
        curves = np.zeros((len(indices), 2, 256))
        for rows, block in result.curve_chunks():
            curves += np.einsum("bk,kcj->bcj", counts[:, rows], block[:, [fm, em], :].astype(np.float64))
        curves /= len(common)
        scalars = counts @ result.scalars / len(common)
        values = []
        for b in range(len(indices)):
            value = {m: scalars[b, IMAGE_METRICS.index(m)] for m in STAT_METRICS if m in IMAGE_METRICS}
            value.update(maxFm=curves[b, 0].max(), meanFm=curves[b, 0].mean(), maxEm=curves[b, 1].max(),
                         meanEm=curves[b, 1].mean())  # of the mean curves, not the mean per-image maxima
            values.append([value[m] for m in STAT_METRICS])
        out.append(values)
    return np.array(out)


def rss_mib() -> float:
    """This process's resident memory now (MiB)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def cpu_s() -> float:
    """CPU seconds (user + system, all threads) this process has used: less dependent on other jobs than wall
    time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args) -> int:
    """One path in this process: prints wall s, RSS before and peak RSS (JSON); saves the samples."""
    evaluation = synthetic(args.images, args.methods)
    if args.child == "old":
        evaluation = held_in_memory(evaluation)
    before, cpu = rss_mib(), cpu_s()
    start = time.perf_counter()
    if args.child == "old":
        samples = old_bootstrap_samples(evaluation, args.resamples, DEFAULT_SEED)
    else:
        samples = bootstrap(evaluation, resamples=args.resamples, seed=DEFAULT_SEED).samples
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    report = {"wall_s": wall, "cpu_s": cpu, "rss_before_mib": before, "peak_rss_mib": peak}
    if args.child == "new":
        reference = float64_reference(evaluation, args.resamples, DEFAULT_SEED)
        report["float64_check_resamples"] = reference.shape[1]
        report["float64_difference"] = float(np.abs(samples[:, :reference.shape[1]] - reference).max())
    if args.save:
        np.save(args.save, samples)
    print(json.dumps(report))
    return 0


def run_child(kind: str, images: int, args, save: str) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--images", str(images), "--methods", str(args.methods),
               "--resamples", str(args.resamples), "--save", save]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def at_scale(args) -> int:
    small = min(args.old_images, args.images)
    with tempfile.TemporaryDirectory() as temp:
        runs = [("old (materialized curves, weighted_metrics per block)", small, "old"),
                ("new (streaming counts @ curve_chunks)", small, "new"),
                ("new (streaming counts @ curve_chunks)", args.images, "new")]
        results = []
        for label, images, kind in runs:
            print(f"running {kind} at {images:,} images…", file=sys.stderr)
            results.append(run_child(kind, images, args, str(Path(temp) / f"{kind}{images}.npy")))
        old, new = (np.load(Path(temp) / f"{kind}{small}.npy") for kind in ("old", "new"))
        difference = float(np.abs(old - new).max())
    print(f"bootstrap of {args.methods} methods, B = {args.resamples}, {len(STAT_METRICS)} metrics, stratified by 30 "
          "classes; synthetic per-image values and float32 curves")
    print(f"{'path':<56} {'images':>9} {'wall s':>8} {'CPU s':>8} {'RSS before MiB':>15} {'peak RSS MiB':>13}")
    for (label, images, _), result in zip(runs, results):
        print(f"{label:<56} {images:>9,} {result['wall_s']:>8.1f} {result['cpu_s']:>8.1f} "
              f"{result['rss_before_mib']:>15.0f} {result['peak_rss_mib']:>13.0f}")
    print(f"largest difference old vs new at {small:,} images: {difference:.1e}")
    last = results[-1]
    print(f"largest difference new vs a float64 reference at {args.images:,} images (first "
          f"{last['float64_check_resamples']} resamples): {last['float64_difference']:.1e}")
    print(f"load average (other jobs on this machine) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    met = last["wall_s"] < 60 and last["peak_rss_mib"] < 2048
    print(f"target (B = 1000, 150,000 × 12: < 60 s, < 2 GB): {'met' if met else 'MISSED'} at {args.images:,} × "
          f"{args.methods}, B = {args.resamples}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
