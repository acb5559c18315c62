"""What SAM 2.1's hole filling costs on the CPU, where samis gives it OpenCV's connected components.

``min_mask_region_area > 0`` makes sam2's predictor fill holes and remove sprinkles in every batch of
low-resolution masks (256x256 logits, ``points_per_batch`` x 3 of them). sam2 does that with its CUDA
extension; without it (or on CPU tensors) samis's ``connected_components`` does. Printed side by side:

1. one batch of 192 masks (64 points x 3): samis's OpenCV labelling vs SciPy's ``ndimage.label`` (the
   reference the test compares with) and vs OpenCV with per-component statistics (the obvious call);
   the masks are 1-3 filled ellipses each plus a sprinkle of single pixels (seeded; NOT SAM's output:
   only their number, size and number of components matter here);
2. the whole automatic mask generator of the test-size SAM 2 (random weights, 256-pixel input) with
   ``min_mask_region_area`` 25: seconds per image and the share spent in the connected components.
   (Comparing it with ``min_mask_region_area`` 0 says little: filling turns random weights' speckled
   masks into fewer, simpler ones, and the rest of the generator then has less to do.)

Usage::

    python benchmarks/bench_hole_filling.py [--repeat 5] [--images 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from samis.sam.sam2_backend import connected_components  # noqa: E402


def _masks(n: int = 192, size: int = 256, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, 1, size, size), np.uint8)
    for index in range(n):
        for _ in range(int(rng.integers(1, 4))):
            centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
            axes = (int(rng.integers(5, 80)), int(rng.integers(5, 80)))
            cv2.ellipse(masks[index, 0], centre, axes, float(rng.integers(0, 180)), 0, 360, 1, -1)
        masks[index, 0][rng.random((size, size)) > 0.999] = 1
    return torch.from_numpy(masks).bool()


def _scipy_components(mask: torch.Tensor):
    from scipy import ndimage

    binary = mask.numpy()
    areas = np.zeros(binary.shape, np.int64)
    for index in range(binary.shape[0]):
        labels, _ = ndimage.label(binary[index, 0], structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        areas[index, 0] = sizes[labels]
    return areas


def _opencv_with_stats(mask: torch.Tensor):
    binary = mask.to(torch.uint8).numpy()
    areas = np.zeros(binary.shape, np.int32)
    for index in range(binary.shape[0]):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(binary[index, 0], connectivity=8, ltype=cv2.CV_32S)
        area = stats[:, cv2.CC_STAT_AREA].copy()
        area[0] = 0
        areas[index, 0] = area[labels]
    return areas


def _best_of(function, repeat: int) -> float:
    function()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def _generator_run(min_area: int, images: list[np.ndarray]) -> tuple[float, float, int]:
    """(seconds per image, of which inside the connected components, calls per image)."""
    from sam2.utils import misc

    from samis.sam.engine import load_sam
    from samis.sam.params import Sam2AmgParams
    from samis.sam.sam2_backend import Sam2MaskGenerator

    loaded = load_sam("tiny-sam2", None, device="cpu")
    params = Sam2AmgParams(points_per_side=32, points_per_batch=64, pred_iou_thresh=0.0,
                           stability_score_thresh=0.0, min_mask_region_area=min_area)
    generator = Sam2MaskGenerator(loaded.model, params)
    generator.generate(images[0])  # warm
    inside = {"s": 0.0, "calls": 0}
    components = misc.get_connected_components

    def timed(mask):
        started = time.perf_counter()
        try:
            return components(mask)
        finally:
            inside["s"] += time.perf_counter() - started
            inside["calls"] += 1

    misc.get_connected_components = timed
    try:
        started = time.perf_counter()
        for image in images:
            generator.generate(image)
        total = time.perf_counter() - started
    finally:
        misc.get_connected_components = components
    return total / len(images), inside["s"] / len(images), inside["calls"] // len(images)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    masks = _masks()
    ours = connected_components(masks)[1].numpy()
    assert np.array_equal(ours, _scipy_components(masks)) and np.array_equal(ours, _opencv_with_stats(masks))
    samis_s = _best_of(lambda: connected_components(masks), args.repeat)
    scipy_s = _best_of(lambda: _scipy_components(masks), args.repeat)
    stats_s = _best_of(lambda: _opencv_with_stats(masks), args.repeat)
    print("one batch: 192 masks of 256x256 (same areas from all three)")
    print(f"  samis connected_components (OpenCV labels + bincount): {samis_s * 1e3:7.1f} ms")
    print(f"  SciPy ndimage.label:                                   {scipy_s * 1e3:7.1f} ms  ({scipy_s / samis_s:.2f}x samis)")
    print(f"  OpenCV connectedComponentsWithStats:                   {stats_s * 1e3:7.1f} ms  ({stats_s / samis_s:.2f}x samis)")
    print(f"  per image at 32x32 points (16 batches, holes + sprinkles = 32 calls): {samis_s * 32:.2f} s")

    rng = np.random.default_rng(1)
    images = [cv2.GaussianBlur((rng.random((200, 200, 3)) * 255).astype(np.uint8), (0, 0), 3)
              for _ in range(args.images)]
    total, inside, calls = _generator_run(25, images)
    print(f"test-size SAM 2 generator, min_mask_region_area 25, 32x32 points, 200x200 images, "
          f"{torch.get_num_threads()} threads:")
    print(f"  {total:.2f} s per image, of which {inside:.2f} s ({inside / total:.0%}) in {calls} connected-component "
          "calls (random weights: the masks are not SAM 2.1's, the share is what matters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
