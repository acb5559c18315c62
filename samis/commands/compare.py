"""``compare DATASET A B`` — two methods on the same images: differences with intervals, paired tests."""

from __future__ import annotations

import sys

from samis.commands.review import add_exclude_tag_argument, left_out_tagged
from samis.commands._common import comma_list, print_json, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.datasets import load_dataset
from samis.errors import StatsError
from samis.stats import DEFAULT_SEED, check_metrics, check_resamples, check_seed, compare_methods


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="paired comparison of two methods: A - B per metric with a bootstrap interval, Wilcoxon p",
        description="Compare methods A and B on the images both have: each metric's difference A - B with a 95%% "
                    "paired-bootstrap interval (stratified by defect class), and for the per-image metrics (Sa, MAE, "
                    "Fw, adpFm, adpEm, IoU, Dice) a two-sided Wilcoxon signed-rank p-value, Holm-corrected over them.",
    )
    parser.add_argument("dataset", metavar="DATASET", help="a registered dataset id")
    parser.add_argument("a", metavar="A", help="method A (differences are A - B)")
    parser.add_argument("b", metavar="B", help="method B")
    parser.add_argument("--split", default="all", help="split (default: all)")
    parser.add_argument("--metrics", type=comma_list, metavar="M,…",
                        help="metrics (default: Sa,MAE,maxEm,meanEm,adpEm,Fw,maxFm,meanFm,adpFm,IoU,Dice)")
    add_count_argument(parser, "--b", "resamples", dest="resamples", default="1000", metavar="B",
                       help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", default=None, metavar="N", help="seed of the bootstrap (default: a fixed seed)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_exclude_tag_argument(parser)
    parser.set_defaults(handler=_compare)


def _compare(args, workspace) -> int:
    # lazy: the evaluation imports pandas, which the other commands' parsers do not need
    from samis.evaluation import evaluate

    # every argument is checked before anything is scored
    resamples = check_resamples(args.resamples, "--b")
    seed = check_seed(args.seed) if args.seed is not None else DEFAULT_SEED
    metrics = check_metrics(args.metrics)
    if args.a == args.b:
        raise StatsError(f"compare needs two different methods; got {args.a!r} twice")
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        # a method lacking maps is compared on the images both have; the result says so
        evaluation = evaluate(workspace, dataset, methods=[args.a, args.b], split=args.split, allow_missing=True,
                              progress=progress)
    evaluation = left_out_tagged(args, workspace, evaluation, say=False)  # said with the notes below
    result = compare_methods(evaluation, args.a, args.b, metrics, resamples=resamples, seed=seed)
    if evaluation.left_out:
        result.notes.insert(0, evaluation.left_out)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.format == "json":
        print_json(result.to_json_dict())
    else:
        sys.stdout.write(result.to_text())
    return 0
