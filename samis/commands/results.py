"""``results export DATASET`` — per-image results as a Parquet or CSV file for pandas, Polars, DuckDB."""

from __future__ import annotations

import sys

from samis.commands._common import add_engine_arguments, comma_list, engine_spec, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.datasets import load_dataset

FORMATS = ("parquet", "csv")  # samis.results_export.FORMATS, without importing pyarrow for every command's parser


def register(subparsers) -> None:
    parser = subparsers.add_parser("results", help="the stored per-image results: export them")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    export = actions.add_parser("export", help="one row per image and method (image, class, split, method, every "
                                               "per-image metric) as Parquet or CSV; scores what is not stored yet")
    export.add_argument("dataset")
    export.add_argument("--methods", help="comma-separated method names (default: every stored method)")
    export.add_argument("--split", default="all", help="all, train, test, train-7:3, test-7:3 (default: all)")
    export.add_argument("--allow-missing", action="store_true", help="export methods on the images they have maps for")
    export.add_argument("--format", choices=FORMATS, type=str.lower, default="parquet", help="default: parquet")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write (its folder must exist)")
    add_count_argument(export, "--workers", "workers", default=None, help="processes for what must be scored (default: all cores)")
    add_engine_arguments(export)
    export.set_defaults(handler=_export)


def _export(args, workspace) -> int:
    # lazy: the export imports pyarrow and pandas (through the evaluation), which other commands' parsers do not need
    from samis.results_export import check_export_path, export_results

    check_export_path(args.output, args.format)  # a bad path is one line before the dataset is even read
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        report = export_results(workspace, dataset, args.output, args.format, comma_list(args.methods), args.split,
                                args.allow_missing, dict(workers=args.workers, progress=progress, engine=engine))
    print(report.summary(), file=sys.stderr)
    return 0
