"""``checkpoints list|download|verify`` — the official checkpoints of every family (SAM, SAM 2.1, HQ-SAM,
EfficientViT-SAM, SAM 3): what exists, fetch, check. SAM 3's weights are gated: ``download sam3`` goes through
huggingface_hub with the user's own token (:mod:`samis.sam3_download`).

``list`` and ``download`` import no torch; ``verify`` (and the download of a model without a published
hash) loads the weights to tell their model type.
"""

from __future__ import annotations

from pathlib import Path

from samis.checkpoint_download import (
    MIRROR_VARIABLE,
    download_checkpoint,
    list_checkpoints,
    md5_cache_file,
    verify_checkpoint,
)
from samis.commands._common import print_json, progress_printer, show_progress
from samis.models import checkpoint_catalogue
from samis.sam3_download import download_sam3
from samis.families.sam3 import HF_FILE


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "checkpoints", help="official SAM, SAM 2.1, HQ-SAM and EfficientViT-SAM checkpoints: list, download "
                            "(resumable, checked), verify",
        description=f"Checkpoints live in <workspace>/checkpoints/. {MIRROR_VARIABLE}=http://host/path/ replaces "
                    "the official base URL.")
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)

    listing = actions.add_parser("list", help="every known model: file, size, hash, URL, and what the workspace holds")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)

    download = actions.add_parser(
        "download", help="download an official checkpoint (resumes an interrupted download; checks size and hash)")
    download.add_argument("model", help=f"one of {', '.join(checkpoint_catalogue())} (or its file name)")
    download.add_argument("--to", metavar="DIR", help="target folder (default <workspace>/checkpoints)")
    download.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)")
    download.add_argument("--no-progress", action="store_true", help="no progress bar (none is drawn unless stderr is a terminal)")
    download.add_argument("--format", choices=("table", "json"), default="table")
    download.set_defaults(handler=_download)

    verify = actions.add_parser("verify", help="size, MD5 and the model type of a checkpoint file")
    verify.add_argument("path")
    verify.add_argument("--format", choices=("table", "json"), default="table")
    verify.set_defaults(handler=_verify)


def _size_text(facts) -> str:
    if facts.size is not None:
        return f"{facts.size:,}"
    return f"~{facts.approx_size / 1e6:.0f} MB"


def _list(args, workspace) -> int:
    statuses = list_checkpoints(workspace.checkpoints_dir)
    if args.format == "json":
        print_json({"folder": str(workspace.checkpoints_dir), "checkpoints": [s.as_dict() for s in statuses]})
        return 0
    rows = [("model", "file", "bytes", "hash", "in workspace")]
    rows += [(s.facts.model, s.facts.file, _size_text(s.facts), s.facts.hash_text, s.state) for s in statuses]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print()
    print(f"folder: {workspace.checkpoints_dir}")
    for status in statuses:
        print(f"{status.facts.model}: {status.facts.url}" + (f"  ({status.note})" if status.note else ""))
    print("SAM: the 6 hex digits in each file name are the start of its MD5 (prefix only; no full hash is published), "
          "so a file is 'checked', not 'verified'")
    print("SAM 2.1: sizes are approximate and no hash is published here; a download is checked for completeness "
          "(Content-Length) and loadable weights of the right model")
    return 0


def _download(args, workspace) -> int:
    folder = Path(args.to) if args.to else workspace.checkpoints_dir
    if args.model in ("sam3", HF_FILE):  # gated on Hugging Face: the user's own token, through huggingface_hub
        report = download_sam3(folder)
        print_json(report.as_dict()) if args.format == "json" else print(report.describe())
        return 0
    with progress_printer(show_progress(args)) as progress:
        report = download_checkpoint(args.model, folder, progress=progress, timeout=args.timeout,
                                     hash_cache=md5_cache_file(workspace))
    if args.format == "json":
        print_json(report.as_dict())
    else:
        print(report.describe())
    return 0


def _verify(args, workspace) -> int:
    report = verify_checkpoint(args.path, hash_cache=md5_cache_file(workspace))
    if args.format == "json":
        print_json(report.as_dict())
    else:
        print(report.describe())
    return 0
