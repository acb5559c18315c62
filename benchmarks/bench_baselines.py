"""Speed of the built-in baselines, the demo build, and (optionally) a check against published maps.

    python benchmarks/bench_baselines.py                 # ms per image per baseline, demo build time
    python benchmarks/bench_baselines.py --compare       # also: samis ft/hc vs the authors' FT/HC maps

Per-image times are on 200x200 images: real SD-saliency-900 images when ``../shared`` is there,
else demo images; each baseline is timed on the grayscale array and on the same image as RGB
(what the speed table passes), median over the images after one warm-up call.

``--compare`` registers SD-saliency-900 in a temporary workspace, imports the published FT and HC
maps (``../shared/predictions/SD-saliency-900/{FT,HC}``), computes samis's ``ft`` and ``hc`` on
the same 900 images, evaluates all four on split ``all`` and prints the rows side by side, with
the mean per-pixel difference between samis's maps and the published ones.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samis.baselines import BASELINES  # noqa: E402
from samis.imageio import read_gray  # noqa: E402

SHARED = ROOT.parent / "shared"
SD900 = SHARED / "datasets" / "SD-saliency-900"
PUBLISHED = SHARED / "predictions" / "SD-saliency-900"


def load_images(count: int) -> tuple[str, list[np.ndarray]]:
    if (SD900 / "Source Images").is_dir():
        paths = sorted((SD900 / "Source Images").glob("*.bmp"))[:: max(1, 900 // count)][:count]
        return "SD-saliency-900", [read_gray(p) for p in paths]
    from samis.demo import demo_plan, generate_image

    return "demo", [generate_image(*entry).image for entry in demo_plan()[:count]]


def time_function(function, images: list[np.ndarray]) -> float:
    function(images[0])  # warm-up: first-call caches, lazy imports
    times = []
    for image in images:
        started = time.perf_counter()
        function(image)
        times.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(times))


def bench_speed(count: int) -> None:
    source, images = load_images(count)
    rgb = [np.repeat(image[:, :, None], 3, axis=2) for image in images]
    rng = np.random.default_rng(0)
    # a truly colour image exercises the Lab paths (a gray image in RGB takes the L*-only path)
    colour = [np.clip(np.stack([image, image * 0.8 + 20, image * 0.6 + 40], axis=2)
                      + rng.normal(0, 3, image.shape + (3,)), 0, 255).astype(np.uint8) for image in images]
    shape = "x".join(str(v) for v in images[0].shape)
    print(f"baseline ms per image (median of {len(images)} {source} images, {shape}); target: well under 50 ms")
    print(f"{'method':<6} {'gray':>8} {'gray as RGB':>12} {'colour RGB':>11}   {'FPS (gray)':>10}")
    for name, baseline in BASELINES.items():
        gray_ms = time_function(baseline.function, images)
        rgb_ms = time_function(baseline.function, rgb)
        colour_ms = time_function(baseline.function, colour)
        print(f"{name:<6} {gray_ms:8.2f} {rgb_ms:12.2f} {colour_ms:11.2f}   {1000.0 / gray_ms:10.0f}")


def bench_demo() -> None:
    from samis.demo import build_demo
    from samis.workspace import Workspace

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        report = build_demo(Workspace(folder))
        total = time.perf_counter() - started
    print(f"\ndemo build in an empty workspace: {total:.1f} s (target < 60 s)")
    print(report.summary())


def compare_published() -> None:
    from samis.baselines.run import compute_baseline
    from samis.datasets import register_dataset
    from samis.evaluation import evaluate
    from samis.store import import_predictions, prediction_files
    from samis.workspace import Workspace

    if not (PUBLISHED / "FT").is_dir():
        print("\n--compare: ../shared/predictions/SD-saliency-900 is not there; skipped")
        return
    metrics = ("Sa", "MAE", "maxEm", "Fw", "maxFm")
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(folder)
        dataset = register_dataset(workspace, "sd900", SD900, "sd900")
        for method in ("FT", "HC"):
            import_predictions(workspace, dataset, method, PUBLISHED / method)
        for method in ("ft", "hc"):
            run = compute_baseline(workspace, dataset, method, "all")
            print(f"\n{run.summary()}")
        result = evaluate(workspace, dataset, methods=["FT", "ft", "HC", "hc"], split="all")
        print(f"\nSD-saliency-900, split all ({len(dataset)} images): published maps vs samis")
        print(f"{'method':<24}" + "".join(f"{m:>8}" for m in metrics))
        labels = {"FT": "FT (published)", "ft": "ft (samis)", "HC": "HC (published)", "hc": "hc (samis)"}
        for method in ("FT", "ft", "HC", "hc"):
            scores = result.scores[method]
            print(f"{labels[method]:<24}" + "".join(f"{scores[m]:8.4f}" for m in metrics))
        for ours, theirs in (("ft", "FT"), ("hc", "HC")):
            mine, published = prediction_files(workspace, "sd900", ours), prediction_files(workspace, "sd900", theirs)
            differences = [np.abs(read_gray(mine[s]).astype(int) - read_gray(published[s]).astype(int)) for s in mine]
            print(f"per-pixel |{ours} - {theirs}| over 900 maps: mean {np.mean([d.mean() for d in differences]):.3f}, "
                  f"max {max(int(d.max()) for d in differences)} gray levels of 255")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60, help="images per baseline (default 60)")
    parser.add_argument("--no-demo", action="store_true", help="skip timing the demo build")
    parser.add_argument("--compare", action="store_true", help="compare ft/hc with the published FT/HC maps")
    args = parser.parse_args()
    bench_speed(args.images)
    if not args.no_demo:
        bench_demo()
    if args.compare:
        compare_published()


if __name__ == "__main__":
    main()
