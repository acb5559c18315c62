"""``datasets add|list|remove`` — the workspace's dataset registry."""

from __future__ import annotations

from samis.commands._common import print_json
from samis.datasets import LAYOUTS, frozen_splits, load_dataset, open_dataset, register_dataset, survey_masks
from samis.errors import SamisError


def register(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="register and list datasets")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)

    add = actions.add_parser("add", help="register a dataset folder (read in place, never copied)")
    add.add_argument("id", help="dataset id, e.g. sd900, mt, nrsd-mn")
    add.add_argument("path", help="the dataset folder in its published layout")
    add.add_argument("--layout", choices=LAYOUTS, help="layout (default: detected from the folder)")
    add.add_argument("--include-defect-free", action="store_true",
                     help="mt: also load the 952 MT_Free images (empty ground truth)")
    add.add_argument("--replace", action="store_true", help="update an id that is already registered")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list registered datasets")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)

    remove = actions.add_parser("remove", help="forget a dataset (its folder and predictions stay on disk)")
    remove.add_argument("id")
    remove.set_defaults(handler=_remove)


def _add(args, workspace) -> int:
    options = {"include_defect_free": True} if args.include_defect_free else {}
    layout = args.layout
    if layout is None and args.id in LAYOUTS:
        layout = args.id
    # every mask is read once before registering, so an encoding the mask rule cannot read is
    # refused here (and nothing is registered), not in the middle of an evaluation
    survey = survey_masks(open_dataset(args.path, layout, args.id, options))
    dataset = register_dataset(workspace, args.id, args.path, layout, options, replace=args.replace)
    splits = frozen_splits(workspace, dataset)
    counts = ", ".join(f"{c} {n}" for c, n in dataset.class_counts().items())
    print(f"registered {dataset.id!r} ({dataset.layout}) at {dataset.root}: {len(dataset)} images ({counts})")
    print("splits: " + ", ".join(f"{name} {len(ids)}" for name, ids in splits.items()))
    for line in survey.describe():
        print(line)
    skipped = dataset.describe_skipped()
    if skipped:
        print(skipped)
    return 0


def _list(args, workspace) -> int:
    rows = []
    for dataset_id, entry in workspace.registered_datasets().items():
        row = {"id": dataset_id, "layout": entry.layout, "path": str(entry.path), "options": entry.options}
        try:
            dataset = load_dataset(workspace, dataset_id)
            row.update(n_images=len(dataset), classes=dataset.class_counts(), status="ok")
        except SamisError as error:
            row.update(n_images=None, classes={}, status=f"error: {error}")
        row["methods"] = workspace.prediction_methods(dataset_id)
        rows.append(row)
    if args.format == "json":
        print_json({"workspace": str(workspace.root), "datasets": rows})
        return 0
    if not rows:
        print(f"no datasets registered in {workspace.root}; add one with: python -m samis datasets add ID PATH")
        return 0
    for row in rows:
        classes = ", ".join(f"{c} {n}" for c, n in row["classes"].items())
        print(f"{row['id']:<12} {row['layout']:<8} {row['n_images'] if row['n_images'] is not None else '-':>6} images  "
              f"{row['path']}  [{row['status']}]")
        if classes:
            print(f"{'':<12} classes: {classes}")
        if row["methods"]:
            print(f"{'':<12} methods: {', '.join(row['methods'])}")
    return 0


def _remove(args, workspace) -> int:
    workspace.unregister_dataset(args.id)
    print(f"removed {args.id!r} from the registry (nothing deleted on disk)")
    return 0
