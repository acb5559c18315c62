"""``demo [--force]`` — (re)generate the synthetic demo dataset, its baselines and their scores."""

from __future__ import annotations

import sys

from samis.commands._common import print_json
from samis.demo import build_demo


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="generate the synthetic demo dataset, compute the five baselines on it and evaluate them",
        description="Builds the 60-image demo dataset in <workspace>/generated/demo, registers it as 'demo', "
                    "computes ft, sr, hc, mbd and otsu on it and evaluates them. Existing work is reused.")
    parser.add_argument("--force", action="store_true", help="regenerate the images and recompute every map")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=_run)


def _run(args, workspace) -> int:
    progress = _progress_printer() if args.format == "table" and sys.stderr.isatty() else None
    report = build_demo(workspace, force=args.force, progress=progress, workers=args.workers)
    if progress:
        sys.stderr.write("\n")
    if args.format == "json":
        print_json({"folder": str(report.folder), "n_images": report.n_images,
                    "generate_seconds": report.generate_seconds, "baseline_seconds": report.baseline_seconds,
                    "evaluate_seconds": report.evaluate_seconds, "total_seconds": report.total_seconds,
                    "scores": report.scores})
    else:
        print(report.summary())
    return 0


def _progress_printer():
    def show(done: int, total: int, stage: str) -> None:
        sys.stderr.write(f"\r{stage}: {done}/{total}    ")
        sys.stderr.flush()
    return show
