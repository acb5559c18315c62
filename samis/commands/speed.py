"""``speed`` — parameters, size and frames per second of what samis can run here, beside the paper's Table 7."""

from __future__ import annotations

import sys

from samis.commands._common import format_name, comma_list, progress_printer, show_progress, write_table
from samis.counts import add_count_argument
from samis.speed import TimingProtocol, parse_checkpoint_options, speed_report
from samis.speed.records import save_speed_record

FORMATS = ("table", "json", "csv", "markdown")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "speed", help="time the built-in methods and SAM on this machine, beside the paper's Table 7",
        description="Times each method (batch 1, warm-up runs, then timed runs; median FPS and spread) on the "
                    "first images of --dataset, or on a synthetic 200x200 image, and prints them beside Table 7 "
                    "(RTX 3080). SAM ViT-B/L/H are timed only with --checkpoint; otherwise their parameters are counted.",
    )
    parser.add_argument("--methods", type=comma_list, metavar="A,B,…",
                        help="baseline names, sam-tiny-random, sam-vit_b, sam-vit_l, sam-vit_h, sam2-tiny-random, sam2.1-hiera_t … "
                             "sam2.1-hiera_l (default: every baseline, sam-tiny-random and SAM ViT-B/L/H)")
    parser.add_argument("--dataset", help="registered dataset whose first --images images are used")
    add_count_argument(parser, "--images", "speed_images", default=5, help="how many dataset images (default 5)")
    parser.add_argument("--checkpoint", action="append", metavar="[TYPE=]PATH",
                        help="SAM or SAM 2.1 checkpoint to time (repeatable; the type is read from the file name or TYPE=, "
                             "e.g. hiera_l=PATH)")
    parser.add_argument("--device", default="auto", help="device for SAM: auto, cpu, cuda, cuda:1, mps")
    add_count_argument(parser, "--warmup", "speed_warmup", default=3, help="untimed runs first (default 3)")
    add_count_argument(parser, "--runs", "speed_runs", default=20, help="timed runs at most (default 20)")
    parser.add_argument("--time-budget", type=float, default=30.0, metavar="S",
                        help="stop timing a method after S seconds, at least 3 runs (default 30; 0 = no limit)")
    parser.add_argument("--no-paper", action="store_true", help="leave out Table 7's printed rows")
    parser.add_argument("--no-save", action="store_true",
                        help="do not save the measurement in the workspace (default: saved atomically under "
                             "speed/<dataset or synthetic>.json with device and date, listed by the dashboard's Speed page)")
    parser.add_argument("--format", choices=FORMATS, type=format_name, default="table")
    parser.set_defaults(handler=_speed)


def _speed(args, workspace) -> int:
    with progress_printer(show_progress(args)) as progress:
        table = speed_report(
            workspace, methods=args.methods, dataset=args.dataset,
            checkpoints=parse_checkpoint_options(args.checkpoint), device=args.device,
            protocol=TimingProtocol(warmup=args.warmup, runs=args.runs, time_budget_s=args.time_budget or None,
                                    n_images=args.images),
            include_paper=not args.no_paper, progress=progress,
        )
    write_table(table, args.format)
    if not args.no_save and any(row.source != "paper" for row in table.rows):
        record = save_speed_record(workspace, table, args.dataset)
        print(f"saved the measurement to {record.path}", file=sys.stderr)
    return 0
