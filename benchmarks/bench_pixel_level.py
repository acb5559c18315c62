"""Time the inspection metrics (issue 22) against the saliency evaluate and a plain per-threshold loop.

Data: Magnetic Tile with MT_Free (1344 images) from ../shared and the five built-in baselines (ft, sr, hc, mbd,
otsu). Give a workspace where they are already computed, or let the script compute them once
(``python -m samis baseline mt all``, about 4 minutes on 2 cores; not timed):

    python benchmarks/bench_pixel_level.py [--workspace DIR] [--workers N] [--anomalib-python PY]

Measured, all in this process, on the same 5 × 1344 image-method pairs (split ``all``, calibration ``all``):

- saliency ``evaluate``, cold (its cache removed) — the yardstick;
- ``evaluate_pixel_level`` cold (its cache removed): target ≤ 1.5× the saliency evaluate;
- ``evaluate_pixel_level`` warm: target < 1 s;
- B = 1000 bootstrap of every value for the 5 methods, from the stored histograms: target < 5 s;
- a plain per-threshold loop (all maps and masks in memory, for t = 0…256 flag ``map ≥ t``, count pixels and
  region overlaps), on one method — reading excluded — checked against the histogram values;
- anomalib 2.7's ``AUPRO`` curve code on the same maps of one method (split test), run in the interpreter
  ``--anomalib-python`` (a virtual environment with anomalib; skipped with a line when it is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.datasets import load_dataset, register_dataset  # noqa: E402
from samis.evaluation import evaluate  # noqa: E402
from samis.imageio import read_mask  # noqa: E402
from samis.pixel_level import (PixelLevelOptions, area_to_limit, bootstrap_values, evaluate_pixel_level,  # noqa: E402
                               feature_table)
from samis.store import prediction_files, read_prediction  # noqa: E402
from samis.workspace import Workspace  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
METHODS = ["ft", "sr", "hc", "mbd", "otsu"]
ANOMALIB_SCRIPT = r"""
import sys, json, numpy as np, torch
from anomalib.metrics.aupro import _AUPRO  # the torchmetrics metric under AUPRO (which wants batch fields)
from anomalib.metrics.pro import connected_components_cpu
from torchmetrics.utilities.compute import auc
data = np.load(sys.argv[1])
offsets = data["offsets"]; shapes = data["shapes"]
labels, preds, next_label = [], [], 0
for i, (h, w) in enumerate(shapes):
    gt = torch.from_numpy(data["gt"][offsets[i]:offsets[i + 1]].reshape(1, 1, h, w).astype(np.float32))
    cca = connected_components_cpu(gt).reshape(-1).long()
    cca[cca > 0] += next_label
    next_label = int(cca.max()) if (cca > 0).any() else next_label
    labels.append(cca)
    preds.append(torch.from_numpy(data["pred"][offsets[i]:offsets[i + 1]].astype(np.float32)))
labels, preds = torch.cat(labels), torch.cat(preds)
out = {}
for limit in (0.3, 0.05):
    metric = _AUPRO(fpr_limit=limit)
    fpr, pro = metric.compute_pro(cca=labels, preds=preds)
    out[str(limit)] = float(auc(fpr, pro, reorder=True) / fpr[-1])
print(json.dumps(out))
"""


def prepare(workspace_dir: Path | None) -> tuple[Workspace, object, bool]:
    """The workspace with MT (and MT_Free) and the five baselines; computes what is missing (not timed)."""
    temporary = workspace_dir is None
    root = Path(tempfile.mkdtemp(prefix="samis-bench-pixel-")) if temporary else workspace_dir
    workspace = Workspace(root)
    if "mt" not in workspace.registered_datasets():
        register_dataset(workspace, "mt", SHARED / "datasets" / "MT", "mt", {"include_defect_free": True})
    missing = [m for m in METHODS if m not in workspace.prediction_methods("mt")]
    if missing:
        print(f"computing baselines {','.join(missing)} with python -m samis baseline (not timed) …", flush=True)
        subprocess.run([sys.executable, "-m", "samis", "--workspace", str(root), "baseline", "mt", ",".join(missing)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return workspace, load_dataset(workspace, "mt"), temporary


CPU = {}  # measurement → CPU seconds of this process (the machine may be shared: wall time includes waiting)


def timed(call, name: str = ""):
    start, cpu = time.perf_counter(), time.process_time()
    value = call()
    CPU[name] = time.process_time() - cpu
    return value, time.perf_counter() - start


def plain_loop(workspace: Workspace, dataset, method: str) -> tuple[dict, float, float]:
    """AUROC and AUPRO of one method by flagging every pixel at every threshold (maps read first, not timed)."""
    from scipy import ndimage  # only here: the reference labels regions itself

    files = prediction_files(workspace, "mt", method)
    maps, masks, regions = [], [], []
    for sample in dataset.samples:
        gt = read_mask(sample.gt_path)[0]
        maps.append(read_prediction(files[sample.id], gt.shape).ravel())
        labels, count = ndimage.label(gt, structure=np.ones((3, 3)))
        regions += [np.flatnonzero(labels.ravel() == k) + sum(m.size for m in maps[:-1]) for k in range(1, count + 1)]
        masks.append(gt.ravel())
    values, defect = np.concatenate(maps), np.concatenate(masks)
    start, cpu = time.perf_counter(), time.process_time()
    n_pos, n_neg = int(defect.sum()), int((~defect).sum())
    tpr, fpr, pro = [], [], []
    for t in range(256, -1, -1):
        flagged = values >= t
        tp = int(np.count_nonzero(flagged & defect))
        tpr.append(tp / n_pos)
        fpr.append((int(np.count_nonzero(flagged)) - tp) / n_neg)
        pro.append(np.mean([flagged[r].mean() for r in regions]))
    fpr_a, tpr_a, pro_a = np.array(fpr), np.array(tpr), np.array(pro)
    auroc = float(np.sum(np.diff(fpr_a) * (tpr_a[1:] + tpr_a[:-1]) / 2))
    out = {"pixel_auroc": auroc, "aupro/0.3": float(area_to_limit(fpr_a, pro_a, 0.3))}
    return out, time.perf_counter() - start, time.process_time() - cpu


def anomalib_aupro(workspace: Workspace, dataset, method: str, python: str) -> tuple[dict | None, str]:
    """anomalib's AUPRO on one method's maps of split test, run in another interpreter."""
    if not Path(python).exists():
        return None, f"anomalib: not run ({python} is absent; install anomalib==2.7.* in a virtual environment)"
    from samis.datasets import get_split

    samples = get_split(workspace, dataset, "test")
    files = prediction_files(workspace, "mt", method)
    gts = [read_mask(s.gt_path)[0] for s in samples]
    preds = [read_prediction(files[s.id], g.shape) for s, g in zip(samples, gts)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "maps.npz"
        np.savez(path, gt=np.concatenate([g.ravel() for g in gts]), pred=np.concatenate([p.ravel() for p in preds]),
                 offsets=np.concatenate([[0], np.cumsum([g.size for g in gts])]), shapes=np.array([g.shape for g in gts]))
        done = subprocess.run([python, "-c", ANOMALIB_SCRIPT, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"anomalib: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=None, help="a workspace with mt and the five baselines")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--anomalib-python", default="/tmp/venv-anomalib/bin/python")
    parser.add_argument("--only-anomalib", action="store_true", help="only the comparison with anomalib")
    args = parser.parse_args()
    if not (SHARED / "datasets" / "MT").is_dir():
        print(f"skipped: {SHARED / 'datasets' / 'MT'} is absent")
        return 0
    workspace, dataset, temporary = prepare(args.workspace)
    try:
        run(workspace, dataset, args)
    finally:
        if temporary:
            shutil.rmtree(workspace.root, ignore_errors=True)
    return 0


def run(workspace: Workspace, dataset, args) -> None:
    results = workspace.results_dir("mt")
    options = PixelLevelOptions(calibration_split="all")
    if not args.only_anomalib:
        run_timings(workspace, dataset, args, options)
    anomalib, why = anomalib_aupro(workspace, dataset, "ft", args.anomalib_python)
    if anomalib is None:
        print(why)
        return
    test = evaluate_pixel_level(workspace, dataset, ["ft"], "test", options, args.workers).methods["ft"].values
    for limit in ("0.3", "0.05"):
        print(f"AUPRO@{limit} ft / split test: samis {test[f'aupro/{limit}']:.9f}  anomalib 2.7 {anomalib[limit]:.9f}  "
              f"difference {test[f'aupro/{limit}'] - anomalib[limit]:+.2e}")
    print("anomalib builds the curve and its area in float32 (cumulative sums of 1/|region| and of background "
          "pixels over every pixel, about 7e7 here, then auc), so the two agree to float32 precision (~1e-7 "
          "relative); samis counts in integers per 8-bit level and integrates in float64.")


def run_timings(workspace: Workspace, dataset, args, options: PixelLevelOptions) -> None:
    results = workspace.results_dir("mt")
    print(f"{len(METHODS)} methods x {len(dataset)} images = {len(METHODS) * len(dataset)} image-method pairs, "
          f"{os.cpu_count()} cores, workers {args.workers or 'default'}")
    for method in METHODS:
        (results / f"{method}.npz").unlink(missing_ok=True)
    _, saliency_s = timed(lambda: evaluate(workspace, dataset, METHODS, "all", workers=args.workers), "saliency")
    shutil.rmtree(results / "pixel_level", ignore_errors=True)
    cold, cold_s = timed(lambda: evaluate_pixel_level(workspace, dataset, METHODS, "all", options, args.workers), "cold")
    warm, warm_s = timed(lambda: evaluate_pixel_level(workspace, dataset, METHODS, "all", options, args.workers), "warm")

    def resample_all():
        for m in warm.methods.values():
            bootstrap_values([feature_table(m.histograms, m.threshold, options)], [m.threshold], 1000, 11,
                             m.histograms.classes)

    _, boot_s = timed(resample_all, "bootstrap")
    reference, plain_s, plain_cpu = plain_loop(workspace, dataset, "ft")
    ours = warm.methods["ft"].values
    worst = max(abs(reference[k] - ours[k]) for k in reference)
    rows = [("saliency evaluate, cold (yardstick)", saliency_s, ""),
            ("pixel-level, cold", cold_s, f"{cold_s / saliency_s:.2f}x the saliency evaluate (target <= 1.5x); "
                                          f"{cold.computed} pairs"),
            ("pixel-level, warm", warm_s, f"target < 1 s; {warm.computed} pairs computed"),
            ("bootstrap B = 1000, 5 methods, all values", boot_s, "target < 5 s"),
            ("plain per-threshold loop, 1 method (ft)", plain_s,
             f"x5 methods ~ {5 * plain_s:.0f} s; largest difference in AUROC, AUPRO@0.3: {worst:.1e}")]
    cpu = [CPU["saliency"], CPU["cold"], CPU["warm"], CPU["bootstrap"], plain_cpu]
    print(f"{'measurement':46s} {'wall s':>9s} {'CPU s':>8s}  note (CPU: this process; pool workers not counted)")
    for (name, seconds, note), used in zip(rows, cpu):
        print(f"{name:46s} {seconds:9.3f} {used:8.3f}  {note}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    sys.exit(main())
