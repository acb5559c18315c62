"""The box protocol's flags of ``sam`` (issue 24): ``--prompts box --box-jitter P[,P…] [--seed N[,N…]]`` and
``--prompts box --prompt-source METHOD``; kept here so ``sam``'s own module only hands them over."""

from __future__ import annotations

from dataclasses import replace

from samis.commands._common import comma_list, progress_printer
from samis.errors import SamError
from samis.stats import StatsError, check_seed


def add_box_arguments(parser) -> None:
    group = parser.add_argument_group("box prompts as a protocol (with --prompts box)")
    group.add_argument("--box-jitter", metavar="P[,P]", default=None,
                       help="move each side of each ground-truth box by a uniform draw in ±P %% of the box's width / "
                            "height, one method per P and seed (sam-<model>+box:jitter=P:seed=N; still upper bounds)")
    group.add_argument("--seed", metavar="N[,N]", default="0", help="the jitter's seeds (default 0)")
    group.add_argument("--prompt-source", metavar="METHOD", default=None,
                       help="boxes of the regions of METHOD's stored maps (≥ 128, 8-connected, image-level min area): "
                            "no ground truth (method sam-<model>+box:from=METHOD)")


def box_runs(args, model) -> list | None:
    """The box runs the flags ask for, checked (one line for bad input); None when no box-protocol flag is given.

    Raises:
        SamError: a flag without ``--prompts box``, a jitter below 0 (or above 100), a seed that is no whole number.
    """
    # torch (the model loaders): only when the box protocol runs
    from samis.prompts.adapters import check_promptable
    from samis.prompts.box_run import BoxRun
    from samis.prompts.jitter import check_jitter

    if args.box_jitter is None and args.prompt_source is None:
        return None
    if "box" not in (comma_list(args.prompts) or []):
        raise SamError("--box-jitter and --prompt-source go with --prompts box")
    if args.box_jitter is not None and args.prompt_source is not None:
        raise SamError("--box-jitter moves ground-truth boxes; --prompt-source takes boxes from another method's maps: "
                       "give one of them per run")
    check_promptable(model, "box", "--prompts box")
    common = dict(checkpoint=args.checkpoint, device=args.device)
    if args.prompt_source is not None:
        return [BoxRun(model, source=source, **common) for source in comma_list(args.prompt_source) or [""]]
    jitters = [check_jitter(value) for value in (comma_list(args.box_jitter) or [""])]
    try:
        seeds = [check_seed(value) for value in (comma_list(args.seed) or [""])]
    except StatsError as error:
        raise SamError(f"--seed: {error}") from None
    return [BoxRun(model, jitter=jitter, seed=seed, **common) for jitter in jitters for seed in seeds]


def run_boxes(workspace, dataset, runs, args, show: bool, engine) -> list:
    """Run each box method; returns the reports."""
    from samis.prompts.box_run import run_box_prompts  # torch: only when the box protocol runs

    reports = []
    for run in runs:
        with progress_printer(show) as progress:
            reports.append(run_box_prompts(workspace, dataset, replace(run, engine=engine), split=args.split,
                                           progress=progress))
        if args.format == "table":
            print(reports[-1].describe())
    return reports
