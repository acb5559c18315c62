"""``predictions import|list`` — bring saliency maps of any method into the store."""

from __future__ import annotations

import sys

from samis.commands._common import comma_list, print_json, progress_printer, show_progress
from samis.datasets import load_dataset
from samis.store import import_predictions, prediction_files, read_manifest


def register(subparsers) -> None:
    parser = subparsers.add_parser("predictions", help="import and list stored saliency maps")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)

    imp = actions.add_parser("import", help="copy a folder of maps into the store (8-bit, ground-truth size)")
    imp.add_argument("dataset")
    imp.add_argument("method", help="method name (letters, digits, . _ + - ; no '/' or '..')")
    imp.add_argument("folder", help="folder of maps named like the images (.png, .jpg, .bmp …)")
    imp.add_argument("--skip-unreadable", action="store_true", help="import readable maps, list the rest")
    imp.add_argument("--prefer-ext", metavar="EXT[,EXT…]",
                     help="for names with several image files (a.png and a.jpg): the extension to import, "
                          "in order of preference; without it such names are refused")
    imp.add_argument("--format", choices=("table", "json"), default="table")
    imp.set_defaults(handler=_import)

    listing = actions.add_parser("list", help="methods with stored maps for a dataset")
    listing.add_argument("dataset")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)


def _import(args, workspace) -> int:
    dataset = load_dataset(workspace, args.dataset)
    with progress_printer(show_progress(args)) as progress:
        report = import_predictions(workspace, dataset, args.method, args.folder, skip_unreadable=args.skip_unreadable,
                                    progress=progress, prefer_ext=comma_list(args.prefer_ext))
    if args.format == "json":
        print_json(report.as_dict())
    else:
        print(report.describe())
    if report.missing:
        print(f"note: {len(report.missing)} images have no map; evaluate refuses this method "
              "unless --allow-missing", file=sys.stderr)
    return 0


def _list(args, workspace) -> int:
    dataset = load_dataset(workspace, args.dataset)
    rows = []
    for method in workspace.prediction_methods(dataset.id):
        files = prediction_files(workspace, dataset.id, method)
        present = len(set(files) & {s.id for s in dataset.samples})
        manifest = read_manifest(workspace, dataset.id, method)
        rows.append({"method": method, "maps": present, "images": len(dataset),
                     "complete": present == len(dataset), "source": manifest.get("source", "?")})
    if args.format == "json":
        print_json({"dataset": dataset.id, "methods": rows})
    else:
        for row in rows:
            state = "complete" if row["complete"] else "partial"
            print(f"{row['method']:<28} {row['maps']:>6}/{row['images']:<6} {state:<9} {row['source']}")
    return 0
