"""Predictions on disk: ``predictions/<dataset>/<method>/<stem>.png`` + ``manifest.json``.

Every map is stored as 8-bit grayscale at ground-truth size. Writes are atomic: single maps go
through a temp file + ``os.replace``; a whole import is built in a hidden temp folder and swapped
in at the end, so a killed import leaves the previous predictions untouched.

Every manifest write (an import, a baseline run, a SAM selection or prompt run) records a new
``generation`` token; with the folder's identity it names one version of a method's maps
(:func:`method_generation`), which an evaluation reads before and after its run to know that it
read one version only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from samis import __version__
from samis.datasets import Dataset
from samis.errors import StoreError
from samis.file_stats import StatPaths, listed_with_stats, listed_with_stats_many
from samis.imageio import (IMAGE_EXTENSIONS, ImageReadError, apply_default_mode, image_size, naming, read_map, write_png_atomic, write_text_atomic)
from samis.recovery import RETIRED_PREFIX, STAGING_PREFIX, move_aside, recover_interrupted_imports
from samis.runs import ProgressCallback, ProgressTracker, Report
from samis.workspace import Workspace, validate_name

MANIFEST = "manifest.json"


def to_uint8_map(saliency: np.ndarray) -> np.ndarray:
    """A saliency map as uint8: floats in [0, 1] are scaled by 255 and rounded; uint8 passes through."""
    saliency = np.asarray(saliency)
    if saliency.ndim != 2:
        raise StoreError(f"a saliency map must be 2-D, got shape {saliency.shape}")
    if saliency.dtype == np.uint8:
        return saliency
    if saliency.dtype == bool:
        return saliency.astype(np.uint8) * 255
    values = np.nan_to_num(saliency.astype(np.float64), nan=0.0)
    return (values.clip(0.0, 1.0) * 255.0).round().astype(np.uint8)


def resize_map(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an 8-bit map to (height, width)."""
    return np.asarray(Image.fromarray(array).resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.uint8)


def prediction_files(workspace: Workspace, dataset_id: str, method: str) -> dict[str, Path]:
    """Stored prediction files of a method, by stem (empty when there are none)."""
    folder = workspace.method_dir(dataset_id, method)
    if not folder.is_dir():
        return {}
    with os.scandir(folder) as entries:
        return {e.name[:-4]: folder / e.name for e in entries if e.name.endswith(".png") and not e.name.startswith(".")}


def prediction_paths(workspace: Workspace, dataset_id: str, method: str, stats: bool = False) -> dict[str, str]:
    """:func:`prediction_files` as path strings: what the warm paths over many maps use (a ``Path`` object per
    file costs more than listing the folder). With ``stats``, a :class:`samis.file_stats.StatPaths` that carries
    every file's stat from the same folder scan (what planning compares: the folder is scanned once)."""
    folder = os.fspath(workspace.method_dir(dataset_id, method))
    if stats:
        return listed_with_stats(folder, ".png")
    try:
        with os.scandir(folder) as entries:
            return {e.name[:-4]: e.path for e in entries if e.name.endswith(".png") and not e.name.startswith(".")}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def prediction_listings(workspace: Workspace, dataset_id: str, methods: list[str],
                        workers: int = 1) -> dict[str, StatPaths]:
    """:func:`prediction_paths` with ``stats`` of several methods, ``workers`` processes scanning their folders
    side by side (see :func:`samis.file_stats.listed_with_stats_many`)."""
    folders = [os.fspath(workspace.method_dir(dataset_id, method)) for method in methods]
    return dict(zip(methods, listed_with_stats_many(folders, ".png", workers)))


def read_prediction(path: Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read one stored map as uint8.

    Raises:
        StoreError: unreadable, or not of the expected (ground-truth) size.
    """
    try:
        array = read_map(path)
    except ImageReadError as error:
        raise StoreError(str(error)) from None
    if expected_shape is not None and array.shape != tuple(expected_shape):
        raise StoreError(
            f"{path}: prediction is {array.shape[1]}x{array.shape[0]} but the ground truth is "
            f"{expected_shape[1]}x{expected_shape[0]}; re-import it so samis resizes it"
        )
    return array


def read_manifest(workspace: Workspace, dataset_id: str, method: str) -> dict:
    """A method's manifest (empty dict when it has none).

    A manifest that is not JSON (cut or overwritten) is moved aside with a warning and counts as
    none: the maps stay usable, only their provenance is lost (it cannot be computed again from the
    maps, and the warning says so rather than promising it).

    Raises:
        StoreError: the manifest is JSON but not an object (someone wrote something else there).
    """
    path = workspace.method_dir(dataset_id, method) / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        move_aside(path, f"not JSON: {error.__class__.__name__}",
                   then="the maps are kept, but where they came from is lost (source '?'): import or compute "
                        "the method again to record it")
        return {}
    if not isinstance(document, dict):
        raise StoreError(f"{path}: a manifest must be a JSON object, not {type(document).__name__}; "
                         "delete or fix the file")
    return document


def new_generation() -> str:
    """A fresh generation token for a manifest (unique per write)."""
    return uuid.uuid4().hex


def method_generation(workspace: Workspace, dataset_id: str, method: str) -> str:
    """Which version of a method's maps the store holds now: the folder's identity (an import swaps in a new
    folder) and its manifest's ``generation`` token (a new one at every manifest write).

    Cheap (one stat and one small read) and free of side effects: a damaged manifest counts as no token
    (:func:`read_manifest` is the one that moves it aside). "none" when the method has no folder.
    """
    folder = workspace.method_dir(dataset_id, method)
    try:
        identity = os.stat(folder)
    except FileNotFoundError:
        return "none"
    try:
        token = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("generation", "")
    except (OSError, ValueError, AttributeError):
        token = ""
    return f"{identity.st_dev}:{identity.st_ino}:{token}"


def write_manifest(workspace: Workspace, dataset_id: str, method: str, manifest: dict) -> None:
    """Replace a method's manifest atomically (adds samis version, time and a new generation token)."""
    document = {"method": method, "dataset": dataset_id, "samis_version": __version__,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **manifest, "generation": new_generation()}
    write_text_atomic(workspace.method_dir(dataset_id, method) / MANIFEST, json.dumps(document, indent=1, default=str))


def write_prediction(workspace: Workspace, dataset_id: str, method: str, stem: str, saliency: np.ndarray) -> Path:
    """Store one map (float in [0, 1], bool or uint8) atomically; returns its path."""
    path = workspace.method_dir(dataset_id, method) / f"{stem}.png"
    write_png_atomic(path, to_uint8_map(saliency))
    return path


def delete_method(workspace: Workspace, dataset_id: str, method: str) -> None:
    """Remove a method's predictions (and its cached results) for a dataset."""
    folder = workspace.method_dir(dataset_id, method)
    if folder.is_dir():
        shutil.rmtree(folder)
    for suffix in (".parquet", ".npz"):  # the results store, and a cache of before it (see samis.results_store)
        (workspace.results_dir(dataset_id) / f"{method}{suffix}").unlink(missing_ok=True)


@dataclass
class ImportReport(Report):
    """What an import found and did."""

    dataset: str
    method: str
    source: Path
    matched: int = 0
    resized: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"imported {self.matched} maps of {self.method!r} into dataset {self.dataset!r} from {self.source}"

    def details(self) -> list[str]:
        lines = [
            f"  resized (bilinear, to ground-truth size): {self.resized}",
            f"  missing (image has no map): {len(self.missing)}" + (f"  e.g. {', '.join(self.missing[:5])}" if self.missing else ""),
            f"  extra (map has no image): {len(self.extra)}" + (f"  e.g. {', '.join(self.extra[:5])}" if self.extra else ""),
            f"  unreadable (skipped): {len(self.unreadable)}",
        ]
        return lines + [f"    {name}: {reason}" for name, reason in self.unreadable[:10]]

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "method": self.method, "source": str(self.source),
                "matched": self.matched, "resized": self.resized, "missing": self.missing,
                "extra": self.extra, "unreadable": [list(u) for u in self.unreadable]}


def import_predictions(workspace: Workspace, dataset: Dataset, method: str, folder: str | Path,
                       skip_unreadable: bool = False, progress: ProgressCallback | None = None,
                       prefer_ext: list[str] | None = None) -> ImportReport:
    """Copy a folder of saliency maps into the store as 8-bit PNGs at ground-truth size.

    Files are matched to images by stem, whatever their extension; two image files of one stem
    (``a.png`` and ``a.jpg``) are refused unless ``prefer_ext`` says which to take. Maps are read
    by the map channel rule of :func:`samis.imageio.read_map`. The new folder replaces any
    previous predictions of the method only once every file is written.

    Args:
        skip_unreadable: import the readable maps and list the others, instead of refusing.
        prefer_ext: extensions in order of preference (``["png", "jpg"]``) for stems with several
            image files; without it such stems are refused.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``import <method>``)
            at the start and after each matched file, read or not.

    Raises:
        StoreError: bad method name, missing or empty folder, no file matching any image, an
            unreadable map (unless ``skip_unreadable``), stems with several image files (unless
            ``prefer_ext`` picks one for each).
    """
    source, destination = _import_folders(workspace, dataset, method, folder)
    files = _files_by_stem(source, prefer_ext)
    samples = dataset.by_id()
    report = ImportReport(dataset.id, method, source)
    report.missing = sorted(set(samples) - set(files))
    report.extra = sorted(set(files) - set(samples))
    matched = sorted(set(samples) & set(files))
    if not matched:
        example = next(iter(files))
        raise StoreError(f"{source}: no file matches an image of {dataset.id!r} by name (e.g. {example!r} is not an image id)")

    destination.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_imports(destination.parent)
    # the pid in the name lets a later command tell a killed import's folder from a running one's
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{method}-{os.getpid()}-", dir=destination.parent))
    try:
        apply_default_mode(staging, directory=True)
        tracker = ProgressTracker(progress, len(matched), f"import {method}").start()
        for stem in matched:
            path = files[stem]
            array, reason = _read_importable(path, skip_unreadable)
            if array is None:
                report.unreadable.append((path.name, reason))
            else:
                gt_shape = image_size(samples[stem].gt_path)
                if array.shape != gt_shape:
                    array = resize_map(array, gt_shape)
                    report.resized += 1
                try:
                    write_png_atomic(staging / f"{stem}.png", array)
                except OSError as error:
                    raise naming(error, destination / f"{stem}.png") from None  # not the hidden staging name
                report.matched += 1
            tracker.advance()  # unreadable files count as done too, so the last event says done == total
        report.missing = sorted(set(report.missing) | {n.rsplit(".", 1)[0] for n, _ in report.unreadable})
        try:
            write_text_atomic(staging / MANIFEST, json.dumps(_import_manifest(report), indent=1))
            _swap_in(staging, destination)
        except OSError as error:
            raise naming(error, destination) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # results of the old maps are keyed by content, so a stale cache entry is simply never hit
    return report


def _import_folders(workspace: Workspace, dataset: Dataset, method: str, folder: str | Path) -> tuple[Path, Path]:
    """(the checked source folder, resolved; the method's store folder) of an import."""
    validate_name("method", method)
    source = Path(folder).expanduser()
    if not source.exists():
        raise StoreError(f"{source}: prediction folder does not exist")
    if not source.is_dir():
        raise StoreError(f"{source}: is a file, not a folder of saliency maps")
    source = source.resolve()
    destination = workspace.method_dir(dataset.id, method)
    if source == destination.resolve():
        raise StoreError(f"{source}: is already the stored folder of {method!r}")
    return source, destination


def _import_manifest(report: ImportReport) -> dict:
    """The provenance of imported maps (``manifest.json``)."""
    return {
        "source": "import",
        "source_folder": str(report.source),
        "imported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {"matched": report.matched, "missing": len(report.missing), "extra": len(report.extra),
                   "unreadable": len(report.unreadable), "resized": report.resized},
        "resize": "bilinear to ground-truth size" if report.resized else "none needed",
        "samis_version": __version__,
        "method": report.method,
        "dataset": report.dataset,
        "generation": new_generation(),  # the swap changes the folder too; the token says so in the file
    }


def _files_by_stem(source: Path, prefer_ext: list[str] | None) -> dict[str, Path]:
    """The file to import for each stem of a folder.

    A stem with one image file and other files (``a.png`` + ``a.json``) takes the image; a stem
    with several image files is a clash: taking either silently could change every number.

    Raises:
        StoreError: the folder is empty, or stems clash and ``prefer_ext`` does not decide them all.
    """
    by_stem: dict[str, list[Path]] = {}
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.name != MANIFEST:
            by_stem.setdefault(path.stem, []).append(path)
    if not by_stem:
        raise StoreError(f"{source}: folder is empty")
    order = [e.lower().lstrip(".") for e in (prefer_ext or [])]
    files: dict[str, Path] = {}
    clashes: list[str] = []
    for stem, paths in by_stem.items():
        images = [p for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS]
        if len(images) <= 1:
            files[stem] = images[0] if images else paths[0]
            continue
        preferred = [p for e in order for p in images if p.suffix.lower().lstrip(".") == e]
        if preferred:
            files[stem] = preferred[0]
        else:
            clashes.append(stem)
    if clashes:
        shown = ", ".join(f"{stem} ({'/'.join(p.suffix for p in by_stem[stem] if p.suffix.lower() in IMAGE_EXTENSIONS)})"
                          for stem in clashes[:10])
        more = f", … ({len(clashes)} in all)" if len(clashes) > 10 else ""
        raise StoreError(f"{source}: {len(clashes)} names have several image files: {shown}{more}; "
                         "choose one with --prefer-ext (e.g. --prefer-ext png)")
    return files


def _read_importable(path: Path, skip_unreadable: bool) -> tuple[np.ndarray | None, str]:
    """A map to import as uint8, or (None, why not) when it cannot be read and ``skip_unreadable``.

    Raises:
        StoreError: the file is not a readable image and ``skip_unreadable`` is False.
    """
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        reason = f"not an image file (extension {path.suffix or 'none'})"
        if not skip_unreadable:
            raise StoreError(f"{path}: {reason}")
        return None, reason
    try:
        return read_map(path), ""
    except ImageReadError as error:
        if not skip_unreadable:
            raise StoreError(f"{error} (use --skip-unreadable to import the other maps)") from None
        return None, str(error).split(": ", 1)[-1]


def _swap_in(staging: Path, destination: Path) -> None:
    """Replace ``destination`` with ``staging``; the old folder is removed only after the swap.

    A kill at any point leaves a state the next command repairs
    (:func:`samis.recovery.recover_interrupted_imports`): before the first rename, the old maps and a
    staging folder (removed); between the renames, only the retired folder (renamed back); after the
    second, the new maps and the retired folder (removed).
    """
    if destination.exists():
        retired = destination.with_name(f"{RETIRED_PREFIX}{destination.name}-{os.getpid()}-{time.time_ns()}")
        os.replace(destination, retired)
        os.replace(staging, destination)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, destination)
