"""``clicks DATASET --model M`` — simulated clicks to a good mask: NoC@85/90, NoF, mIoU after k clicks."""

from __future__ import annotations

import csv
import io
import sys

from samis.commands._common import add_engine_arguments, engine_spec, format_name, print_json, progress_printer, show_progress
from samis.datasets import load_dataset
from samis.models import MODEL_CHOICES, get_model
from samis.sam.model_cache import ModelCache
from samis.text_table import text_table

FORMATS = ("json", "table", "csv", "markdown")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "clicks", help="simulate clicks on each defect until SAM's mask is good: NoC@85/90, NoF, mIoU after k clicks",
        description="The standard interactive-segmentation protocol (RITM, SimpleClick, SAM's paper): the first click "
                    "at the defect pixel farthest from its boundary, each next click at the centre of the larger error "
                    "(false negative: positive, false positive: negative); the model gets every click so far and its "
                    "previous low-resolution logits. The clicks come from the ground truth: an upper bound on what a "
                    "person would do. Cached per image: a killed run resumes.")
    parser.add_argument("dataset")
    parser.add_argument("--model", default="vit_h", choices=MODEL_CHOICES,
                        help="a model with point prompts; tiny, tiny-sam2, tiny-hq, tiny-evit are test-size models "
                             "with random weights (not the model's accuracy)")
    parser.add_argument("--checkpoint", metavar="PATH", help="checkpoint file (default: the workspace's official file)")
    parser.add_argument("--split", default="all", help="split to run on (all, train, test, …)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda[:N], mps")
    parser.add_argument("--max-clicks", default="20", metavar="N", help="clicks per image at most (1-100, default 20)")
    parser.add_argument("--iou", default="0.85,0.9", metavar="T[,T]", help="IoU targets of NoC (default 0.85,0.9)")
    parser.add_argument("--no-mask-input", action="store_true",
                        help="do not give the model its previous low-resolution logits as the mask prompt")
    add_engine_arguments(parser, gpus=True)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--format", type=format_name, choices=FORMATS, default="table",
                        help="json, table, csv or md (markdown)")
    parser.set_defaults(handler=_run)


def _run(args, workspace) -> int:
    # torch and the families' packages: only when clicks run
    from samis.prompts.adapters import check_clickable
    from samis.prompts.click_run import ClickRun, run_clicks
    from samis.prompts.clicks import check_max_clicks, check_targets

    model = get_model(args.model)
    check_clickable(model)  # every bad input is one line before anything is read or written
    max_clicks, targets = check_max_clicks(args.max_clicks), check_targets(args.iou)
    engine = engine_spec(args).checked()
    dataset = load_dataset(workspace, args.dataset)
    run = ClickRun(model, max_clicks, not args.no_mask_input, args.checkpoint, args.device, engine)
    with ModelCache().using(), progress_printer(show_progress(args)) as progress:
        result = run_clicks(workspace, dataset, run, split=args.split, progress=progress,
                            notify=lambda message: print(f"note: {message}", file=sys.stderr))
    document = result.document(targets)
    if args.format == "json":
        print_json(document)
    elif args.format == "csv":
        sys.stdout.write(_csv(document))
    else:
        print(_text(document, args.format == "markdown"))
    return 0


def _rows(document: dict) -> list[list[str]]:
    rows = []
    for target, value in document["noc"].items():
        low, high = document["noc_ci"][target]
        rows.append([f"NoC@{round(float(target) * 100)}", f"{value:.2f}", f"[{low:.2f}, {high:.2f}]",
                     f"NoF {document['nof'][target]}"])
    for k, (value, (low, high)) in enumerate(zip(document["miou_at"], document["miou_ci"]), start=1):
        rows.append([f"mIoU@{k}", f"{value:.3f}", f"[{low:.3f}, {high:.3f}]", ""])
    return rows


def _text(document: dict, markdown: bool) -> str:
    title = (f"{document['model']} on {document['dataset']} ({document['split']}): {len(document['images'])} images, "
             f"{document['skipped_defect_free']} defect-free skipped, up to {document['max_clicks']} clicks"
             f"{'' if document['mask_input'] else ', no mask input'}")
    header = ["result", "value", "95% interval", ""]
    rows = _rows(document)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---|---:|---|---|", *("| " + " | ".join(r) + " |" for r in rows)]
    else:
        lines = text_table(header, rows, right_columns={1})
    notes = [f"note: {document['note']}"] if document["note"] else []
    return "\n".join([title, *lines, document["interval"], *notes])


def _csv(document: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "dataset", "split", "result", "at", "value", "low", "high"])
    head = [document["model"], document["dataset"], document["split"]]
    for target, value in document["noc"].items():
        writer.writerow([*head, "NoC", target, value, *document["noc_ci"][target]])
        writer.writerow([*head, "NoF", target, document["nof"][target], "", ""])
    for k, (value, (low, high)) in enumerate(zip(document["miou_at"], document["miou_ci"]), start=1):
        writer.writerow([*head, "mIoU", k, value, low, high])
    return buffer.getvalue()
