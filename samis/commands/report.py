"""``report DATASET`` — the paper's table, tables of methods measured here, or both, with a gap row."""

from __future__ import annotations

import sys

from samis.commands.review import add_exclude_tag_argument
from samis.commands._common import format_name, build_demo_if_empty, comma_list, progress_printer, show_progress, table_text
from samis.counts import add_count_argument
from samis.errors import ReportError
from samis.paper import PAPER_TABLES
from samis.tables.columns import TABLE_METRICS
from samis.tables.gap import GAP_DEFINITIONS
from samis.stats import DEFAULT_SEED, bootstrap, check_resamples, check_seed
from samis.outputs import write_output
from samis.colors import workspace_colors
from samis.html_report import Provenance, comparison_sections, dashboard_link, html_document
from samis.metrics import DATASET_METRICS

FORMATS = ("table", "json", "csv", "markdown", "latex", "html")


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
    add_count_argument(parser, "--ci", "resamples", nargs="?", const="1000", default=None, metavar="B",
                        help="add 95%% bootstrap intervals over images to measured rows (B resamples, default 1000; "
                             "stratified by defect class), and say whether each best value is significantly ahead")
    parser.add_argument("--seed", default=None, metavar="N",
                        help="seed of the bootstrap (default: samis.stats.DEFAULT_SEED; same seed, same intervals)")
    parser.add_argument("--format", choices=FORMATS, type=format_name, default="table",
                        help="html: one self-contained file (table, per-class scores and interactive curves when "
                             "rows were measured, provenance); needs -o")
    parser.add_argument("--class-metric", default="maxFm", metavar="METRIC",
                        help="dataset metric of the per-class table in the html report (default: maxFm)")
    parser.add_argument("--family", action="store_true",
                        help="the SAM-family table: every model and mode with maps on DATASET (SAM, SAM 2.1, HQ-SAM, "
                             "EfficientViT-SAM, test-size ones labelled), deployable rows apart from upper bounds (†), "
                             "parameters and FPS (table, json, csv or markdown)")
    parser.add_argument("--speed", action="store_true",
                        help="with --family: time each model here on the dataset's images for the FPS column")
    parser.add_argument("--device", default="auto", help="with --family --speed: where the models are timed")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output (a file atomically; a device or FIFO in place); "
                             "'-' is standard output")
    add_exclude_tag_argument(parser)
    parser.add_argument("--metric-set", choices=("paper", "inspection", "both"), default="paper",
                        help="paper: the table above (default); inspection / both: the Compare page's Metrics table "
                             "(pixel AUROC, AP, F1-max, AUPRO, the operating point set on train; both adds the "
                             "saliency metrics) of a registered dataset on --split (default test), in any --format")
    parser.set_defaults(handler=_report)


def _report(args, workspace) -> int:
    # lazy: the table model imports pandas and the report the evaluation; every other command
    # (and --help) builds this parser without them
    from samis.tables.model import read_rows_csv
    from samis.tables.report import ComparisonQuery, comparison_rows, report_table

    if args.family:
        return _family_report(args, workspace)
    if args.speed:
        raise ReportError("--speed fills the FPS column of the family table: give --family too")
    if args.format == "html" and not args.output:
        raise ReportError("--format html writes a file: give -o FILE (or -o - for standard output)")
    if args.metric_set != "paper":
        return _metric_set_report(args, workspace)
    resamples = seed = None
    if args.ci is not None or args.seed is not None:
        if args.ci is None:
            raise ReportError("--seed sets the seed of the intervals: give --ci too")
        resamples = check_resamples(args.ci, "--ci")
        seed = check_seed(args.seed) if args.seed is not None else DEFAULT_SEED
    extra = read_rows_csv(args.rows) if args.rows else None
    wants_measured = args.measured or (args.paper is None and args.table_id.lower() not in PAPER_TABLES)
    if wants_measured:
        build_demo_if_empty(workspace, show_progress(args))
    with progress_printer(show_progress(args)) as progress:
        query = ComparisonQuery(args.table_id, paper=args.paper, measured=args.measured, methods=args.methods,
                                split=args.split, metrics=args.metrics, allow_missing=args.allow_missing,
                                exclude_tags=args.exclude_tags)
        found = comparison_rows(workspace, query, extra_rows=extra, progress=progress)
    boot = None
    if resamples is not None:
        if found.evaluation is None:
            raise ReportError("--ci needs rows measured here (a registered dataset, or --measured)")
        boot = bootstrap(found.evaluation, resamples=resamples, seed=seed)
    table = report_table(found, args.table_id, args.metrics, gap_method=args.gap_method,
                         gap_definition=args.gap_definition, bootstrap=boot)
    if args.format == "html":
        text = _html(args, found, table, boot, workspace)
    else:
        text = table_text(table, args.format)
    return _emit(args, text)


def _emit(args, text: str) -> int:
    """Write the report to ``-o FILE`` (saying so on stderr) or to standard output."""
    if args.output and args.output != "-":
        write_output(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _metric_set_report(args, workspace) -> int:
    """``--metric-set inspection|both``: measured rows only, on --split (default test)."""
    from samis.tables.metric_sets import metric_set_text  # lazy: it evaluates

    if args.paper or args.rows or args.ci is not None or args.exclude_tags:
        raise ReportError(f"--metric-set {args.metric_set} shows the rows measured here: it takes no --paper, --rows, "
                          "--ci or --exclude-tag")
    with progress_printer(show_progress(args)) as progress:
        text = metric_set_text(workspace, args.table_id, args.metric_set, args.format, args.split or "test",
                               args.methods, args.allow_missing, progress)
    return _emit(args, text)


def _html(args, found, table, boot, workspace) -> str:
    """The report as one HTML page, with the Compare link that shows the same table in the dashboard.

    With ``--ci`` (``boot``) it carries what Compare shows with Uncertainty on: each measured cell's
    interval, the best marks' sig./tied, the significance matrix and the rank stability of
    ``--class-metric``; colours are the dashboard's (:func:`samis.colors.workspace_colors`).
    """

    if args.class_metric not in DATASET_METRICS:
        raise ReportError(f"unknown --class-metric {args.class_metric!r} (choose from {', '.join(DATASET_METRICS)})")
    evaluation = found.evaluation
    split = evaluation.split if evaluation is not None else (args.split or "all")
    source = "both" if found.paper_table is not None and evaluation is not None else (
        "paper" if evaluation is None else "measured")
    link = dashboard_link("compare", dataset=args.table_id, split=split, source=source,
                          methods=",".join(args.methods) if args.methods else None, gap_method=args.gap_method,
                          gap_definition=args.gap_definition, uncertainty="1" if boot is not None else None)
    colors = workspace_colors(workspace, evaluation.scores) if evaluation is not None else {}
    sections = comparison_sections(table, evaluation, colors, args.class_metric, boot=boot)
    return html_document(table.title or f"{args.table_id}: comparison", sections,
                         Provenance(args.table_id, split, link, view="samis report"))


def _family_report(args, workspace) -> int:
    """``report DATASET --family``: evaluate every SAM-family method with maps, then the family table."""
    # lazy: evaluation (numpy, pandas) and the speed report (torch, only with --speed)
    from samis.datasets import load_dataset
    from samis.evaluation import evaluate_trusting_generation
    from samis.tables.family import family_methods, family_table

    if args.format not in ("table", "json", "csv", "markdown"):
        raise ReportError(f"--family writes table, json, csv or markdown, not {args.format}")
    if args.paper or args.rows or args.ci is not None:
        raise ReportError("--family shows the rows measured here: drop --paper, --rows and --ci")
    dataset = load_dataset(workspace, args.table_id)
    methods = family_methods(args.methods or workspace.prediction_methods(dataset.id))
    if not methods:
        raise ReportError(f"dataset {dataset.id!r} has no maps of SAM-family models; run `python -m samis sam "
                          f"{dataset.id} --model …` first")
    split = args.split or "all"
    with progress_printer(show_progress(args)) as progress:
        evaluation = evaluate_trusting_generation(workspace, dataset, methods, split, allow_missing=args.allow_missing,
                                                  progress=progress)
    fps = _family_fps(workspace, dataset.id, methods, args.device) if args.speed else None
    table = family_table(dataset.id, split, evaluation.scores, args.metrics, fps)
    text = table_text(table, args.format)
    return _emit(args, text)


def _family_fps(workspace, dataset_id: str, methods: list[str], device: str) -> dict[str, float]:
    """Model label → FPS, timed here on the dataset's images (models without weights here stay untimed)."""
    # torch: only when the family table is timed
    from samis.methods import describe
    from samis.speed import speed_report

    labels = sorted({describe(m).model.label for m in methods})
    speed = speed_report(workspace, labels, dataset_id, device=device, include_paper=False)
    return {row.method: row.fps for row in speed.rows if row.fps is not None}
