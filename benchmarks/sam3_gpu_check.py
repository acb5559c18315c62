"""SAM 3 on a GPU (benchmarks/gpu_check.sh runs it): what cannot be checked on a machine without CUDA.

1. sam3.model_builder.build_sam3_image_model runs as published only with CUDA (it precomputes caches on "cuda"):
   its key -> shape map (with the interactive instance predictor) must be samis's assembly's (samis.sam.sam3_assembly).
2. The test-size SAM 3 (random weights: speed and code paths only) on the GPU: text prompts, images per second.
3. With SAM3_CHECKPOINT=/path/to/sam3.pt (the gated weights), the real SAM 3 is loaded by samis's loader and timed
   on text prompts (three terms) at 1008 pixels.

Usage: python benchmarks/sam3_gpu_check.py [--device cuda] [--images 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samis.models import get_model  # noqa: E402
from samis.sam.engine import load_sam  # noqa: E402
from samis.sam.sam3_assembly import SAM3_SIZES, assemble_sam3, bpe_path, on_meta  # noqa: E402
from samis.sam.sam3_backend import SPEED_VOCABULARY, Sam3Predictor  # noqa: E402


def official_key_shapes_match(device: str) -> bool:
    from sam3 import model_builder

    official = model_builder.build_sam3_image_model(device=device, load_from_HF=False, checkpoint_path=None,
                                                    enable_inst_interactivity=True, bpe_path=bpe_path())
    theirs = {k: tuple(v.shape) for k, v in official.state_dict().items()}
    del official
    with on_meta():
        ours = {k: tuple(v.shape) for k, v in assemble_sam3(SAM3_SIZES).state_dict().items()}
    missing, extra = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
    differ = [k for k in set(theirs) & set(ours) if theirs[k] != ours[k]]
    print(f"official builder: {len(theirs)} tensors; samis assembly: {len(ours)}; only official {len(missing)}, "
          f"only samis {len(extra)}, shapes differ {len(differ)}")
    for name in (missing + extra + differ)[:5]:
        print("  e.g.", name)
    return not (missing or extra or differ)


def time_text(key: str, checkpoint: str | None, device: str, images: int, size: int) -> None:
    loaded = load_sam(key, checkpoint, device)
    predictor = Sam3Predictor(loaded.model)
    rng = np.random.default_rng(0)
    frames = [(rng.random((size, size, 3)) * 255).astype(np.uint8) for _ in range(images + 1)]
    sync = torch.cuda.synchronize if loaded.device.type == "cuda" else (lambda: None)
    if loaded.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i, frame in enumerate(frames):
        if i == 1:
            sync()
            started = time.perf_counter()
        predictor.set_image(frame)
        found = [predictor.text(term) for term in SPEED_VOCABULARY]
    sync()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if loaded.device.type == "cuda" else float("nan")
    what = "random weights: speed only" if get_model(key).random_weights else f"checkpoint {checkpoint}"
    print(f"{get_model(key).label} on {loaded.device} ({what}): {images / seconds:.2f} images/s with "
          f"{len(SPEED_VOCABULARY)} text prompts each, {size}x{size} images; peak {peak:.2f} GiB; "
          f"last image {sum(len(f.scores) for f in found)} queries")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=5)
    args = parser.parse_args()
    ok = True
    if args.device.startswith("cuda"):
        ok = official_key_shapes_match(args.device)
        print("== key -> shape map equals the official builder's:", "yes" if ok else "NO")
    time_text("tiny-sam3", None, args.device, args.images, 200)
    checkpoint = os.environ.get("SAM3_CHECKPOINT")
    if checkpoint:
        time_text("sam3", checkpoint, args.device, args.images, 200)
    else:
        print("SAM 3 itself not timed: set SAM3_CHECKPOINT=/path/to/sam3.pt (gated: `python -m samis checkpoints "
              "download sam3` with your Hugging Face token)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
