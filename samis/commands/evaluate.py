"""``evaluate DATASET`` — score methods on a split with pysodmetrics (cached per image)."""

from __future__ import annotations

import sys

from samis.commands._common import format_name, add_engine_arguments, comma_list, engine_spec, print_json, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.datasets import load_dataset
from samis.metrics import DATASET_METRICS
from samis.errors import EvaluationError
from samis.tables.image_level import ImageLevelTable

FORMATS = ("table", "json", "csv", "markdown", "latex")


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score methods on a dataset split")
    parser.add_argument("dataset")
    parser.add_argument("--methods", help="comma-separated method names (default: every stored method)")
    parser.add_argument("--split", default="all", help="all, train, test, train-7:3, test-7:3 (default: all)")
    parser.add_argument("--allow-missing", action="store_true", help="score methods on the images they have maps for")
    add_count_argument(parser, "--workers", "workers", default=None,
                        help="processes (default: all cores); with --engine ray, Ray workers (default: the cluster's CPUs)")
    add_engine_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, type=format_name, default="table")
    parser.add_argument("--image-level", action="store_true",
                        help="good parts: false alarms on defect-free images (empty ground truth), miss rate, "
                             "image-level AUROC and FPR at 95%% TPR, per defect class")
    # checked by the library so a bad value is one 'error:' line with exit code 2, like every input error
    parser.add_argument("--min-area", default=None, metavar="N",
                        help="with --image-level: smallest region kept, in pixels (default: ceil(0.001*H*W))")
    parser.set_defaults(handler=_evaluate)


def _evaluate(args, workspace) -> int:
    if args.image_level or args.min_area is not None:
        return _image_level(args, workspace)
    # lazy: the evaluation imports pandas (0.3-0.4 s), which the other commands' parsers do not need
    from samis.evaluation import evaluate
    from samis.tables.model import build_table, measured_rows

    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        result = evaluate(workspace, dataset, comma_list(args.methods), args.split, args.allow_missing, args.workers,
                          progress, engine=engine)
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


def _image_level(args, workspace) -> int:
    # lazy: image-level scoring imports pandas and OpenCV, which the other commands' parsers do not need
    from samis.image_level import check_min_area, evaluate_image_level

    if not args.image_level:
        raise EvaluationError("--min-area applies to --image-level only")
    min_area = check_min_area(args.min_area)
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        result = evaluate_image_level(workspace, dataset, comma_list(args.methods), args.split, min_area,
                                      args.allow_missing, args.workers, progress, engine=engine)
    for name, method_result in result.methods.items():
        if method_result.missing:
            print(f"note: {name} scored on {len(method_result.stems)} images; {len(method_result.missing)} "
                  f"have no map (--allow-missing)", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        print_json(result.to_json_dict())
        return 0
    table = ImageLevelTable(result)
    writers = {"csv": table.to_csv, "markdown": table.to_markdown, "latex": table.to_latex}
    sys.stdout.write(writers.get(args.format, table.to_text)())
    return 0
