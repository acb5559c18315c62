"""Defect datasets in their published layouts, read in place.

A :class:`Dataset` is a list of :class:`Sample` (stable id = file stem, image path, ground-truth
path, defect class). Loaders never decode images; they check the layout and that every image
has its ground truth, and raise :class:`DatasetError` naming the file otherwise.

Layouts:

- ``sd900``   SD-saliency-900: ``Source Images/*.bmp`` + ``Ground truth/*.png``; class by prefix.
- ``mt``      Magnetic Tile: ``MT_<Class>/Imgs/<stem>.jpg`` + ``<stem>.png``; ``MT_Free`` on request.
- ``nrsd-mn`` NRSD-MN (MCnet layout): ``images/{training,validation}/*.png`` +
              ``annotations/{training,validation}/*.jpg`` (JPEG masks: many grey levels, read at > 128).
- ``folder``  any ``images/`` + ``masks/`` pair matched by stem; classes from an optional
              ``classes.csv`` (``stem,class``).

Every mask is read by the one mask rule of :func:`samis.imageio.read_mask` (0/255, 0/1, 16-bit,
coloured …); :func:`survey_masks` reads them all once (at ``datasets add``) to say which branch of
the rule read how many, and which masks differ in size from their image.

Splits are made once, with a fixed seed, and frozen in ``splits/<dataset>.json`` of the workspace.
"""

from __future__ import annotations

import csv
import os
import json
import time
from typing import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from samis.errors import DatasetError
from samis.imageio import IMAGE_EXTENSIONS, ImageReadError, image_size, read_mask, write_text_atomic
from samis.workspace import DatasetEntry, Workspace, validate_name
from samis.metrics import MIN_IMAGE_SIDE

LAYOUTS = ("sd900", "mt", "nrsd-mn", "folder")
SPLIT_SEED = 20240101

SD900_CLASSES = {"In": "inclusion", "Pa": "patches", "Sc": "scratches"}
NRSD_FOLDERS = {"training": "train", "validation": "test"}
#: Magnetic Tile's defect-free class (folder MT_Free), loaded with ``include_defect_free``
MT_FREE_CLASS = "Free"
#: added to the split seeds when drawing the defect-free MT images apart from the defect images
MT_FREE_SEED_OFFSET = 1000


@dataclass(frozen=True)
class Sample:
    """One image of a dataset with its ground truth."""

    id: str
    image_path: Path
    gt_path: Path
    cls: str
    subset: str = ""  # the published folder it came from, where the layout has one

    def read_gt(self) -> np.ndarray:
        """Ground truth as a boolean mask, True = defect, by the mask rule of :func:`samis.imageio.read_mask`.

        Raises:
            MaskReadError: (a DatasetError) the mask cannot be decoded or the rule cannot read it.
        """
        return read_mask(self.gt_path)[0]


@dataclass
class Dataset:
    """A loaded dataset: its samples sorted by id, and where they came from."""

    id: str
    layout: str
    root: Path
    samples: list[Sample]
    options: dict
    #: files in the dataset's folders that are not loaded, with why: (path relative to root, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def classes(self) -> list[str]:
        return sorted({s.cls for s in self.samples})

    def class_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sample in self.samples:
            counts[sample.cls] = counts.get(sample.cls, 0) + 1
        return dict(sorted(counts.items()))

    def describe_skipped(self) -> str | None:
        """One line counting and naming (the first of) the files that were not loaded; None when none were."""
        if not self.skipped:
            return None
        first = ", ".join(f"{path} ({why})" for path, why in self.skipped[:3])
        return f"skipped {len(self.skipped)} file(s): {first}{' …' if len(self.skipped) > 3 else ''}"

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}

    def sample(self, sample_id: str) -> Sample:
        for s in self.samples:
            if s.id == sample_id:
                return s
        raise DatasetError(f"{self.id}: no image with id {sample_id!r}")


# ---- layout detection ------------------------------------------------------------------------
def detect_layout(root: Path) -> str:
    """Guess the layout of a dataset folder.

    Raises:
        DatasetError: the folder does not look like any supported layout.
    """
    if (root / "Source Images").is_dir() and (root / "Ground truth").is_dir():
        return "sd900"
    if any(p.is_dir() and p.name.startswith("MT_") for p in root.iterdir()):
        return "mt"
    if (root / "images" / "training").is_dir() or (root / "images" / "validation").is_dir():
        return "nrsd-mn"
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return "folder"
    raise DatasetError(
        f"{root}: unknown dataset layout (expected 'Source Images/' + 'Ground truth/' (sd900), "
        "MT_<Class>/Imgs/ (mt), images/{training,validation}/ (nrsd-mn) or images/ + masks/ (folder))"
    )


def _images_in(folder: Path, extensions=IMAGE_EXTENSIONS, skipped: list | None = None) -> dict[str, Path]:
    """Image files of ``folder`` by stem; a dangling symbolic link with an image's name goes to ``skipped``.

    One ``os.scandir`` pass (a file's type comes with the listing): a dataset of 150,000 images is listed in a
    second, not in the ten a ``Path`` and a ``stat`` per file take."""
    wanted = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith(".") and os.path.splitext(entry.name)[1].lower() in extensions:
                wanted.append(entry)
    found: dict[str, Path] = {}
    for entry in sorted(wanted, key=lambda e: e.name):
        if entry.is_file():
            stem = os.path.splitext(entry.name)[0]
            if stem in found:
                raise DatasetError(f"{folder / entry.name}: two files share the id {stem!r} ({found[stem].name})")
            found[stem] = folder / entry.name
        elif skipped is not None and entry.is_symlink():
            skipped.append((folder / entry.name, "dangling symbolic link"))
    return found


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(f"{path}: folder missing ({what})")


def _pair(dataset_name: str, images: dict[str, Path], masks: dict[str, Path], root: Path,
          skipped: list) -> list[tuple[str, Path, Path]]:
    """(id, image, mask) for every image; a mask without an image goes to ``skipped``, never silently away."""
    pairs = []
    for stem, image_path in images.items():
        if stem not in masks:
            raise DatasetError(
                f"{dataset_name}: ground truth missing for image {image_path.relative_to(root)} "
                f"(expected a mask named {stem}.* )"
            )
        pairs.append((stem, image_path, masks[stem]))
    skipped.extend((path, "mask without an image") for stem, path in masks.items() if stem not in images)
    return pairs


def _load_sd900(root: Path, options: dict, skipped: list) -> list[Sample]:
    image_dir, gt_dir = root / "Source Images", root / "Ground truth"
    _require_dir(image_dir, "SD-saliency-900 images: 'Source Images/*.bmp'")
    _require_dir(gt_dir, "SD-saliency-900 ground truth: 'Ground truth/*.png'")
    samples = []
    images, masks = _images_in(image_dir, skipped=skipped), _images_in(gt_dir, skipped=skipped)
    for stem, image_path, gt_path in _pair("SD-saliency-900", images, masks, root, skipped):
        prefix = stem[:2]
        if prefix not in SD900_CLASSES:
            raise DatasetError(f"SD-saliency-900: {image_path.name} has no class prefix (In_, Pa_ or Sc_)")
        samples.append(Sample(stem, image_path, gt_path, SD900_CLASSES[prefix]))
    return samples


def _load_mt(root: Path, options: dict, skipped: list) -> list[Sample]:
    include_free = bool(options.get("include_defect_free", False))
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("MT_"))
    if not class_dirs:
        raise DatasetError(f"{root}: no MT_<Class>/Imgs folders (Magnetic Tile layout)")
    samples = []
    for class_dir in class_dirs:
        cls = class_dir.name[3:]
        if cls == "Free" and not include_free:
            continue
        image_dir = class_dir / "Imgs"
        _require_dir(image_dir, f"Magnetic Tile class {cls}: '{class_dir.name}/Imgs/'")
        images = _images_in(image_dir, (".jpg", ".jpeg"), skipped)
        masks = _images_in(image_dir, (".png",), skipped)
        for stem, image_path, gt_path in _pair("Magnetic Tile", images, masks, root, skipped):
            samples.append(Sample(stem, image_path, gt_path, cls))
    return samples


def _load_nrsd(root: Path, options: dict, skipped: list) -> list[Sample]:
    samples = []
    found_any = False
    for folder, subset in NRSD_FOLDERS.items():
        image_dir, mask_dir = root / "images" / folder, root / "annotations" / folder
        if not image_dir.is_dir():
            continue
        found_any = True
        _require_dir(mask_dir, f"NRSD-MN masks for images/{folder}: 'annotations/{folder}/*.jpg'")
        images, masks = _images_in(image_dir, skipped=skipped), _images_in(mask_dir, skipped=skipped)
        for stem, image_path, gt_path in _pair("NRSD-MN", images, masks, root, skipped):
            samples.append(Sample(stem, image_path, gt_path, "rail", subset))
    if not found_any:
        raise DatasetError(f"{root}: no images/training or images/validation folder (NRSD-MN layout)")
    return samples


def _load_folder(root: Path, options: dict, skipped: list) -> list[Sample]:
    image_dir, mask_dir = root / "images", root / "masks"
    _require_dir(image_dir, "plain layout: 'images/'")
    _require_dir(mask_dir, "plain layout: 'masks/'")
    classes: dict[str, str] = {}
    class_file = root / "classes.csv"
    if class_file.is_file():
        with class_file.open(newline="", encoding="utf-8") as handle:
            for line_number, row in enumerate(csv.reader(handle), start=1):
                if not row or row[0] == "stem":
                    continue
                if len(row) != 2:
                    raise DatasetError(f"{class_file}:{line_number}: expected 'stem,class', got {len(row)} columns")
                classes[row[0]] = row[1]
    images, masks = _images_in(image_dir, skipped=skipped), _images_in(mask_dir, skipped=skipped)
    return [
        Sample(stem, image_path, gt_path, classes.get(stem, "all"))
        for stem, image_path, gt_path in _pair(root.name, images, masks, root, skipped)
    ]


_LOADERS = {"sd900": _load_sd900, "mt": _load_mt, "nrsd-mn": _load_nrsd, "folder": _load_folder}


def open_dataset(root: str | Path, layout: str | None = None, dataset_id: str | None = None, options: dict | None = None) -> Dataset:
    """Load a dataset folder without registering it.

    Args:
        root: the dataset folder.
        layout: one of :data:`LAYOUTS`, or None to detect it.
        dataset_id: the id to give it (default: the folder name).
        options: loader options (``include_defect_free`` for mt).

    Raises:
        DatasetError: missing folder, wrong layout, missing ground truth, no images.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"{root}: dataset folder does not exist")
    if not root.is_dir():
        raise DatasetError(f"{root}: is a file, not a dataset folder")
    root = root.resolve()
    layout = layout or detect_layout(root)
    if layout not in _LOADERS:
        raise DatasetError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    options = dict(options or {})
    skipped: list[tuple[Path, str]] = []
    try:
        samples = _LOADERS[layout](root, options, skipped)
    except PermissionError as error:
        raise DatasetError(f"{error.filename}: permission denied") from None
    if not samples:
        raise DatasetError(f"{root}: no images found for layout {layout!r}")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise DatasetError(f"{root}: image id {duplicate!r} occurs twice; ids (file stems) must be unique")
    samples.sort(key=lambda s: s.id)
    skipped_files = sorted((str(path.relative_to(root)), why) for path, why in skipped)
    return Dataset(dataset_id or root.name, layout, root, samples, options, skipped_files)


#: the options each layout's loader reads from a registry entry, with their type
LAYOUT_OPTIONS = {"mt": {"include_defect_free": bool}}


def _check_entry(workspace: Workspace, entry) -> None:
    """A registry entry's layout and options, as the loaders read them; errors name ``datasets.toml``.

    The file may have been written by hand: without this, ``layout = "bogus"`` was refused as if typed on
    the command line, and ``include_defect_free = "no"`` read as true.
    """
    where = f"{workspace.datasets_file}: dataset {entry.id!r}"
    if entry.layout not in _LOADERS:
        raise DatasetError(f"{where}: unknown layout {entry.layout!r} (choose one of {', '.join(LAYOUTS)})")
    allowed = LAYOUT_OPTIONS.get(entry.layout, {})
    for key, value in entry.options.items():
        if key not in allowed:
            known = f"known: {', '.join(allowed)}" if allowed else f"layout {entry.layout!r} takes none"
            raise DatasetError(f"{where}: unknown option {key!r} ({known})")
        if not isinstance(value, allowed[key]):
            raise DatasetError(f"{where}: option {key!r} must be {allowed[key].__name__}, not {value!r}")


def load_dataset(workspace: Workspace, dataset_id: str) -> Dataset:
    """Load a registered dataset.

    Raises:
        WorkspaceError: the id is not registered.
        DatasetError: the registered folder is gone or broken, or its entry in ``datasets.toml`` names an
            unknown layout or option (the error names the file).
    """
    entry = workspace.dataset_entry(dataset_id)
    _check_entry(workspace, entry)
    if not entry.path.exists():
        raise DatasetError(f"dataset {dataset_id!r}: registered folder {entry.path} no longer exists")
    return open_dataset(entry.path, entry.layout, dataset_id, entry.options)


def register_dataset(workspace: Workspace, dataset_id: str, path: str | Path, layout: str | None = None,
                     options: dict | None = None, replace: bool = False) -> Dataset:
    """Check a dataset folder loads, then record it in the workspace registry.

    Raises:
        DatasetError, WorkspaceError: the folder or the id cannot be used.
    """
    validate_name("dataset", dataset_id)
    dataset = open_dataset(path, layout, dataset_id, options)
    workspace.register_dataset(DatasetEntry(dataset_id, dataset.root, dataset.layout, dict(options or {})), replace=replace)
    return dataset


# ---- mask survey ----------------------------------------------------------------------------
@dataclass
class MaskSurvey:
    """How every mask of a dataset was read, and which differ in size from their image."""

    n_masks: int
    by_rule: dict[str, int]  # rule branch of read_mask -> count
    size_mismatch: list[tuple[str, tuple[int, int], tuple[int, int]]]  # (id, image (h, w), mask (h, w))
    seconds: float

    def describe(self) -> list[str]:
        rules = ", ".join(f"{n} as {how}" for how, n in sorted(self.by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [f"masks: {rules} ({self.n_masks} read in {self.seconds:.1f} s)"]
        if self.size_mismatch:
            first = ", ".join(f"{i} (image {a[1]}x{a[0]}, mask {b[1]}x{b[0]})" for i, a, b in self.size_mismatch[:3])
            lines.append(f"masks of another size than their image: {len(self.size_mismatch)}, e.g. {first}; "
                         "baselines and SAM resize their maps to the mask's size (bilinear / nearest) before scoring")
        return lines


def _survey_one(sample: Sample) -> tuple[str, str, tuple[int, int], tuple[int, int]]:
    mask, how = read_mask(sample.gt_path)
    try:
        image_shape = image_size(sample.image_path)
    except ImageReadError as error:
        raise DatasetError(str(error)) from None
    return sample.id, how, image_shape, tuple(mask.shape)


def _refuse_too_small(dataset: Dataset, rows) -> None:
    """One line for every image or mask under the metrics' smallest size (a 1 x 1 image scores E = 4.5e15)."""
    smaller = [(sample_id, min(image_shape, mask_shape, key=min)) for sample_id, _, image_shape, mask_shape in rows]
    small = [(sample_id, shape) for sample_id, shape in smaller if min(shape) < MIN_IMAGE_SIDE]
    if small:
        first = ", ".join(f"{sample_id} ({shape[1]}x{shape[0]})" for sample_id, shape in small[:3])
        raise DatasetError(f"{dataset.id}: {len(small)} image(s) or mask(s) smaller than {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} "
                           f"pixels, which the metrics cannot score: {first}{' …' if len(small) > 3 else ''}")


def survey_masks(dataset: Dataset, threads: int = 4) -> MaskSurvey:
    """Read every mask once by the mask rule: counts per rule branch and size mismatches.

    Threads suffice (PIL decodes outside the GIL); about 0.2 s per 900 small PNGs here.

    Raises:
        MaskReadError: (a DatasetError) a mask the rule cannot read, named.
        DatasetError: an image whose header cannot be read, or images or masks smaller than the metrics
            can score (:data:`samis.metrics.MIN_IMAGE_SIDE` in each dimension), counted and named.
    """
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        rows = list(pool.map(_survey_one, dataset.samples))
    _refuse_too_small(dataset, rows)
    by_rule: dict[str, int] = {}
    mismatch = []
    for sample_id, how, image_shape, mask_shape in rows:
        by_rule[how] = by_rule.get(how, 0) + 1
        if image_shape != mask_shape:
            mismatch.append((sample_id, image_shape, mask_shape))
    return MaskSurvey(len(rows), by_rule, mismatch, time.perf_counter() - started)


# ---- splits ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Draw:
    """How one train/test pair is drawn: ``test_count(n)`` of ``n`` images, spread over the classes in
    proportion (largest remainder), seeded; the paper's counts, when the dataset is the published one."""

    train: str
    test: str
    share: str  # test_count in words
    test_count: Callable[[int], int]
    seed_offset: int = 0
    paper: tuple[int, int] | None = None  # (train, test) of the published dataset
    paper_note: str = ""


#: the draws of each layout (nrsd-mn keeps its published folders); make_splits and the rules written
#: into splits/<id>.json both come from here, so the description is of the rule applied
SPLIT_DRAWS = {
    "sd900": (_Draw("train", "test", "360/900 of the images", lambda n: round(n * 360 / 900), 0, (540, 360),
                    "as the paper's Table 2: 540/360, 120 test images per class"),),
    "mt": (_Draw("train", "test", "half of the images (rounded down)", lambda n: n // 2, 0, (196, 196),
                 "the paper's 1:1 split"),
           _Draw("train-7:3", "test-7:3", "3/10 of the images (rounded)", lambda n: round(n * 0.3), 73, (274, 118),
                 "the paper's 7:3 split, §4.5, Table 6")),
    "folder": (_Draw("train", "test", "4/10 of the images (rounded)", lambda n: round(n * 0.4)),),
}


def split_names(dataset: Dataset) -> list[str]:
    """Split names a dataset offers, ``all`` first."""
    names = ["all", "train", "test"]
    if dataset.layout == "mt":
        names += ["train-7:3", "test-7:3"]
    return names


def _stratified_test_ids(samples: list[Sample], test_total: int, seed: int) -> set[str]:
    """Pick ``test_total`` ids, spread over classes in proportion (largest remainder), seeded."""
    by_class: dict[str, list[str]] = {}
    for s in samples:
        by_class.setdefault(s.cls, []).append(s.id)
    n = len(samples)
    quotas = {c: len(ids) * test_total / n for c, ids in by_class.items()}
    counts = {c: int(np.floor(q)) for c, q in quotas.items()}
    remainder = test_total - sum(counts.values())
    for c in sorted(quotas, key=lambda c: (-(quotas[c] - counts[c]), c))[:remainder]:
        counts[c] += 1
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for c in sorted(by_class):
        ids = sorted(by_class[c])
        order = rng.permutation(len(ids))
        chosen.update(ids[i] for i in order[: counts[c]])
    return chosen


def make_splits(dataset: Dataset, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """Compute the split membership of a dataset (not frozen; see :func:`get_split`) by :data:`SPLIT_DRAWS`."""
    ids = [s.id for s in dataset.samples]
    splits = {"all": ids}
    if dataset.layout == "nrsd-mn":
        splits["train"] = [s.id for s in dataset.samples if s.subset == "train"]
        splits["test"] = [s.id for s in dataset.samples if s.subset == "test"]
        return splits
    # MT's splits are drawn over the defect images only, exactly as without MT_Free; the defect-free
    # images (registered with --include-defect-free) are drawn apart, in the same proportions, with
    # their own seeds, so adding them moves no defect image between train and test
    defects, free = _defects_and_free(dataset)
    for draw in SPLIT_DRAWS.get(dataset.layout, SPLIT_DRAWS["folder"]):
        test = _stratified_test_ids(defects, draw.test_count(len(defects)), seed + draw.seed_offset)
        if free:
            test |= _stratified_test_ids(free, draw.test_count(len(free)), seed + draw.seed_offset + MT_FREE_SEED_OFFSET)
        splits[draw.train] = [i for i in ids if i not in test]
        splits[draw.test] = [i for i in ids if i in test]
    return splits


def _defects_and_free(dataset: Dataset) -> tuple[list[Sample], list[Sample]]:
    """MT's defect images and its MT_Free images, drawn apart; every image and none for other layouts."""
    if dataset.layout != "mt":
        return list(dataset.samples), []
    return ([s for s in dataset.samples if s.cls != MT_FREE_CLASS], [s for s in dataset.samples if s.cls == MT_FREE_CLASS])


def _describe_draw(samples: list[Sample], test_ids: set[str], draw: _Draw, seed: int) -> str:
    """What one draw did to ``samples``: counts, the share, the seed, test images per class."""
    test = [s for s in samples if s.id in test_ids]
    per_class: dict[str, int] = {}
    for sample in test:
        per_class[sample.cls] = per_class.get(sample.cls, 0) + 1
    counts = (len(samples) - len(test), len(test))
    text = (f"{counts[0]}/{counts[1]} of {len(samples)} images: {draw.share} to test, spread over the classes in "
            f"proportion (largest remainder), seed {seed}; test per class: "
            + ", ".join(f"{c} {per_class.get(c, 0)}" for c in sorted({s.cls for s in samples})))
    return text + (f" ({draw.paper_note})" if draw.paper == counts else "")


def describe_splits(dataset: Dataset, splits: dict[str, list[str]], seed: int = SPLIT_SEED) -> dict[str, str]:
    """The rule applied to make ``splits`` (as written into ``splits/<id>.json``), with this dataset's counts.

    The paper's counts are named only when this dataset's split has them (a 30-image copy of
    SD-saliency-900 is not split 540/360).
    """
    if dataset.layout == "nrsd-mn":
        return {"train/test": f"the published folders: images/training = train ({len(splits['train'])}), "
                              f"images/validation = test ({len(splits['test'])})"}
    defects, free = _defects_and_free(dataset)
    rules = {}
    for draw in SPLIT_DRAWS.get(dataset.layout, SPLIT_DRAWS["folder"]):
        test = set(splits[draw.test])
        text = _describe_draw(defects, test, draw, seed + draw.seed_offset)
        if free:
            apart = _describe_draw(free, test, replace(draw, paper=None), seed + draw.seed_offset + MT_FREE_SEED_OFFSET)
            text = f"the defect images as without MT_Free: {text}; the MT_Free images drawn apart: {apart}"
        rules[f"{draw.train}/{draw.test}"] = text
    return rules


def _check_frozen_splits(path: Path, splits, known: set[str]) -> None:
    """Refuse a split file that is not ``{name: [image id, …]}``, repeats or invents ids, or mixes train and test.

    The file is frozen so that everyone scores the same images; one edited by hand must not
    silently score a test image that is also used for training.

    Raises:
        DatasetError: one line naming the file, the split and the first offending id.
    """
    again = "; delete the file to make the splits again"
    if not isinstance(splits, dict):
        raise DatasetError(f"{path}: 'splits' must map split names to lists of image ids, not {type(splits).__name__}{again}")
    for name, ids in splits.items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DatasetError(f"{path}: split {name!r} must be a list of image ids (text), not "
                               f"{type(ids).__name__ if not isinstance(ids, list) else 'a list holding other values'}{again}")
        seen: set[str] = set()
        for image_id in ids:
            if image_id in seen:
                raise DatasetError(f"{path}: split {name!r} lists image {image_id!r} twice{again}")
            seen.add(image_id)
        gone = [i for i in ids if i not in known]
        if gone:
            raise DatasetError(
                f"{path}: the frozen split {name!r} names {len(gone)} images the dataset no longer has "
                f"(first: {gone[0]}){again}"
            )
    for name in splits:
        if name.startswith("train"):
            partner = "test" + name[len("train"):]
            both = sorted(set(splits[name]) & set(splits.get(partner, [])))
            if both:
                raise DatasetError(f"{path}: splits {name!r} and {partner!r} share {len(both)} images "
                                   f"(first: {both[0]}); train and test must not overlap{again}")


def frozen_splits(workspace: Workspace, dataset: Dataset) -> dict[str, list[str]]:
    """The dataset's splits, made and written to ``splits/<id>.json`` on first use, read after.

    Raises:
        DatasetError: the frozen file names images the dataset no longer has.
    """
    path = workspace.split_file(dataset.id)
    if path.exists():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            splits = document["splits"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}: frozen split file is damaged ({error.__class__.__name__}: {error}); "
                               "delete it to make it again") from None
        _check_frozen_splits(path, splits, {s.id for s in dataset.samples})
        return splits
    splits = make_splits(dataset)
    document = {
        "dataset": dataset.id,
        "layout": dataset.layout,
        "seed": SPLIT_SEED,
        "rules": describe_splits(dataset, splits),
        "made": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {k: len(v) for k, v in splits.items()},
        "splits": splits,
    }
    write_text_atomic(path, json.dumps(document, indent=1))
    return splits


def get_split(workspace: Workspace, dataset: Dataset, split: str) -> list[Sample]:
    """Samples of one split, in id order.

    Raises:
        DatasetError: the dataset has no split of that name.
    """
    if split == "all":
        return list(dataset.samples)
    splits = frozen_splits(workspace, dataset)
    if split not in splits:
        raise DatasetError(f"dataset {dataset.id!r} has no split {split!r} (choose from {', '.join(splits)})")
    wanted = set(splits[split])
    return [s for s in dataset.samples if s.id in wanted]
