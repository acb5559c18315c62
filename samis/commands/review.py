"""``review add|remove|list|sets|export`` — tags, notes and review sets of a dataset's cases."""

from __future__ import annotations

import sys
import time

from samis.commands._common import print_json
from samis.datasets import load_dataset
from samis.errors import SamisError
from samis.outputs import write_output
from samis.review import DEFAULT_TAGS, ReviewError, ReviewStore, check_author, default_author, exclude_tagged
from samis.review_export import DEFAULT_THRESHOLD, EXPORT_FORMATS, ExportRequest, check_target, check_threshold, export_cases
from samis.text_table import text_table


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "review", help="tags and notes on cases, review sets, exports to annotation tools",
        description="Tags and notes on an image (or an image x method), kept in the workspace's review store "
                    f"(review.sqlite). Default tags: {', '.join(DEFAULT_TAGS)}; any other tag is allowed. The author "
                    "is --author, else $SAMIS_USER, else the OS user.")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    for name, verb in (("add", "tag an image (and/or write a note)"), ("remove", "remove a tag (the audit keeps it)")):
        action = actions.add_parser(name, help=verb)
        action.add_argument("dataset")
        action.add_argument("image", help="image id")
        action.add_argument("--method", default="", help="tag the image x method instead of the image")
        action.add_argument("--tag", action="append", default=[], metavar="T", help="a tag (repeatable)")
        if name == "add":
            action.add_argument("--note", metavar="TEXT", help="a note (at most 10,000 characters)")
        action.add_argument("--author", metavar="NAME", help="who (default: $SAMIS_USER, else the OS user)")
        action.set_defaults(handler=_add if name == "add" else _remove)

    listing = actions.add_parser("list", help="tags and notes of a dataset")
    listing.add_argument("dataset")
    listing.add_argument("--tag", metavar="T", help="only this tag")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)

    sets = actions.add_parser("sets", help="review sets of a dataset")
    sets.add_argument("dataset")
    sets.add_argument("--format", choices=("table", "json"), default="table")
    sets.set_defaults(handler=_sets)

    export = actions.add_parser("export", help="the tagged cases with their notes, for a spreadsheet or an annotation tool")
    export.add_argument("dataset")
    export.add_argument("--set", dest="set_name", metavar="NAME", help="the images of this review set")
    export.add_argument("--tag", metavar="T", help="the images with this tag")
    export.add_argument("--method", metavar="M", help="add this method's mask (coco, label-studio, cvat)")
    export.add_argument("--threshold", default=str(DEFAULT_THRESHOLD), metavar="T",
                        help="the method's mask is map/255 >= T (default 0.5)")
    export.add_argument("--image-root", metavar="URL_OR_PATH", help="where the tool finds the images (default: their paths)")
    export.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    export.add_argument("-o", "--output", metavar="FILE", required=True, help="the file to write ('-': standard output)")
    export.set_defaults(handler=_export)


def add_exclude_tag_argument(parser) -> None:
    """``--exclude-tag TAG`` (repeatable) on a scoring command: images with the tag are left out of the scores."""
    parser.add_argument("--exclude-tag", action="append", default=[], metavar="TAG", dest="exclude_tags",
                        help="leave out images tagged TAG in the review store (e.g. 'gt error'; repeatable); "
                             "the output says how many and by whose tags, intervals and tests use the same images")


def left_out_tagged(args, workspace, result, say: bool = True):
    """``result`` less the images tagged with ``--exclude-tag`` (unchanged without the flag); with ``say``, the
    line saying what was left out goes to stderr too."""
    if not getattr(args, "exclude_tags", None):
        return result
    result = exclude_tagged(result, ReviewStore(workspace.root, read_only=True), args.exclude_tags)
    if say:
        print(f"note: {result.left_out}", file=sys.stderr)
    return result


def _author(args) -> str:
    return check_author(args.author) if args.author is not None else default_author()


def _target(args, workspace):
    """The dataset, checked image and method, before anything is written."""
    dataset = load_dataset(workspace, args.dataset)
    check_target(workspace, dataset, args.image, args.method)
    return dataset


def _add(args, workspace) -> int:
    author = _author(args)
    if not args.tag and not args.note:
        raise ReviewError("give --tag T and/or --note TEXT")
    _target(args, workspace)
    store = ReviewStore(workspace.root)
    for tag in args.tag:
        added = store.add_tag(args.dataset, args.image, tag, method=args.method, author=author)
        print(f"{'tagged' if added else 'already tagged'} {args.image}{' x ' + args.method if args.method else ''}: "
              f"{tag.strip()}", file=sys.stderr)
    if args.note:
        store.add_note(args.dataset, args.image, args.note, method=args.method, author=author)
        print(f"note added to {args.image}", file=sys.stderr)
    return 0


def _remove(args, workspace) -> int:
    author = _author(args)
    if not args.tag:
        raise ReviewError("give the tag to remove with --tag T")
    _target(args, workspace)
    store = ReviewStore(workspace.root)
    for tag in args.tag:
        removed = store.remove_tag(args.dataset, args.image, tag, method=args.method, author=author)
        print(f"{'removed' if removed else 'not tagged'} {args.image}: {tag.strip()}", file=sys.stderr)
    return 0


def _list(args, workspace) -> int:
    store = ReviewStore(workspace.root)
    tags = store.tags(args.dataset, tag=args.tag)
    notes = [] if args.tag else store.notes(args.dataset)
    if args.format == "json":
        print_json({"dataset": args.dataset,
                    "tags": [{"image": t.image, "method": t.method, "tag": t.tag, "author": t.author,
                              "created": t.created} for t in tags],
                    "notes": [{"image": n.image, "method": n.method, "text": n.text, "author": n.author,
                               "created": n.created} for n in notes]})
        return 0
    rows = [[t.image, t.method, "tag", t.tag, t.author, _when(t.created)] for t in tags]
    rows += [[n.image, n.method, "note", _one_line(n.text), n.author, _when(n.created)] for n in notes]
    if not rows:
        print(f"{args.dataset}: nothing reviewed yet{' with tag ' + repr(args.tag) if args.tag else ''}")
        return 0
    print("\n".join(text_table(["image", "method", "kind", "text", "author", "time"], rows, ())))
    return 0


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _sets(args, workspace) -> int:
    sets = ReviewStore(workspace.root).sets(args.dataset)
    if args.format == "json":
        print_json([{"name": s.name, "description": s.description, "filter": s.filter, "author": s.author,
                     "created": s.created, "images": list(s.images)} for s in sets])
        return 0
    if not sets:
        print(f"{args.dataset}: no review sets yet (save one from the Cases page)")
        return 0
    rows = [[s.name, str(len(s.images)), s.author, _when(s.created), _one_line(s.description, 60)] for s in sets]
    print("\n".join(text_table(["set", "images", "author", "time", "description"], rows, (1,))))
    return 0


def _export(args, workspace) -> int:
    request = ExportRequest(args.format, args.set_name, args.tag, args.method, check_threshold(args.threshold),
                            args.image_root)
    dataset = load_dataset(workspace, args.dataset)
    text, count = export_cases(workspace, dataset, ReviewStore(workspace.root), request)
    if count == 0:
        raise SamisError(f"{args.dataset}: no reviewed cases to export (tag some, or name a set or tag that has images)")
    if args.output == "-":
        sys.stdout.write(text)
    else:
        write_output(args.output, text)
        print(f"wrote {count} cases to {args.output}", file=sys.stderr)
    return 0
