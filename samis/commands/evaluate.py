"""``evaluate DATASET`` — score methods on a split with pysodmetrics (cached per image)."""

from __future__ import annotations

import sys

from samis.commands.review import add_exclude_tag_argument, left_out_tagged
from samis.commands._common import format_name, add_engine_arguments, comma_list, engine_spec, print_json, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.datasets import load_dataset
from samis.metrics import DATASET_METRICS
from samis.errors import EvaluationError
from samis.tables.image_level import ImageLevelTable

FORMATS = ("table", "json", "csv", "markdown", "md", "latex")


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score methods on a dataset split")
    parser.add_argument("dataset")
    parser.add_argument("--methods", help="comma-separated method names (default: every stored method)")
    parser.add_argument("--split", default=None,
                        help="all, train, test, train-7:3, test-7:3 (default: all; test with --pixel-level)")
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
    add_exclude_tag_argument(parser)
    _add_pixel_level_arguments(parser)
    parser.set_defaults(handler=_evaluate)


def _add_pixel_level_arguments(parser) -> None:
    group = parser.add_argument_group("inspection metrics (--pixel-level)")
    group.add_argument("--pixel-level", action="store_true",
                       help="pooled pixel AUROC, AP and F1-max, AUPRO, the operating point at a threshold calibrated "
                            "on --calibration-split, results by defect size")
    # values are checked by the library, so a bad one is one 'error:' line with exit code 2
    group.add_argument("--fpr-limit", default="0.3,0.05", metavar="L[,L]", help="AUPRO FPR limits (default 0.3,0.05)")
    group.add_argument("--calibrate", default="pixel", metavar="pixel|image",
                       help="pixel: pixel FPR ≤ budget; image: defect-free images flagged ≤ budget (default pixel)")
    group.add_argument("--budget", default="0.01", help="the calibration budget, a share in (0, 1) (default 0.01)")
    group.add_argument("--calibration-split", default="train", help="split the threshold is set on (default train)")
    group.add_argument("--size-edges", default="0.1,1,10", metavar="E[,E…]",
                       help="region size bin edges in %% of the image (default 0.1,1,10)")
    add_count_argument(group, "--ci", "resamples", nargs="?", const="1000", default=None, metavar="B",
                       help="95%% bootstrap intervals over images (B resamples, default 1000)")
    group.add_argument("--seed", default=None, help="seed of the intervals (default: samis.stats' seed)")
    group.add_argument("--paired", default=None, metavar="A,B",
                       help="with --pixel-level: A − B of every value, with an interval from the same resamples")


def _evaluate(args, workspace) -> int:
    if args.format == "md":
        args.format = "markdown"
    if args.pixel_level:
        if args.exclude_tags:
            raise EvaluationError("--exclude-tag applies to the segmentation scores; --pixel-level does not take it yet")
        return _pixel_level(args, workspace)
    pixel_flags = [flag for flag, value in (("--ci", args.ci), ("--seed", args.seed), ("--paired", args.paired))
                   if value is not None]
    if pixel_flags:
        raise EvaluationError(f"{pixel_flags[0]} applies to --pixel-level only")
    if args.split is None:
        args.split = "all"
    if args.image_level or args.min_area is not None:
        return _image_level(args, workspace)
    # lazy: the evaluation imports pandas (0.3-0.4 s), which the other commands' parsers do not need
    from samis.evaluation import evaluate, split_samples
    from samis.reference_maps import fill_references
    from samis.tables.model import build_table, measured_rows

    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        result = evaluate(workspace, dataset, comma_list(args.methods), args.split, args.allow_missing, args.workers,
                          progress, engine=engine)
        # the reference maps the tables show beside the methods (stored per image: views only read them); the
        # evaluation has just checked every mask of the split
        fill_references(workspace, dataset.id, split_samples(workspace, dataset, args.split), masks_checked=True,
                        workers=args.workers, progress=progress, engine=engine)
    result = left_out_tagged(args, workspace, result)
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
    if result.left_out:
        print(result.left_out)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _image_level(args, workspace) -> int:
    # lazy: image-level scoring imports pandas and OpenCV, which the other commands' parsers do not need
    from samis.image_level import check_min_area, evaluate_image_level

    if not args.image_level:
        raise EvaluationError("--min-area applies to --image-level only")
    if args.exclude_tags:
        raise EvaluationError("--exclude-tag applies to the segmentation scores; --image-level does not take it yet")
    min_area = check_min_area(args.min_area)
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        result = evaluate_image_level(workspace, dataset, comma_list(args.methods), args.split, min_area,
                                      args.allow_missing, progress, engine=engine)
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


def _pixel_level(args, workspace) -> int:
    # lazy: pixel-level scoring imports pandas and OpenCV, which the other commands' parsers do not need
    from samis.pixel_level import PixelLevelOptions, evaluate_pixel_level, evaluate_pixel_level_summarized
    from samis.stats import DEFAULT_SEED
    from samis.tables.pixel_level import PixelLevelTable

    if args.image_level:
        raise EvaluationError("--pixel-level and --image-level are separate evaluations: give one")
    options = PixelLevelOptions(args.fpr_limit, args.calibrate, args.budget, args.calibration_split, args.size_edges,
                                args.min_area, args.ci, DEFAULT_SEED if args.seed is None else args.seed,
                                args.allow_missing).checked()
    paired = _paired_methods(args.paired)
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    split = args.split or "test"
    with progress_printer(show_progress(args)) as progress:
        # a paired difference resamples two methods' per-image histograms; otherwise one method's at a time
        run = evaluate_pixel_level if paired is not None else evaluate_pixel_level_summarized
        result = run(workspace, dataset, comma_list(args.methods), split, options, args.workers, progress,
                     engine=engine)
    for name, method_result in result.methods.items():
        if method_result.missing:
            print(f"note: {name} scored on {method_result.n_images} images; {len(method_result.missing)} "
                  "have no map (--allow-missing)", file=sys.stderr)
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    difference = None
    if paired is not None:
        difference = result.paired_difference(*paired, resamples=options.resamples or 1000, seed=options.seed)
    if args.format == "json":
        document = result.to_json_dict()
        if difference is not None:
            document["paired"] = {"a": paired[0], "b": paired[1], "values": difference}
        print_json(document)
        return 0
    table = PixelLevelTable(result)
    writers = {"csv": table.to_csv, "markdown": table.to_markdown, "latex": table.to_latex}
    sys.stdout.write(writers.get(args.format, table.to_text)())
    if difference is not None and args.format == "table":
        print(f"\npaired: {paired[0]} − {paired[1]} (95 % interval, same resamples)")
        for name, row in difference.items():
            low, high = row["ci"]
            print(f"  {name}: {row['difference']:+.4f} [{low:+.4f}, {high:+.4f}]")
    return 0


def _paired_methods(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    names = comma_list(text) or []
    if len(names) != 2 or names[0] == names[1]:
        raise EvaluationError(f"--paired takes two different methods, A,B, not {text!r}")
    return names[0], names[1]
