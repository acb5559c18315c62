"""How fast one image with 100 cached SAM masks opens in the mask explorer (Masks page, ``masks`` command).

The mask cache is written directly from 100 generated masks (ellipses and rectangles of random sizes,
seeded; NOT SAM's output: only their number and size matter here) with ``write_mask_set``, for a
200x200 image (SD-saliency-900's size) and a 1024x1024 one. The oracle and contrast selections are then
run on them (real selection records and maps). One "open" = what the page does on a fresh image:
``explore_masks`` (read + unpack the cache, mask table with IoU against the ground truth, records, maps,
per-image metrics of every map) + the all-masks overlay + the chosen-masks overlay + the Fig. 4 figure
as PNG.

- cold: a fresh Python process (imports included: samis, numpy, Pillow, pandas, pysodmetrics); the
  operating system's file cache is warm;
- warm: the same process opening the same image again (no memoisation in the library: everything is
  read and drawn again; the dashboard's own caches would make it faster still).

Usage::

    python benchmarks/bench_masks.py [--masks 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_OPEN = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {repo!r})
from samis.figures import png_bytes
from samis.mask_explorer import all_masks_overlay, chosen_overlay, explore_masks, fig4_figure
from samis.workspace import Workspace

def open_once():
    t = time.perf_counter()
    explorer = explore_masks(Workspace({root!r}), "bench", "{image}", "sam-vit_h")
    masks = explorer.mask_set.masks
    png_bytes(all_masks_overlay(explorer.image, masks))
    png_bytes(chosen_overlay(explorer.image, masks, explorer.selection("oracle").record))
    png_bytes(fig4_figure(explorer, "oracle"))
    return time.perf_counter() - t, len(explorer.mask_set)

first, n = open_once()
cold = time.perf_counter() - started
warm = [open_once()[0] for _ in range({repeat})]
print(json.dumps({{"cold": cold, "warm": min(warm), "masks": n}}))
"""


def build(root: Path, size: int, n_masks: int) -> None:
    import numpy as np
    from PIL import Image

    from samis.datasets import register_dataset
    from samis.sam.masks import MaskSet, write_mask_set
    from samis.sam.select_run import select_over_dataset
    from samis.workspace import Workspace

    rng = np.random.default_rng(0)
    data = root / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size]
    gt = ((yy - size * 0.4) / (size * 0.1)) ** 2 + ((xx - size * 0.6) / (size * 0.2)) ** 2 <= 1
    image = (rng.normal(120, 12, (size, size)) + gt * 40).clip(0, 255).astype(np.uint8)
    for stem in ("a", "b"):  # b: a train image, so contrast can choose its parameters
        Image.fromarray(image).save(data / "images" / f"{stem}.png")
        Image.fromarray(gt.astype(np.uint8) * 255).save(data / "masks" / f"{stem}.png")
    masks = np.zeros((n_masks, size, size), bool)
    for i in range(n_masks):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(0.02, 0.4, 2) * size
        masks[i] = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1) if i % 2 else \
            ((abs(yy - cy) <= ry) & (abs(xx - cx) <= rx))
    area = masks.reshape(n_masks, -1).sum(1)
    boxes = []
    for m in masks:
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        boxes.append([cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1])
    mask_set = MaskSet(masks, rng.uniform(0.8, 1, n_masks).astype(np.float32),
                       rng.uniform(0.9, 1, n_masks).astype(np.float32), area, np.array(boxes),
                       rng.uniform(0, size, (n_masks, 2)), np.tile([0, 0, size, size], (n_masks, 1)))
    workspace = Workspace(root / "workspace")
    dataset = register_dataset(workspace, "bench", data)
    for stem in ("a", "b"):
        write_mask_set(workspace.sam_cache_dir("sam-vit_h", "bench") / f"{stem}.npz", mask_set,
                       {"model": "sam-vit_h", "note": "generated masks for bench_masks.py, not SAM's"})
    for strategy in ("oracle", "contrast"):
        select_over_dataset(workspace, dataset, "sam-vit_h", strategy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--masks", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"mask explorer: one image with {args.masks} cached masks (generated masks written with write_mask_set, "
          "not SAM's output); cold = fresh process incl. imports, warm = same process again")
    for size in (200, 1024):
        with tempfile.TemporaryDirectory(prefix="samis-bench-masks-") as folder:
            root = Path(folder)
            build(root, size, args.masks)
            code = _OPEN.format(repo=str(REPO), root=str(root / "workspace"), image="a", repeat=args.repeat)
            for scored in (False, True):
                if scored:  # a page such as Compare or Cases has scored the split: the maps' metrics are cached
                    from samis.datasets import load_dataset
                    from samis.evaluation import evaluate
                    from samis.workspace import Workspace

                    workspace = Workspace(root / "workspace")
                    evaluate(workspace, load_dataset(workspace, "bench"), workers=1)
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                where = "metrics from the evaluation cache" if scored else "metrics scored here (split never scored)"
                print(f"{size}x{size}, {result['masks']} masks, {where}: cold {result['cold']:.2f} s (target < 3 s), "
                      f"warm {result['warm']:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
