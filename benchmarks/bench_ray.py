"""--engine local vs --engine ray on this machine: time, overhead per image, same bytes; and a GPU-cluster plan.

    python benchmarks/bench_ray.py                     # 60 images of test-size SAM, mbd over 900, evaluate 12 x 900
    python benchmarks/bench_ray.py --sam-images 20     # smaller

Each case runs the library call twice in fresh workspaces, once local (SAM: one process; baselines and
evaluation: the process pool over the cores) and once on Ray with ``--workers`` workers, and checks that
the files written are the same bytes. Ray is started once by the benchmark (its start-up time is printed
on its own: a command that starts its own Ray pays it once per command); the Ray times include starting
the workers (and loading the model in each). Needs ``../shared`` (SD-saliency-900 and its 12 methods).

The cluster plan at the end is arithmetic, not a measurement: ViT-H images/s per GPU from the paper's
Table 7 (``data/paper/table7_speed.csv``), the per-image Ray overhead measured here, and N images on G GPUs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samis.baselines.run import compute_baseline  # noqa: E402
from samis.datasets import get_split, load_dataset, register_dataset  # noqa: E402
from samis.engines import EngineSpec  # noqa: E402
from samis.evaluation import evaluate  # noqa: E402
from samis.paper import load_speed_table  # noqa: E402
from samis.store import import_predictions  # noqa: E402
from samis.workspace import Workspace  # noqa: E402

SHARED = ROOT.parent / "shared"
SD900 = SHARED / "datasets" / "SD-saliency-900"
PUBLISHED = SHARED / "predictions" / "SD-saliency-900"
TINY = dict(points_per_side=8, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


def files(folder: Path, suffix: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"*{suffix}"))}


def workspace_with_sd900(base: Path, name: str) -> tuple[Workspace, object]:
    workspace = Workspace(base / name)
    return workspace, register_dataset(workspace, "sd900", SD900, "sd900")


def row(case: str, n: int, local_s: float, ray_s: float, same: bool) -> str:
    return (f"{case:<34} {n:>6} {local_s:>9.1f} {ray_s:>9.1f} {ray_s / local_s:>7.2f}x "
            f"{1000 * (ray_s - local_s) / n:>+12.1f} {'yes' if same else 'NO':>10}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sam-images", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cluster-images", type=int, default=100_000)
    parser.add_argument("--cluster-gpus", type=int, default=8)
    args = parser.parse_args()
    if not SD900.is_dir():
        print(f"needs {SD900}", file=sys.stderr)
        return 2
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset

    base = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    rows = []
    print(f"machine: {os.cpu_count()} cores; Ray workers: {args.workers}", flush=True)
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    ray_start = time.perf_counter() - started
    print(f"Ray start-up (ray.init, once per command that starts its own Ray): {ray_start:.1f} s", flush=True)
    spec = EngineSpec("ray", workers=args.workers)
    try:
        # -- SAM, test-size model ------------------------------------------------------------------------
        timings, caches = {}, {}
        # "ray1": one worker holding every core, so torch uses as many threads as the local process: the
        # difference to local is Ray's own cost (sending images, returning files, the actor call)
        engines = {"local": None, "ray": spec, "ray1": EngineSpec("ray", workers=1)}
        for engine, engine_spec in engines.items():
            workspace, dataset = workspace_with_sd900(base, f"sam-{engine}")
            samples = get_split(workspace, dataset, "all")[:: 900 // args.sam_images][:args.sam_images]
            ready = {}
            started = time.perf_counter()
            run_sam_over_dataset(workspace, dataset, SamRun("tiny", AmgParams(**TINY), device="cpu"), samples=samples,
                                 engine=engine_spec,
                                 notify=lambda message: ready.setdefault("t", time.perf_counter()))
            timings[engine] = time.perf_counter() - started
            if engine_spec is not None:
                timings[f"{engine}-startup"] = ready["t"] - started
            caches[engine] = files(workspace.sam_cache_dir("sam-tiny-random", "sd900"), ".npz")
            print(f"  sam {engine}: {timings[engine]:.1f} s", flush=True)
        n = len(caches["local"])
        rows.append(row(f"sam tiny, {n} images, {args.workers} workers", n, timings["local"], timings["ray"],
                        caches["local"] == caches["ray"]))
        steady = timings["ray"] - timings["ray-startup"]
        rows.append(row("  (after workers ready)", n, timings["local"], steady, caches["local"] == caches["ray"]))
        rows.append(row(f"sam tiny, {n} images, 1 worker", n, timings["local"], timings["ray1"],
                        caches["local"] == caches["ray1"]))
        steady1 = timings["ray1"] - timings["ray1-startup"]
        rows.append(row("  (after the worker is ready)", n, timings["local"], steady1, caches["local"] == caches["ray1"]))
        sam_overhead_ms = 1000 * (steady1 - timings["local"]) / n

        # -- baseline mbd over SD-saliency-900 ------------------------------------------------------------
        maps = {}
        for engine in ("local", "ray"):
            workspace, dataset = workspace_with_sd900(base, f"mbd-{engine}")
            started = time.perf_counter()
            run = compute_baseline(workspace, dataset, "mbd", engine=spec if engine == "ray" else None)
            timings[f"mbd-{engine}"] = time.perf_counter() - started
            maps[engine] = files(workspace.method_dir("sd900", "mbd"), ".png")
            print(f"  mbd {engine}: {timings[f'mbd-{engine}']:.1f} s ({run.computed} maps)", flush=True)
        rows.append(row("baseline mbd, SD-saliency-900", len(maps["local"]), timings["mbd-local"], timings["mbd-ray"],
                        maps["local"] == maps["ray"]))

        # -- evaluate 12 methods x 900 images -------------------------------------------------------------
        workspace, dataset = workspace_with_sd900(base, "evaluate")
        methods = sorted(p.name for p in PUBLISHED.iterdir() if p.is_dir())
        for method in methods:
            import_predictions(workspace, dataset, method, PUBLISHED / method)
        dataset = load_dataset(workspace, "sd900")
        outputs = {}
        for engine in ("local", "ray"):
            shutil.rmtree(workspace.results_dir("sd900"), ignore_errors=True)
            started = time.perf_counter()
            result = evaluate(workspace, dataset, methods, "all", engine=spec if engine == "ray" else None)
            timings[f"eval-{engine}"] = time.perf_counter() - started
            outputs[engine] = (result.to_json_dict(),
                               {name: (workspace.results_dir("sd900") / f"{name}.parquet").read_bytes()
                                for name in methods})
            print(f"  evaluate {engine}: {timings[f'eval-{engine}']:.1f} s ({result.computed} pairs)", flush=True)
        pairs = len(methods) * 900
        rows.append(row(f"evaluate {len(methods)} methods x 900", pairs, timings["eval-local"], timings["eval-ray"],
                        outputs["local"] == outputs["ray"]))
    finally:
        ray.shutdown()
        shutil.rmtree(base, ignore_errors=True)

    print()
    print(f"{'case':<34} {'items':>6} {'local s':>9} {'ray s':>9} {'ray/loc':>8} {'overhead ms/item':>12} {'same bytes':>10}")
    for line in rows:
        print(line)
    print(f"Ray start-up, paid once by a command that starts its own Ray: {ray_start:.1f} s; "
          f"starting {args.workers} SAM workers (test-size model): {timings['ray-startup']:.1f} s")

    # -- the GPU cluster on paper ------------------------------------------------------------------------
    sam = next(r for r in load_speed_table() if r.method == "SAM")
    per_gpu = sam.fps  # ViT-H, automatic mask generation, RTX 3080 (paper Table 7)
    seconds = args.cluster_images / (per_gpu * args.cluster_gpus)
    overhead_s = max(0.0, sam_overhead_ms) / 1000 * args.cluster_images / args.cluster_gpus
    print()
    print(f"GPU cluster plan (arithmetic, not measured): SAM ViT-H at {per_gpu:g} images/s per GPU worker "
          f"(paper Table 7, RTX 3080, {sam.params_m:g} M parameters)")
    print(f"  {args.cluster_images:,} images on {args.cluster_gpus} GPUs (one worker each): "
          f"{args.cluster_images:,} / ({per_gpu:g} x {args.cluster_gpus}) = {seconds:,.0f} s = {seconds / 3600:.1f} h "
          f"= {seconds * args.cluster_gpus / 3600:,.0f} GPU-hours")
    print(f"  Ray overhead at the {max(0.0, sam_overhead_ms):.0f} ms per image measured here (1 worker vs one "
          f"process, {sam_overhead_ms:+.0f} ms measured): {overhead_s / 3600:.2f} h "
          f"more ({100 * overhead_s / seconds:.2f} % of the run); one GPU: {args.cluster_images / per_gpu / 3600:.0f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
