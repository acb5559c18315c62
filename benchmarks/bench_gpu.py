"""GPU check: images per second of automatic mask generation, SAM ViT-B/L/H, SAM 2.1 Hiera-L, HQ-SAM ViT-B/H and
EfficientViT-SAM L0/XL1, bf16 and fp32.

Run by ``benchmarks/gpu_check.sh`` (which installs the requirements first) or alone:

    python benchmarks/bench_gpu.py                          # CUDA: every family (DEFAULT_MODELS); bf16 and fp32
    python benchmarks/bench_gpu.py --device cpu --quick     # dry path here: test-size models, 2 images, fp32

Weights are random (seeded) and every threshold is 0 (``pred_iou_thresh`` = ``stability_score_thresh``
= 0), so all candidates flow through every stage (filters, NMS, post-processing): this measures speed,
never accuracy. For SAM it times samis's engine and the stock ``SamAutomaticMaskGenerator`` on the
same model object and images (one configuration after the other); for SAM 2.1, the official
``SAM2AutomaticMaskGenerator`` (samis runs that generator itself). bf16 is autocast on CUDA: the
whole generate call for samis's engine and SAM 2.1; for the stock SAM generator only its network
(its post-processing cannot take bf16 tensors, see :func:`stock_generate`); fp32 is plain. Each configuration: ``--warmup`` untimed images, then up to ``--images``
timed ones within ``--config-budget-s``; peak GPU memory is ``torch.cuda.max_memory_allocated`` over
that configuration. Images: SD-saliency-900's source images (200x200) from ``--images-dir`` or
``../shared/datasets/SD-saliency-900/Source Images``, else seeded generated 200x200 images (said so).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from samis.imageio import read_rgb  # noqa: E402
from samis.models import EVIT_MODELS, HQ_MODELS, RUNNABLE_MODELS, SAM2_MODELS, get_model  # noqa: E402
from samis.sam.engine import LoadedSam, SamEngine, device_name, resolve_device  # noqa: E402
from samis.sam.masks import MaskSet  # noqa: E402
from samis.sam.params import AmgParams  # noqa: E402

DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "SD-saliency-900" / "Source Images"
#: in --quick mode each family's test-size model stands in for its real architectures (same code paths); from the
#: registry, so a family added there has its stand-in here
QUICK_STAND_IN = {m.key: next(t.key for t in RUNNABLE_MODELS.values() if t.code is m.code and t.random_weights)
                  for m in RUNNABLE_MODELS.values() if not m.random_weights}
#: every family: SAM, SAM 2.1, HQ-SAM (smallest and largest), EfficientViT-SAM (fastest and largest)
DEFAULT_MODELS = "vit_b,vit_l,vit_h,hiera_l,hq_vit_b,hq_vit_h,evit_l0,evit_xl1"


def load_images(folder: Path | None, count: int) -> tuple[list[np.ndarray], str]:
    """``count`` 200x200 images: SD-saliency-900's (classes in turn), else generated ones (the text says which)."""
    folder = folder or DEFAULT_IMAGES
    if folder.is_dir():
        by_class = {c: sorted(folder.glob(f"{c}_*.bmp"), key=lambda p: int(p.stem.split("_")[1]))
                    for c in ("In", "Pa", "Sc")}
        paths = [by_class[c][i // 3] for i, c in zip(range(count), ["In", "Pa", "Sc"] * count)
                 if len(by_class[c]) > i // 3]
        if not paths:
            paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".bmp", ".png", ".jpg"))[:count]
        if paths:
            images = [np.ascontiguousarray(read_rgb(p)) for p in paths]
            shapes = sorted({f"{i.shape[1]}x{i.shape[0]}" for i in images})
            return images, f"{len(images)} images from {folder} ({', '.join(shapes)})"
    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        gray = rng.normal(128, 20, (200, 200)).clip(0, 255)
        gray[90:110, 40:160] = 230
        images.append(np.repeat(gray.astype(np.uint8)[:, :, None], 3, axis=2))
    return images, (f"NOTE: {folder} not found; {count} generated 200x200 images (seeded grey noise with a bright "
                    "bar) stand in for SD-saliency-900")


def random_model(model_type: str, device: torch.device) -> LoadedSam:
    """A model of ``model_type`` with seeded random weights, built directly on ``device``."""
    torch.manual_seed(0)
    if model_type == "tiny":
        from samis.sam.tiny import build_tiny_sam

        model = build_tiny_sam()
    elif model_type == "tiny-sam2":
        from samis.sam.sam2_backend import build_tiny_sam2

        model = build_tiny_sam2()
    elif get_model(model_type).random_weights:  # any other family's test-size model, through its own loader
        model = get_model(model_type).loader()(get_model(model_type), None)
    elif model_type in HQ_MODELS or model_type in EVIT_MODELS:
        model = package_network(model_type, device)
    elif model_type in SAM2_MODELS:
        from samis.sam.sam2_backend import _import_sam2

        build_sam2, _, _ = _import_sam2()
        with torch.device(device):
            model = build_sam2(SAM2_MODELS[model_type].config, None, device=str(device))
    else:
        from segment_anything import sam_model_registry

        with torch.device(device):  # initialise on the GPU: seconds instead of a minute for ViT-H on the CPU
            model = sam_model_registry[model_type](checkpoint=None)
    spec = get_model(model_type)
    label = spec.label if spec.random_weights else f"{spec.label} (random weights)"
    spec = dataclasses.replace(get_model(model_type), label=label)  # a label that says "random weights"
    return LoadedSam(model.to(device).eval(), spec, None, None, device)


def package_network(model_type: str, device: torch.device):
    """A real HQ-SAM or EfficientViT-SAM variant from its package's own builder, random weights, on ``device``."""
    spec = get_model(model_type)
    with torch.device(device):
        if model_type in HQ_MODELS:
            # segment_anything_hq: only when an HQ-SAM model is timed
            from samis.sam.hq_backend import _package

            return _package()[0].sam_model_registry[spec.config](checkpoint=None)
        # efficientsam: only when an EfficientViT-SAM model is timed
        from samis.sam.evit_shapes import import_package

        return import_package()[0].create_efficientvit_sam_model(spec.config, pretrained=False)


def stock_generate(loaded: LoadedSam, params: AmgParams, dtype: str):
    """``SamAutomaticMaskGenerator.generate`` as a MaskSet; with bf16 the network runs under bf16 autocast.

    The stock generator cannot run wholly under bf16 autocast: its ``MaskData.to_numpy`` calls
    ``.numpy()`` on bf16 tensors (TypeError: unsupported ScalarType BFloat16). So for bf16 the image
    encoder (``set_image``) and the prompt decoder (``predict_torch``) run under autocast and the
    decoder's outputs are handed on in fp32: the stock post-processing stays fp32.
    """
    from segment_anything import SamAutomaticMaskGenerator

    stock = SamAutomaticMaskGenerator(loaded.model, **params.stock_kwargs())
    if dtype == "bf16":
        predictor = stock.predictor
        set_image, predict_torch = predictor.set_image, predictor.predict_torch

        def autocast():
            return torch.autocast(device_type=loaded.device.type, dtype=torch.bfloat16)

        def set_image_bf16(*args, **kwargs):
            with autocast():
                return set_image(*args, **kwargs)

        def predict_torch_bf16(*args, **kwargs):
            with autocast():
                outputs = predict_torch(*args, **kwargs)
            return tuple(o.float() if torch.is_floating_point(o) else o for o in outputs)

        predictor.set_image, predictor.predict_torch = set_image_bf16, predict_torch_bf16

    def generate(image):
        with torch.inference_mode():
            return MaskSet.from_stock(stock.generate(image), image.shape[:2])

    return generate


def run_config(loaded: LoadedSam, generator: str, dtype: str, params: AmgParams, images, warmup: int,
               budget_s: float, sync) -> dict:
    """Warm up, then time images one by one until all are done or the budget is spent."""
    if generator == "engine":
        engine = SamEngine(loaded, params, dtype=dtype)
        generate = engine.generate
    else:
        generate = stock_generate(loaded, params, dtype)
    cuda = loaded.device.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(loaded.device)
    for i in range(warmup):
        generate(images[i % len(images)])
    sync()
    seconds, masks = [], []
    started = time.perf_counter()
    for image in images:
        t = time.perf_counter()
        out = generate(image)
        sync()
        seconds.append(time.perf_counter() - t)
        masks.append(len(out))
        if time.perf_counter() - started > budget_s:
            break
    peak = torch.cuda.max_memory_allocated(loaded.device) / 2**30 if cuda else None
    return {"images": len(seconds), "ips": len(seconds) / sum(seconds), "ms": 1000 * float(np.median(seconds)),
            "masks": float(np.mean(masks)), "peak_gib": peak}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--dtypes", default=None, help="bf16,fp32 on CUDA (default); fp32 elsewhere")
    parser.add_argument("--images", type=int, default=20, help="timed images per configuration (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed images first (default 2)")
    parser.add_argument("--images-dir", type=Path, default=None)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--points-per-batch", type=int, default=64)
    parser.add_argument("--config-budget-s", type=float, default=20.0,
                        help="stop timing a configuration after this many seconds (default 20; with --deadline-s, "
                             "at most a fair share of the time left)")
    parser.add_argument("--deadline-s", type=float, default=None,
                        help="skip the configurations left once this many seconds have passed")
    parser.add_argument("--quick", action="store_true",
                        help="dry path: test-size stand-ins for each model (random weights), 2 images, 1 warm-up, "
                             "8x8 points")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dtypes = (args.dtypes or ("bf16,fp32" if device.type == "cuda" else "fp32")).split(",")
    if "bf16" in dtypes and device.type != "cuda":
        print("note: bf16 autocast needs CUDA; timing fp32 only")
        dtypes = [d for d in dtypes if d != "bf16"] or ["fp32"]
    if args.quick:
        args.images, args.warmup, args.points_per_side = min(args.images, 2), min(args.warmup, 1), 8
    images, images_text = load_images(args.images_dir, args.images)
    print(f"device: {device_name(device)}; torch {torch.__version__}; dtypes {', '.join(dtypes)}")
    print(f"images: {images_text}")
    print(f"parameters: points_per_side {args.points_per_side}, points_per_batch {args.points_per_batch}, "
          "pred_iou_thresh 0, stability_score_thresh 0 (other parameters: each generator's defaults); "
          "random weights (seeded): speed only, not accuracy")
    if args.quick:
        print("QUICK DRY PATH: test-size models with random weights stand in for "
              + ", ".join(f"{m} → {QUICK_STAND_IN.get(m, m)}" for m in args.models.split(",")))
    rows, seen = [], set()
    plan = []  # (run_type, number of configurations), to share the time left fairly between them
    for model_type in args.models.split(","):
        run_type = QUICK_STAND_IN.get(model_type, model_type) if args.quick else model_type
        if run_type not in [p[0] for p in plan]:
            plan.append((run_type, len(dtypes) * (2 if get_model(run_type).code.backend is None else 1)))
    configs_left = sum(n for _, n in plan)

    def budget() -> float:
        """This configuration's seconds: the set budget, or a fair share of what is left before the deadline."""
        if not args.deadline_s:
            return args.config_budget_s
        share = (args.deadline_s - (time.perf_counter() - started)) / max(1, configs_left) - 5.0  # 5 s: warm-up
        return max(2.0, min(args.config_budget_s, share))

    for model_type in args.models.split(","):
        run_type = QUICK_STAND_IN.get(model_type, model_type) if args.quick else model_type
        if run_type in seen:
            continue  # several models share one stand-in
        seen.add(run_type)
        if args.deadline_s and time.perf_counter() - started > args.deadline_s:
            rows.append((run_type, "-", "-", {"error": "skipped: time budget spent"}))
            continue
        try:
            t = time.perf_counter()
            loaded = random_model(run_type, device)
            build_s = time.perf_counter() - t
        except Exception as error:  # one bad model must not cost the others' numbers
            rows.append((run_type, "-", "-", {"error": f"build failed: {type(error).__name__}: {str(error)[:120]}"}))
            configs_left -= dict(plan)[run_type]
            continue
        print(f"{loaded.label}: {loaded.params_m:.1f} M parameters, built in {build_s:.1f} s", flush=True)
        sam2 = loaded.spec.runs_on_sam2
        base = dict(points_per_side=args.points_per_side, points_per_batch=args.points_per_batch,
                    pred_iou_thresh=0.0, stability_score_thresh=0.0)
        params = loaded.spec.params_class(**base)
        # SAM: samis's engine and the stock generator; the other families: their package's own generator
        generators = ["engine", "stock"] if loaded.spec.code.backend is None else [
            "sam2-official" if sam2 else "pkg-official"]
        for dtype in dtypes:
            for generator in generators:
                if args.deadline_s and time.perf_counter() - started > args.deadline_s:
                    rows.append((loaded.label, generator, dtype, {"error": "skipped: time budget spent"}))
                    continue
                try:
                    result = run_config(loaded, "engine" if generator.endswith("-official") else generator, dtype,
                                        params, images, args.warmup, budget(), sync)
                except Exception as error:
                    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    result = {"error": f"{type(error).__name__}: {first[:120]}"}
                configs_left -= 1
                rows.append((loaded.label, generator, dtype, result))
                text = result.get("error") or (f"{result['ips']:.2f} images/s over {result['images']} images, "
                                               f"{result['masks']:.1f} masks/image")
                print(f"  {generator:<14} {dtype}: {text}", flush=True)
        del loaded
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print()
    header = f"{'model':<34} {'generator':<14} {'dtype':<5} {'images/s':>9} {'ms/img':>8} {'masks/img':>9} {'peak GPU GiB':>12} {'n':>3}"
    print(header)
    print("-" * len(header))
    for label, generator, dtype, r in rows:
        if "error" in r:
            print(f"{label:<34} {generator:<14} {dtype:<5} {r['error']}")
            continue
        peak = f"{r['peak_gib']:.2f}" if r["peak_gib"] is not None else "n/a (CPU)"
        print(f"{label:<34} {generator:<14} {dtype:<5} {r['ips']:>9.2f} {r['ms']:>8.1f} {r['masks']:>9.1f} "
              f"{peak:>12} {r['images']:>3}")
    speedups = []
    for label, _, dtype, r in rows:
        stock = next((s for lb, g, d, s in rows if lb == label and g == "stock" and d == dtype and "error" not in s), None)
        engine = next((s for lb, g, d, s in rows if lb == label and g == "engine" and d == dtype and "error" not in s), None)
        if stock and engine and (label, dtype) not in [(a, b) for a, b, _ in speedups]:
            speedups.append((label, dtype, engine["ips"] / stock["ips"]))
    for label, dtype, ratio in speedups:
        print(f"engine / stock, {label}, {dtype}: {ratio:.2f}x")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if any("error" in r and not r["error"].startswith("skipped") for *_, r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
