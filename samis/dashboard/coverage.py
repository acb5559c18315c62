"""What a workspace holds: datasets and, per dataset × method, how many maps exist and are scored.

Plain functions over the workspace (no Streamlit), read by the Overview page. They only list
folders and read small headers, so they are cheap enough to run on every change of the workspace.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samis.datasets import load_dataset
from samis.errors import SamisError
from samis.results_store import SUFFIX, ArrowException, read_rows
from samis.store import MANIFEST, prediction_files, read_manifest
from samis.workspace import Workspace


@dataclass
class DatasetStatus:
    """One registered dataset as found now."""

    id: str
    layout: str
    path: Path
    images: int | None  # None when the dataset cannot be loaded
    classes: dict[str, int]
    splits: dict[str, int]  # counts from the frozen split file, when made
    error: str = ""


@dataclass
class CoverageCell:
    """Predictions of one method on one dataset."""

    dataset: str
    method: str
    maps: int  # maps stored for images of the dataset
    images: int | None  # images in the dataset (None: the dataset cannot be loaded)
    scored: int  # images with cached per-image results
    source: str  # manifest "source": import, baseline, sam, …

    @property
    def status(self) -> str:
        if self.images is None:
            return "dataset unavailable"
        if self.maps == 0:
            return "no maps"
        return "complete" if self.maps >= self.images else "partial"


def dataset_statuses(workspace: Workspace) -> list[DatasetStatus]:
    """Every registered dataset with its image count, classes and frozen split counts (errors kept as text)."""
    statuses = []
    for dataset_id, entry in workspace.registered_datasets().items():
        splits: dict[str, int] = {}
        try:
            document = json.loads(workspace.split_file(dataset_id).read_text(encoding="utf-8"))
            splits = {k: int(v) for k, v in document.get("counts", {}).items()}
        except (OSError, ValueError, AttributeError):
            pass  # splits are made on first use
        try:
            dataset = load_dataset(workspace, dataset_id)
        except SamisError as error:
            statuses.append(DatasetStatus(dataset_id, entry.layout, entry.path, None, {}, splits, str(error)))
            continue
        statuses.append(DatasetStatus(dataset_id, entry.layout, entry.path, len(dataset), dataset.class_counts(), splits))
    return statuses


def _scored_stems(workspace: Workspace, dataset_id: str, method: str) -> set[str]:
    """Images with a stored evaluation row: the ``image`` column of the results store only (read-only;
    a cache of before the store, not migrated yet, is read as it is)."""
    folder = workspace.results_dir(dataset_id)
    try:
        return set(read_rows(folder / f"{method}{SUFFIX}").column("image").to_pylist())
    except (OSError, ArrowException):
        pass
    try:
        with np.load(folder / f"{method}.npz", allow_pickle=False) as data:
            return set(data["stems"].tolist())
    except (OSError, KeyError, ValueError, EOFError):
        return set()


def coverage(workspace: Workspace) -> list[CoverageCell]:
    """One cell per (registered dataset, method with a prediction folder)."""
    cells = []
    for dataset_id in workspace.registered_datasets():
        try:
            ids = {s.id for s in load_dataset(workspace, dataset_id).samples}
        except SamisError:
            ids = None
        for method in workspace.prediction_methods(dataset_id):
            files = prediction_files(workspace, dataset_id, method)
            maps = len(files) if ids is None else len(ids & set(files))
            scored = _scored_stems(workspace, dataset_id, method)
            scored_count = len(scored) if ids is None else len(ids & scored & set(files))
            source = str(read_manifest(workspace, dataset_id, method).get("source", ""))
            cells.append(CoverageCell(dataset_id, method, maps, None if ids is None else len(ids), scored_count, source))
    return cells


def coverage_matrix(cells: list[CoverageCell]) -> pd.DataFrame:
    """Methods × datasets, each cell a short text: ``900/900 complete, scored 900``."""
    if not cells:
        return pd.DataFrame()
    rows: dict[str, dict[str, str]] = {}
    for cell in cells:
        total = "?" if cell.images is None else str(cell.images)
        text = f"{cell.maps}/{total} {cell.status}"
        text += f", scored {cell.scored}" if cell.scored else ", not scored"
        rows.setdefault(cell.method, {})[cell.dataset] = text
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame.index.name = "method"
    return frame.fillna("–")


def workspace_fingerprint(workspace: Workspace, dataset_id: str | None = None) -> str:
    """A cheap key that changes whenever predictions, the registry or splits change.

    It hashes file stats (size, mtime) of the registry, the split files, the prediction folders and
    their manifests: an atomic write renames a file into its folder, which changes the folder's
    mtime, so a new or replaced map changes the key without reading any image. Results files are
    left out on purpose: they are derived from the maps, and leaving them out keeps the key stable
    when an evaluation fills the results cache.
    """
    parts: list[str] = []

    def add(path: Path) -> None:
        try:
            stat = path.stat()
            parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{path}:-")

    add(workspace.datasets_file)
    try:
        entries = workspace.registered_datasets()
    except SamisError:
        entries = {}
    ids = [dataset_id] if dataset_id else list(entries)
    for ds in ids:
        if ds in entries:
            add(entries[ds].path)
        add(workspace.split_file(ds))
        folder = workspace.predictions_dir(ds)
        add(folder)
        if folder.is_dir():
            for method_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                add(method_dir)
                add(method_dir / MANIFEST)
    return hashlib.blake2b("\n".join(parts).encode("utf-8"), digest_size=12).hexdigest()
