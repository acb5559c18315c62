"""The speed table on this machine: synthetic 200x200 image and real SD-saliency-900 / MT images side by side.

    python benchmarks/bench_speed.py [--runs 20] [--checkpoint PATH …] [--device auto]

For each method samis can run here (the built-in baselines, the test-size SAM when the engine is
installed, SAM ViT-B/L/H with a checkpoint) it prints ms per image (median) and FPS on each image
source, and the ratio of FPS on the synthetic image to FPS on real images, then the parameter counts
of SAM beside the paper's Table 7. Real images come from ``../shared`` when present (registered in a
temporary workspace, never written to).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samis.speed import TimingProtocol, parse_checkpoint_options, speed_report  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--checkpoint", action="append")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    checkpoints = parse_checkpoint_options(args.checkpoint)
    common = dict(checkpoints=checkpoints, device=args.device,
                  protocol=TimingProtocol(warmup=args.warmup, runs=args.runs, time_budget_s=30.0, n_images=5))

    tables = {"synthetic 200x200": speed_report(None, **common)}
    with tempfile.TemporaryDirectory() as folder:
        from samis.datasets import register_dataset
        from samis.workspace import Workspace

        workspace = Workspace(folder)
        for dataset_id, name in (("sd900", "SD-saliency-900"), ("mt", "MT")):
            if (SHARED / name).exists():
                register_dataset(workspace, dataset_id, SHARED / name, dataset_id)
                tables[f"{dataset_id} first 5"] = speed_report(workspace, dataset=dataset_id,
                                                               include_paper=False, **common)
            else:
                print(f"({name} not found under {SHARED}: skipped)")

    sources = list(tables)
    first = tables[sources[0]]
    timed = [r for r in first.rows if r.source == "measured" and r.fps is not None]
    print(f"device: {timed[0].device if timed else 'n/a'}; protocol: {first.protocol}\n")
    header = f"{'method':<18}" + "".join(f"{s + ' ms':>22}{'FPS':>9}" for s in sources) + "".join(
        f"{'  FPS ratio synth/' + s.split()[0]:>26}" for s in sources[1:])
    print(header)
    for row in timed:
        cells, fps = "", []
        for source in sources:
            match = next((r for r in tables[source].rows if r.method == row.method and r.fps), None)
            cells += f"{match.ms_median:>22.2f}{match.fps:>9.1f}" if match else f"{'–':>22}{'–':>9}"
            fps.append(match.fps if match else None)
        ratios = "".join(f"{fps[0] / f:>26.2f}" if f else f"{'–':>26}" for f in fps[1:])
        print(f"{row.method:<18}{cells}{ratios}")
    print("\nSAM and Table 7:")
    for row in first.rows:
        if row.method.startswith(("sam", "SAM")):
            fps = f"{row.fps:.3g} FPS" if row.fps else "not timed"
            print(f"  {row.label:<40} {row.source:<9} params {row.params_m:8.1f} M  {fps:<12} {row.device}")
    for note in first.notes:
        if "parameters" in note or "model size" in note:
            print("  " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
