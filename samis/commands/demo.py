"""``demo [--force]`` — (re)generate the synthetic demo dataset, its baselines and their scores."""

from __future__ import annotations

from samis.commands._common import print_json, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.demo import build_demo


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="generate the synthetic demo dataset, compute the five baselines on it and evaluate them",
        description="Builds the demo dataset (60 defect and 12 defect-free images) in <workspace>/generated/demo, registers it as 'demo', "
                    "computes ft, sr, hc, mbd and otsu on it and evaluates them. Existing work is reused.")
    parser.add_argument("--force", action="store_true", help="regenerate the images and recompute every map")
    add_count_argument(parser, "--workers", "workers", default=None, help="processes (default: all cores)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=_run)


def _run(args, workspace) -> int:
    with progress_printer(show_progress(args)) as progress:
        report = build_demo(workspace, force=args.force, progress=progress, workers=args.workers)
    if args.format == "json":
        print_json(report.as_dict())
    else:
        print(report.describe())
    return 0
