"""Peak memory of SAM's automatic mask generation on a large image with every candidate kept.

The case of issue 15: the test-size SAM (``--model tiny``, random weights) on a 3000 x 3000 image with
``pred_iou_thresh=0`` and ``stability_score_thresh=0`` (nothing filtered before NMS). Before the mask
generator kept masks bounded it grew past 11 GB in 28 s. The run happens in a child process, so the
peak resident set size (``ru_maxrss`` of the child, read with ``os.wait4``) is that run's alone.
Prints the peak, the wall time, the 4 GB target and PASS or FAIL (exit code 1 on FAIL).

    python benchmarks/bench_sam_memory.py                    # 3000 x 3000, 32 x 32 points, CPU
    python benchmarks/bench_sam_memory.py --size 1500 --points-per-side 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_GB = 4.0

CHILD = """
import json, sys, time
import numpy as np
import torch
sys.path.insert(0, {repo!r})
from samis.sam.amg import AmgParams
from samis.sam.engine import SamEngine, load_sam

torch.set_num_threads({threads})
rng = np.random.default_rng(0)
image = rng.integers(80, 140, ({size}, {size}, 3), dtype=np.uint8)
image[{size} // 4: {size} // 2, {size} // 3: {size} // 2] = 230
engine = SamEngine(load_sam("tiny", device="{device}"),
                   AmgParams(points_per_side={points}, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                             points_per_batch={batch}))
started = time.perf_counter()
masks = engine.generate(image)
print(json.dumps({{"seconds": time.perf_counter() - started, "masks": len(masks)}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000, help="image side in pixels (default 3000)")
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--points-per-batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=max(1, min(os.cpu_count() or 1, 2)))
    args = parser.parse_args()
    code = CHILD.format(repo=str(REPO), size=args.size, points=args.points_per_side, batch=args.points_per_batch,
                        device=args.device, threads=args.threads)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    peak_gb = usage.ru_maxrss * 1024 / 1e9  # Linux reports kilobytes
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"child failed (exit {os.waitstatus_to_exitcode(status)}) after {wall:.1f} s, peak RSS {peak_gb:.2f} GB")
        return 1
    result = json.loads(output.strip().splitlines()[-1])
    verdict = "PASS" if peak_gb < TARGET_GB else "FAIL"
    print(f"sam-tiny-random, {args.size}x{args.size} image, {args.points_per_side}x{args.points_per_side} points, "
          f"points_per_batch {args.points_per_batch}, thresholds 0, {args.device}, {args.threads} threads")
    print(f"masks kept: {result['masks']}")
    print(f"generate: {result['seconds']:.1f} s; child process wall time (incl. start-up): {wall:.1f} s")
    print(f"peak RSS: {peak_gb:.2f} GB (target < {TARGET_GB:.0f} GB): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
