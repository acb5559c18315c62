"""``evaluate DATASET`` — score methods on a split with pysodmetrics (cached per image)."""

from __future__ import annotations

import sys

from samis.commands._common import comma_list, print_json, progress_printer, show_progress
from samis.datasets import load_dataset
from samis.metrics import DATASET_METRICS

FORMATS = ("table", "json", "csv", "markdown", "latex")


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score methods on a dataset split")
    parser.add_argument("dataset")
    parser.add_argument("--methods", help="comma-separated method names (default: every stored method)")
    parser.add_argument("--split", default="all", help="all, train, test, train-7:3, test-7:3 (default: all)")
    parser.add_argument("--allow-missing", action="store_true", help="score methods on the images they have maps for")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(handler=_evaluate)


def _evaluate(args, workspace) -> int:
    # lazy: the evaluation imports pandas (0.3-0.4 s), which the other commands' parsers do not need
    from samis.evaluation import evaluate
    from samis.tables.model import build_table, measured_rows

    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        result = evaluate(workspace, dataset, comma_list(args.methods), args.split, args.allow_missing, args.workers,
                          progress)
    for name, method_result in result.methods.items():
        if method_result.missing:
            print(f"note: {name} scored on {len(method_result.stems)} images; {len(method_result.missing)} "
                  f"have no map (--allow-missing)", file=sys.stderr)
    if args.format == "json":
        print_json(result.to_json_dict())
        return 0
    frame = result.scores_frame()
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return 0
    if args.format in ("markdown", "latex"):
        metrics = list(DATASET_METRICS)
        rows = measured_rows(result.scores, dataset.id, args.split, metrics=metrics)
        table = build_table(rows, metrics=metrics, gap_method=None, dataset=dataset.id,
                            title=f"{dataset.id} / split {args.split}")
        sys.stdout.write(table.to_markdown() if args.format == "markdown" else table.to_latex())
        sys.stdout.write("\n")
        return 0
    n_images = len(result.image_classes)
    print(f"{dataset.id} / split {args.split} ({n_images} images)")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
