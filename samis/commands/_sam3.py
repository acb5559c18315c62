"""SAM 3's options of the ``sam`` command: ``--prompts text [--vocabulary …] [--text-per-class]``, exemplar, box,
point; ``--score-threshold``, ``--combine`` (see :mod:`samis.sam.text_prompts`)."""

from __future__ import annotations

from samis.commands._common import comma_list, engine_spec, print_json, progress_printer, show_progress
from samis.datasets import load_dataset
from samis.errors import SamError
from samis.sam.text_prompts import (
    COMBINES,
    DEFAULT_SCORE_THRESHOLD,
    SAM3_MODES,
    Sam3Request,
    default_vocabulary,
    parse_vocabulary,
)

#: the flags only SAM 3 takes, with the values that mean "not given"
SAM3_FLAGS = {"vocabulary": None, "text_per_class": False, "score_threshold": None, "combine": None}


def add_sam3_arguments(parser) -> None:
    group = parser.add_argument_group("SAM 3 only (--model tiny-sam3 or sam3)")
    group.add_argument("--vocabulary", metavar="TERMS",
                       help="comma list of text prompts, every one given to every image (deployable; default: the "
                            "dataset's defect class names, Magnetic Tile's defect-free class not among them)")
    group.add_argument("--text-per-class", action="store_true",
                       help="give each image only its own class's name (reads the image's label: an upper bound, †)")
    group.add_argument("--score-threshold", type=float, default=None,
                       help=f"instances scoring below this are dropped (default {DEFAULT_SCORE_THRESHOLD})")
    group.add_argument("--combine", choices=COMBINES, default=None,
                       help="a map is the per-pixel maximum of score × mask (max, default) or the instances' union")


def check_no_sam3_arguments(args, model) -> None:
    """Raises SamError (one line) for a SAM 3 flag given with another family's model."""
    given = [name for name, unset in SAM3_FLAGS.items() if getattr(args, name, unset) != unset]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise SamError(f"{flag} is a SAM 3 option; {model.family_title} ({model.key}) has no text prompts "
                       "(use --model tiny-sam3 or sam3)")


def sam3_requests(args, dataset) -> list[Sam3Request]:
    """One request per ``--prompts`` kind (text by default), checked before anything runs."""
    kinds = comma_list(args.prompts) or ["text"]
    bad = [kind for kind in kinds if kind not in SAM3_MODES or kind == "text-own"]
    if bad:
        raise SamError(f"--prompts: SAM 3 has no {bad[0]!r} mode; it has text, exemplar, box, point")
    if args.text_per_class and args.vocabulary is not None:
        raise SamError("--text-per-class gives each image its own class name; it takes no --vocabulary")
    threshold = DEFAULT_SCORE_THRESHOLD if args.score_threshold is None else args.score_threshold
    requests = []
    for kind in kinds:
        vocabulary: tuple[str, ...] = ()
        if kind == "text" and not args.text_per_class:
            vocabulary = (parse_vocabulary(args.vocabulary) if args.vocabulary is not None
                          else default_vocabulary(dataset))
        mode = "text-own" if kind == "text" and args.text_per_class else kind
        if mode == "text-own":
            vocabulary = default_vocabulary(dataset)  # the terms the images' own classes give (none: refused)
        requests.append(Sam3Request(mode, vocabulary, threshold, args.combine or "max").checked())
    return requests


def run_sam3_command(args, workspace, model) -> int:
    """``sam DATASET --model tiny-sam3|sam3 [--prompts …]``: SAM 3's maps for each prompt kind."""
    from samis.sam.sam3_run import run_sam3_over_dataset  # torch and sam3: only when SAM 3 runs

    if args.selection is not None and type(args.selection) is str:  # given: the default is a str subclass
        raise SamError(f"--selection: {model.family_title} has no automatic masks to select from; it is prompted "
                       "(--prompts text, exemplar, box, point)")
    if args.cache_embeddings:
        raise SamError("--cache-embeddings is for SAM models only; SAM 3 runs its own package's processor")
    if args.engine == "local" and args.workers is not None:
        raise SamError("--workers applies to --engine ray (a local SAM run is one process)")
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    requests = sam3_requests(args, dataset)
    reports = []
    for request in requests:
        with progress_printer(show_progress(args)) as progress:
            report = run_sam3_over_dataset(workspace, dataset, model, request, split=args.split,
                                           load=(args.checkpoint, args.device), engine=engine,
                                           progress=progress)
        reports.append(report)
        if args.format == "table":
            print(report.describe())
            if request.mode == "text":
                print(f"vocabulary: {', '.join(request.vocabulary)}")
    if args.format == "table" and model.random_weights:
        print(f"note: {model.label} has random weights: its maps test the pipeline, they say nothing about SAM 3")
    if args.format == "json":
        print_json({"prompts": [{**report.as_dict(), "vocabulary": list(request.vocabulary) or None}
                                for report, request in zip(reports, requests)]})
    return 0
