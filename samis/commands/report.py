"""``report DATASET`` — the paper's table, tables of methods measured here, or both, with a gap row."""

from __future__ import annotations

from samis.commands._common import build_demo_if_empty, comma_list, progress_printer, show_progress, write_table
from samis.paper import PAPER_TABLES
from samis.tables.columns import TABLE_METRICS
from samis.tables.gap import GAP_DEFINITIONS

FORMATS = ("table", "json", "csv", "markdown", "latex")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="comparison table: the paper's published rows and/or methods measured here, with a gap row",
        description="Build a methods x metrics table like the paper's Tables 3-6. With --paper alone, DATASET is "
                    "sd900 (Table 3), mt (Table 4), nrsd-mn (Table 5) or mt-7:3 (Table 6). With --measured, the "
                    "registered dataset's stored predictions are evaluated on --split. Without either flag, every "
                    "source that exists is used.",
    )
    # dest is not "dataset": the CLI builds the demo for commands with a dataset on an empty workspace,
    # which a paper-only table does not need; _report asks for it only when measured rows are wanted
    parser.add_argument("table_id", metavar="DATASET", help="sd900, mt, nrsd-mn, mt-7:3, or a registered dataset id")
    parser.add_argument("--paper", action="store_true", default=None, help="include the paper's published rows")
    parser.add_argument("--measured", action="store_true", default=None,
                        help="include rows evaluated here from the workspace's predictions")
    parser.add_argument("--methods", type=comma_list, metavar="A,B,…",
                        help="only these methods (paper ids or printed names, store method names)")
    parser.add_argument("--split", help="split for measured rows (default: all; test-7:3 for mt-7:3)")
    parser.add_argument("--metrics", type=comma_list, metavar="M,…", default=list(TABLE_METRICS),
                        help="columns (default: Sa,MAE,Em,Fw,Fm; Em/Fm are max E/F; also meanEm, adpEm, meanFm, adpFm)")
    parser.add_argument("--rows", metavar="CSV", help="add rows from a CSV file (method column + metric columns)")
    parser.add_argument("--gap-method", metavar="ID", help="method compared with the best of the others (default: SAM)")
    parser.add_argument("--gap-definition", choices=GAP_DEFINITIONS,
                        help="larger: divide by the larger value (Tables 3-5); reference: divide by the gap "
                             "method's value (Table 6); default: the paper table's own, else larger")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score measured methods on the images they have instead of refusing")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(handler=_report)


def _report(args, workspace) -> int:
    # lazy: the table model imports pandas and the report the evaluation; every other command
    # (and --help) builds this parser without them
    from samis.tables.model import read_rows_csv
    from samis.tables.report import comparison_report

    extra = read_rows_csv(args.rows) if args.rows else None
    wants_measured = args.measured or (args.paper is None and args.table_id.lower() not in PAPER_TABLES)
    if wants_measured:
        build_demo_if_empty(workspace, show_progress(args))
    with progress_printer(show_progress(args)) as progress:
        table = comparison_report(
            workspace, args.table_id, paper=args.paper, measured=args.measured, methods=args.methods,
            split=args.split, metrics=args.metrics, gap_method=args.gap_method, gap_definition=args.gap_definition,
            extra_rows=extra, allow_missing=args.allow_missing, progress=progress,
        )
    write_table(table, args.format)
    return 0
