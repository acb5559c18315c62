"""SAM automatic mask generation: stock ``SamAutomaticMaskGenerator.generate`` vs the samis engine.

One process, the same model object and the same images for both; the two are run alternately per
image so machine load hits both alike. For each model it prints seconds per image for both, the
ratio, and whether the masks are the same (same count; each mask's IoU with its stock twin, in
output order). Random weights unless a checkpoint is given (``--checkpoint vit_b=PATH``): speed and
equality only, never accuracy.

CPU (the issue's target: test-size SAM and vit_b on 5 SD-saliency-900 images):
    python benchmarks/bench_sam.py --models tiny,vit_b --images 5
GPU (bf16, large prompt batches, frames per second on a 200x200 image):
    python benchmarks/bench_sam.py --device cuda --dtype bf16 --models vit_b,vit_l,vit_h --size 200 --points-per-batch 1024
Re-selection from the mask cache over the 392 MT images (no SAM):
    python benchmarks/bench_sam.py --reselect
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segment_anything import SamAutomaticMaskGenerator, sam_model_registry  # noqa: E402

from samis.imageio import read_rgb  # noqa: E402
from samis.sam.params import AmgParams  # noqa: E402
from samis.sam.engine import LoadedSam, SamEngine, device_name, load_sam, resolve_device  # noqa: E402
from samis.sam.masks import MaskSet  # noqa: E402
from samis.sam.tiny import build_tiny_sam  # noqa: E402

SHARED = REPO.parent / "shared"
SD900 = SHARED / "datasets" / "SD-saliency-900" / "Source Images"
PARAM_SETS = {
    "sam-defaults": AmgParams(),
    # keeps every candidate through the filters, so all 3072 masks are post-processed and compared
    "no-filter": AmgParams(pred_iou_thresh=0.0, stability_score_thresh=0.0),
    # ... and no duplicate removal either: all 3 x 1024 masks come out and are compared one by one
    "keep-all": AmgParams(pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0),
}


def sd900_images(count: int) -> list[tuple[str, np.ndarray]]:
    """The first ``count`` images taking classes in turn (In, Pa, Sc, In, …)."""
    if not SD900.is_dir():
        sys.exit(f"SD-saliency-900 not found at {SD900}")
    by_class = {c: sorted(SD900.glob(f"{c}_*.bmp"), key=lambda p: int(p.stem.split("_")[1])) for c in ("In", "Pa", "Sc")}
    chosen = []
    for i in range(count):
        chosen.append(by_class[("In", "Pa", "Sc")[i % 3]][i // 3])
    return [(p.stem, read_rgb(p)) for p in chosen]


def random_sam(model_type: str, device: torch.device) -> LoadedSam:
    """A model with random weights (seeded) when no checkpoint is given."""
    torch.manual_seed(0)
    model = build_tiny_sam() if model_type == "tiny" else sam_model_registry[model_type](checkpoint=None)
    label = "sam-tiny-random" if model_type == "tiny" else f"sam-{model_type}(random weights)"
    return LoadedSam(model.to(device).eval(), model_type, label, None, None, device)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def twin_iou(ours: MaskSet, theirs: MaskSet) -> float:
    """Lowest IoU between a stock mask and its engine twin.

    The twin is the engine mask from the same prompt point that overlaps it most; twins must be
    distinct (else 0 is returned). Output order is not used: masks whose predicted IoUs differ by
    float rounding only may swap places in the sorted output.
    """
    by_point: dict[tuple, list[int]] = {}
    for index, point in enumerate(np.round(ours.point_coords, 6)):
        by_point.setdefault(tuple(point), []).append(index)
    used, lowest = set(), 1.0
    for mask, point in zip(theirs.masks, np.round(theirs.point_coords, 6)):
        candidates = by_point.get(tuple(point), [])
        if not candidates:
            return 0.0
        scores = [mask_iou(mask, ours.masks[i]) for i in candidates]
        best = candidates[int(np.argmax(scores))]
        if best in used:
            return 0.0
        used.add(best)
        lowest = min(lowest, max(scores))
    return lowest


def compare(loaded: LoadedSam, images, params: AmgParams, dtype: str, run_stock: bool, sync, warmup: bool) -> dict:
    engine = SamEngine(loaded, params, dtype=dtype)
    stock = SamAutomaticMaskGenerator(loaded.model, **params.stock_kwargs())
    if warmup:  # allocator and kernel start-up (CUDA); on the CPU a warm-up costs a whole image
        engine.generate(images[0][1][:64, :64])
        if run_stock:
            stock.generate(images[0][1][:64, :64])
        sync()
    stock_s, engine_s, counts, min_iou = [], [], [], 1.0
    same_count = True
    for stem, image in images:
        t = time.perf_counter()
        ours = engine.generate(image)
        sync()
        engine_s.append(time.perf_counter() - t)
        if run_stock:
            t = time.perf_counter()
            theirs = MaskSet.from_stock(stock.generate(image), image.shape[:2])
            sync()
            stock_s.append(time.perf_counter() - t)
            same_count &= len(ours) == len(theirs)
            if len(ours) == len(theirs):
                min_iou = min(min_iou, twin_iou(ours, theirs))
            counts.append(f"{len(ours)}/{len(theirs)}")
        else:
            counts.append(str(len(ours)))
        print(f"    {stem}: engine {engine_s[-1]:.2f} s" + (f", stock {stock_s[-1]:.2f} s, masks engine/stock {counts[-1]}" if run_stock else f", {counts[-1]} masks"), flush=True)
    return {"engine": float(np.mean(engine_s)), "stock": float(np.mean(stock_s)) if stock_s else None,
            "same_count": same_count, "min_iou": min_iou, "counts": counts}


def run_generation(args) -> None:
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
    if args.size:
        rng = np.random.default_rng(0)
        images = [(f"{args.size}x{args.size}-{i}", img) for i, img in
                  enumerate(read_rgb(p) for p in sorted(SD900.glob("*.bmp"))[: args.images])] if SD900.is_dir() else \
            [(f"random-{i}", rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)) for i in range(args.images)]
        images = [(stem, np.ascontiguousarray(img[: args.size, : args.size])) for stem, img in images]
    else:
        images = sd900_images(args.images)
    print(f"device: {device_name(device)}, dtype {args.dtype}, torch threads {torch.get_num_threads()}, "
          f"{len(images)} images {images[0][1].shape[1]}x{images[0][1].shape[0]}")
    rows = []
    for model_type in args.models.split(","):
        if model_type in checkpoints:
            loaded = load_sam(model_type, checkpoints[model_type], args.device)
        else:
            loaded = random_sam(model_type, device)
        for name in args.params.split(","):
            params = PARAM_SETS[name]
            if args.points_per_batch:
                params = AmgParams(**{**params.as_dict(), "points_per_batch": args.points_per_batch})
            print(f"  {loaded.label}, {name} (points_per_batch {params.points_per_batch}):", flush=True)
            warmup = args.warmup if args.warmup is not None else device.type != "cpu"
            result = compare(loaded, images, params, args.dtype, not args.engine_only, sync, warmup)
            rows.append((loaded.label, name, result))
        del loaded
    print()
    print(f"{'model':<28} {'params':<13} {'stock s/img':>11} {'engine s/img':>12} {'ratio':>6} {'engine FPS':>10}  same masks")
    for label, name, r in rows:
        stock = f"{r['stock']:.2f}" if r["stock"] is not None else "-"
        ratio = f"{r['stock'] / r['engine']:.2f}x" if r["stock"] is not None else "-"
        same = (f"count {'equal' if r['same_count'] else 'DIFFERENT'}, min IoU {r['min_iou']:.4f}"
                if r["stock"] is not None else "not compared")
        print(f"{label:<28} {name:<13} {stock:>11} {r['engine']:>12.2f} {ratio:>6} {1 / r['engine']:>10.2f}  {same}")


def run_reselect(args) -> None:
    """Time re-selection (oracle, best-single, inside-gt, small-union, contrast) over the MT images."""
    from samis.datasets import register_dataset
    from samis.sam.masks import write_mask_set
    from samis.sam.select_run import select_over_dataset
    from samis.workspace import Workspace

    mt = SHARED / "datasets" / "MT"
    if not mt.is_dir():
        sys.exit(f"MT not found at {mt}")
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(folder)
        dataset = register_dataset(workspace, "mt", mt, "mt")
        label = "sam-generated"
        cache = workspace.sam_cache_dir(label, "mt")
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        total_masks = 0
        for sample in dataset.samples:
            masks = generated_masks(read_rgb(sample.image_path)[..., 0], rng)
            total_masks += len(masks)
            write_mask_set(cache / f"{sample.id}.npz", masks, {"model": label, "params": {}, "checkpoint_md5": None})
        print(f"generated cache: {len(dataset)} MT images, {total_masks / len(dataset):.1f} masks per image "
              f"(mean), {time.perf_counter() - t:.1f} s to write")
        grand = 0.0
        for strategy in args.strategies.split(","):
            t = time.perf_counter()
            report = select_over_dataset(workspace, dataset, label, strategy)
            seconds = time.perf_counter() - t
            grand += seconds
            extra = (f" (oracle exact on {report.oracle_exact} images, heuristic on {report.oracle_heuristic})"
                     if strategy == "oracle" else "")
            print(f"  {strategy:<12} {seconds:6.1f} s for {report.images} images, mean IoU {report.mean_iou:.4f}{extra}")
        print(f"all strategies: {grand:.1f} s")


def generated_masks(gray: np.ndarray, rng: np.random.Generator) -> MaskSet:
    """Masks shaped like SAM's on a real image: connected regions of quantised intensity, nested
    blobs, and a few image-spanning background masks — between 20 and 60 per image."""
    from scipy import ndimage

    h, w = gray.shape
    masks = []
    levels = np.quantile(gray, [0.1, 0.3, 0.7, 0.9])
    for low, high in zip([0, *levels], [*levels, 256]):
        labels, count = ndimage.label((gray >= low) & (gray < high))
        sizes = np.bincount(labels.ravel())[1:]
        for index in np.argsort(-sizes)[: rng.integers(3, 10)]:
            if sizes[index] >= 20:
                masks.append(labels == index + 1)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.integers(5, 30)):
        cy, cx, ry, rx = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, h / 3), rng.uniform(3, w / 3)
        masks.append(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1)
    masks.append(gray > np.median(gray))
    masks = np.stack(masks[:60])
    n = len(masks)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()] if len(xs) else [0, 0, 0, 0])
    return MaskSet(masks, rng.uniform(0.88, 1.0, n).astype(np.float32), rng.uniform(0.95, 1, n).astype(np.float32),
                   masks.sum(axis=(1, 2)), np.array(boxes), np.zeros((n, 2)), np.tile([0, 0, w, h], (n, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tiny,vit_b", help="comma list of tiny, vit_b, vit_l, vit_h")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="TYPE=PATH",
                        help="real weights for a type (default: random weights)")
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--size", type=int, default=0, help="crop images to SIZE x SIZE (GPU FPS runs: 200)")
    parser.add_argument("--params", default="sam-defaults,no-filter,keep-all", help=f"comma list of {', '.join(PARAM_SETS)}")
    parser.add_argument("--points-per-batch", type=int, default=0, help="prompt batch (default: SAM's 64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--warmup", type=int, choices=(0, 1), default=None,
                        help="one untimed run first (default: yes on GPU, no on CPU)")
    parser.add_argument("--engine-only", action="store_true", help="time the engine only (no stock run)")
    parser.add_argument("--reselect", action="store_true", help="time re-selection over the 392 MT images instead")
    parser.add_argument("--strategies", default="oracle,best-single,inside-gt,small-union,contrast")
    args = parser.parse_args()
    if args.reselect:
        run_reselect(args)
    else:
        run_generation(args)


if __name__ == "__main__":
    main()
