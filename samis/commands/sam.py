"""``sam DATASET`` — run Segment Anything over a dataset, cache its masks, write saliency maps."""

from __future__ import annotations

import sys

from samis.commands._boxes import add_box_arguments, box_runs, run_boxes
from samis.commands._common import add_engine_arguments, comma_list, engine_spec, print_json, progress_printer, show_progress
from samis.counts import add_count_argument, whole_number_or_text
from samis.datasets import load_dataset
from samis.errors import SamError
from samis.sam.params import GENERATOR_PARAMS, GeneratorParam
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES
from samis.commands._sam3 import add_sam3_arguments, check_no_sam3_arguments, run_sam3_command
from samis.models import MODEL_CHOICES, SAM3_FAMILY, get_model
from samis.sam.model_cache import ModelCache


class _Default(str):
    """A default that reads as its text but tells "not given" apart from the same text typed (SAM 3 refuses a
    --selection a user gave, and has none by default)."""


DEFAULT_SELECTION = _Default("oracle")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sam", help="run SAM's automatic mask generator over a dataset and turn its masks into saliency maps",
        description="Masks are cached per image (resumable: run the same command again to continue); "
                    "then each --selection strategy writes method sam-<model>+<strategy>. "
                    "oracle, best-single, inside-gt, box and point use the ground truth: upper bounds.")
    parser.add_argument("dataset")
    parser.add_argument("--model", default="vit_h", choices=MODEL_CHOICES,
                        help="SAM type (vit_*) or SAM 2.1 type (hiera_*, run through the sam2 package); 'tiny' and "
                             "'tiny-sam2' are test-size models with random weights (not SAM), no checkpoint; SAM 3 "
                             "(sam3, tiny-sam3) is prompted with text or exemplars (--prompts, --vocabulary)")
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="checkpoint file (sam_vit_h_4b8939.pth …, sam2.1_hiera_large.pt …; default: the official "
                             "file in the workspace's checkpoints/ folder, where `checkpoints download` puts it)")
    parser.add_argument("--split", default="all", help="split to run on (all, train, test, …)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda[:N], mps")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"), help="bf16 autocast (CUDA only)")
    add_generator_arguments(parser)
    # checked with the counts before anything runs (no demo built for a --points-per-side typo)
    parser.set_defaults(_declared_checks=tuple((param.check, param.name) for param in GENERATOR_PARAMS
                                               if param.kind is int))
    parser.add_argument("--selection", default=DEFAULT_SELECTION,
                        help=f"comma list of strategies: {', '.join(SELECTION_STRATEGIES)}, or 'none' (default oracle, the paper's)")
    parser.add_argument("--prompts", default=None,
                        help="also run prompted SAM: box, point or box,point; SAM 3 (tiny-sam3, sam3): text (default), "
                             "exemplar, box, point")
    add_box_arguments(parser)
    add_sam3_arguments(parser)
    parser.add_argument("--cache-embeddings", action="store_true",
                        help="keep image embeddings so a later run with other thresholds skips the image encoder")
    add_engine_arguments(parser, gpus=True)
    add_count_argument(parser, "--workers", "workers", default=None,
                        help="with --engine ray: Ray workers, each loading the model once (default: one per GPU, "
                             "or one per CPU where there is no GPU)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (none is drawn unless stderr is a terminal)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=_run)


def add_generator_arguments(parser) -> None:
    """One flag per generator parameter, from its declaration (:data:`samis.sam.params.GENERATOR_PARAMS`).

    A parameter both generators default alike shows that default; one whose default differs (or that only
    SAM 2.1 has) defaults to None, the model's own default, and says each family's in its help.
    """
    sam2_group = parser.add_argument_group("SAM 2.1 only (SAM2AutomaticMaskGenerator)")
    hq_group = parser.add_argument_group("HQ-SAM only (segment_anything_hq)")
    for param in GENERATOR_PARAMS:
        group = sam2_group if param.sam2_only else hq_group if param.hq_only else parser
        group.add_argument(param.cli_flag, dest=param.name, **_flag_options(param))


def _flag_options(param: GeneratorParam) -> dict:
    if param.kind is bool:  # a switch that flips the default: --use-m2m on, --single-mask off
        action = "store_false" if param.default else "store_true"
        return {"action": action, "default": None, "help": param.help}
    limits = f"{param.range_text()}"
    kind = whole_number_or_text if param.kind is int else param.kind  # 1e9 and 1000000000: the same answer
    if param.same_default and not param.hq_only:
        return {"type": kind, "default": param.default, "help": f"{param.help}; {limits} (default %(default)s)"}
    if param.sam2_only:
        return {"type": kind, "default": None,
                "help": f"{param.help}; {limits} (default {param.default_for(True)})"}
    return {"type": kind, "default": None,
            "help": f"{param.help}; {limits} (default {param.default_for(False)} for SAM, {param.default_for(True)} "
                    "for SAM 2.1: each generator's own)"}


def _masks_kept(report) -> int | None:
    """How many masks the run's cache files of this split hold together (None: not known)."""
    from samis.sam.masks import read_resumable_provenance  # numpy zip reading: only after a run

    total = 0
    for image_id in [*report.computed, *report.skipped]:
        provenance = read_resumable_provenance(report.cache_dir / f"{image_id}.npz") if report.cache_dir else None
        if provenance is None or not isinstance(provenance.get("n_masks"), int):
            return None
        total += provenance["n_masks"]
    return total


def _zero_masks_note(model, params) -> str:
    """Why a run kept no mask, and the flags that keep masks."""
    thresholds = {p.name: p for p in GENERATOR_PARAMS if p.name in ("pred_iou_thresh", "stability_score_thresh")}
    values = ", ".join(f"{p.cli_flag} {getattr(params, name, '?')}" for name, p in thresholds.items())
    reason = (f"{model.label} has random weights, so its predicted IoU and stability scores are near 0 and "
              if model.random_weights else "")
    flags = " ".join(f"{p.cli_flag} 0" for p in thresholds.values())
    return (f"0 masks kept: {reason}every mask fell below the thresholds ({values}). Masks are kept with lower "
            f"thresholds, e.g. {flags} (then run the selection again).")


def _run(args, workspace) -> int:
    with ModelCache().using():  # this run's models: loaded once for the masks and the prompts, freed at the end
        return _run_with_models(args, workspace)


def _run_with_models(args, workspace) -> int:
    from samis.sam.run import SamRun, run_sam_over_dataset, write_sam_maps  # torch: only when SAM runs

    model = get_model(args.model)
    if model.code is SAM3_FAMILY:
        return run_sam3_command(args, workspace, model)
    check_no_sam3_arguments(args, model)
    strategies = comma_list(args.selection) or []
    strategies = [] if strategies == ["none"] else strategies
    unknown = [s for s in strategies if s not in SELECTION_STRATEGIES]
    if unknown:
        raise SamError(f"unknown selection strategy {unknown[0]!r}; choose from {', '.join(SELECTION_STRATEGIES)} or none")
    prompts = comma_list(args.prompts) or []
    bad = [p for p in prompts if p not in PROMPT_KINDS]
    if bad:
        raise SamError(f"unknown prompt kind {bad[0]!r}; choose from {', '.join(PROMPT_KINDS)}")
    params = model.params({param.name: getattr(args, param.name) for param in GENERATOR_PARAMS})
    if args.engine == "local" and args.workers is not None:
        raise SamError("--workers applies to --engine ray (a local SAM run is one process)")
    boxes = box_runs(args, model)  # the box protocol's flags, checked with the others
    engine = engine_spec(args).checked()  # before anything is read or written
    dataset = load_dataset(workspace, args.dataset)
    show = show_progress(args)
    if boxes is not None:
        prompts = [p for p in prompts if p != "box"]  # box means the protocol's methods in this run
        if not strategies and not prompts:  # nothing needs the automatic masks
            reports = run_boxes(workspace, dataset, boxes, args, show, engine)
            if args.format == "json":
                print_json({"run": None, "selection": [], "prompts": [], "boxes": [r.as_dict() for r in reports]})
            return 0
    with progress_printer(show) as progress:
        run = SamRun(model, params, checkpoint=args.checkpoint, device=args.device, dtype=args.dtype,
                     cache_embeddings=args.cache_embeddings)
        report = run_sam_over_dataset(workspace, dataset, run, split=args.split, progress=progress,
                                      notify=lambda message: print(f"note: {message}", file=sys.stderr),
                                      engine=engine)
    document = {"run": {"dataset": report.dataset, "model": report.model, "split": report.split,
                        "computed": len(report.computed), "cached": len(report.skipped), "total": report.total,
                        "images_per_second": report.images_per_second, "cache_dir": str(report.cache_dir),
                        "notices": report.notices},
                "selection": [], "prompts": []}
    kept = _masks_kept(report)
    if kept == 0:
        why = _zero_masks_note(model, params)
        document["run"]["notices"] = [*report.notices, why]
        print(f"note: {why}", file=sys.stderr)
    if args.format == "table":
        print(report.describe())
        if model.random_weights:
            print(f"note: {model.label} has random weights: its maps test the pipeline, "
                  f"they say nothing about {model.family_title}")
    for how in [*strategies, *prompts]:
        with progress_printer(show) as progress:
            written = write_sam_maps(workspace, dataset, model, how, split=args.split, checkpoint=args.checkpoint,
                                     device=args.device, progress=progress)
        if how in PROMPT_KINDS:
            document["prompts"].append({"method": written.method, "images": written.images,
                                        "upper_bound": True, "seconds": written.seconds})
        else:
            document["selection"].append({"method": written.method, "images": written.images,
                                          "upper_bound": written.upper_bound, "mean_iou": written.mean_iou,
                                          "parameters": written.parameters, "seconds": written.seconds})
        if args.format == "table":
            print(written.describe())
    if boxes is not None:
        document["boxes"] = [r.as_dict() for r in run_boxes(workspace, dataset, boxes, args, show, engine)]
    if args.format == "json":
        print_json(document)
    return 0
