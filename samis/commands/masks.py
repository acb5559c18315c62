"""``masks DATASET IMAGE`` — one image's cached SAM masks and what each selection chose (the paper's Fig. 4).

Reads the mask cache and selection records only: no model is loaded, no torch is imported.
"""

from __future__ import annotations

import sys

from samis.commands._common import print_json
from samis.counts import add_count_argument
from samis.errors import SamError
from samis.methods import PROMPT_KINDS, SELECTION_STRATEGIES
from samis.outputs import write_output
from samis.figures import png_bytes
from samis.tables.render import json_text


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "masks", help="one image's cached SAM masks, the selection records, and a Fig. 4-style figure",
        description="Reads the compressed mask cache (never recomputes it). --format png writes image · all masks · "
                    "chosen masks · resulting map · ground truth; --format json prints the mask table and the "
                    "selection records. IoU with the ground truth is for looking only (it uses the ground truth).")
    parser.add_argument("dataset")
    parser.add_argument("image", help="image id (file stem)")
    parser.add_argument("--model", default=None,
                        help="SAM model key or label (tiny, vit_h, sam-vit_h, hiera_l, sam2.1-hiera_l, tiny-sam2 …); "
                             "default: the one model cached, else the first with masks of vit_h, vit_l, vit_b, "
                             "hiera_t … hiera_l, tiny, tiny-sam2")
    parser.add_argument("--strategy", default=None,
                        help=f"selection strategy or prompt kind ({', '.join([*SELECTION_STRATEGIES, *PROMPT_KINDS])}); "
                             "default: oracle when written, else the first written")
    parser.add_argument("--format", choices=("png", "json"), default="json")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (png needs it; json default: stdout)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mask colours")
    add_count_argument(parser, "--panel", "panel", default=256, help="long side of each figure panel in pixels")
    parser.set_defaults(handler=_run)


def default_model(workspace, dataset_id: str) -> str:
    """The model to show when none is named: the one cached (real SAM before the test-size one).

    Raises:
        SamError: no model has masks for the dataset (names the command that computes them).
    """
    # lazy: the mask explorer imports pandas, which the other commands' parsers do not need
    from samis.mask_explorer import cached_models

    models = cached_models(workspace, dataset_id)
    if not models:
        raise SamError(f"dataset {dataset_id!r} has no cached SAM masks; compute them with: "
                       f"python -m samis sam {dataset_id} --model vit_h --checkpoint sam_vit_h_4b8939.pth "
                       f"(or --model tiny for the test-size model with random weights)")
    return models[0]


def _run(args, workspace) -> int:
    # lazy: the mask explorer imports pandas, which the other commands' parsers do not need
    from samis.mask_explorer import explore_masks, explorer_document, fig4_figure

    model = args.model or default_model(workspace, args.dataset)
    explorer = explore_masks(workspace, args.dataset, args.image, model, metrics=True)
    how = args.strategy
    if how is None and args.format == "png":
        if not explorer.selections:
            raise SamError(f"no selection of {explorer.model.label} masks for image {args.image}; write one with: "
                           f"python -m samis sam {args.dataset} --model {explorer.model.key} --selection oracle")
        how = next((v.how for v in explorer.selections if v.how == "oracle"), explorer.selections[0].how)
    if how is not None:
        explorer.selection(how)  # an unknown or unwritten strategy is one error line
    for note in explorer.notes:
        print(f"note: {note}", file=sys.stderr)
    if explorer.model.random_weights:
        print(f"note: {explorer.model.label} has random weights: its masks test the pipeline, they say nothing "
              "about SAM", file=sys.stderr)
    if args.format == "png":
        if not args.output:
            raise SamError("--format png needs -o FILE")
        write_output(args.output, png_bytes(fig4_figure(explorer, how, seed=args.seed, panel=args.panel)))
        print(f"wrote {args.output}: {explorer.model.label} masks of {args.image} ({len(explorer.mask_set)}), "
              f"chosen by {how}")
        return 0
    document = explorer_document(explorer, how)
    if args.output:
        write_output(args.output, json_text(document))
        print(f"wrote {args.output}")
    else:
        print_json(document)
    return 0
