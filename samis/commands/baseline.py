"""``baseline DATASET METHOD [--split S]`` — compute built-in classical saliency baselines into the store."""

from __future__ import annotations

from samis.baselines import BASELINES, resolve_baselines
from samis.baselines.run import compute_baseline
from samis.commands._common import add_engine_arguments, engine_spec, print_json, progress_printer, show_progress
from samis.counts import add_count_argument
from samis.datasets import load_dataset
from samis.engines import engine_session


def register(subparsers) -> None:
    names = ", ".join(f"{b.name} ({b.title})" for b in BASELINES.values())
    parser = subparsers.add_parser(
        "baseline", help="compute built-in saliency baselines (ft, sr, hc, mbd, otsu) on a dataset",
        description=f"Built-in baselines: {names}. Maps are stored like any method's; a killed run resumes.")
    parser.add_argument("dataset", help="registered dataset id")
    parser.add_argument("method", help="baseline name, a comma list (ft,hc) or 'all'")
    parser.add_argument("--split", default="all", help="split to compute (default: all)")
    add_count_argument(parser, "--workers", "workers", default=None,
                        help="processes (default: all cores); with --engine ray, Ray workers (default: the cluster's CPUs)")
    add_engine_arguments(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=_run)


def _run(args, workspace) -> int:
    engine = engine_spec(args).checked()
    baselines = resolve_baselines(args.method)
    dataset = load_dataset(workspace, args.dataset)
    runs = []
    with engine_session(engine):  # one Ray for every baseline
        for baseline in baselines:
            with progress_printer(show_progress(args)) as progress:
                run = compute_baseline(workspace, dataset, baseline.name, args.split, progress=progress,
                                       workers=args.workers, engine=engine)
            runs.append(run)
            if args.format == "table":
                print(run.summary())
    if args.format == "json":
        print_json({"runs": [run.as_dict() for run in runs]})
    return 0
