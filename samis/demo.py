"""The demo dataset: synthetic industrial surfaces with exact defect masks, used when nothing else is there.

On a fresh machine (no dataset, no SAM checkpoint) samis still shows a working study: the first
time the dashboard or the CLI finds no registered dataset, :func:`ensure_demo` generates this
dataset, registers it as ``demo``, computes the five built-in baselines on it and evaluates them,
caches the test-size SAM's masks (random weights, thresholds that keep masks) on the first test image
of each class, and times the baselines (a speed record), so every dashboard page has content.

The generator is deterministic (fixed seed, numpy + OpenCV only; each image has its own seeded
generator, so the bytes do not depend on order or machine). 60 grayscale 200x200 defect images, 20
per class, modelled on SD-saliency-900, and 12 defect-free ones (class ``undamaged``, empty masks):

- surfaces: brushed steel (streaks along the rolling direction, banding) or tiles (grout lines,
  per-tile shading, mottling), with an illumination gradient, vignetting and sensor noise, at
  low contrast;
- defects: ``scratch`` (thin bright curved lines), ``inclusion`` (dark blobs, often elongated and
  in a chain), ``patch`` (irregular low-contrast regions); one to three per image, and about one
  image in five also has a defect of another kind. The class of an image is its main defect kind.

Ground truth is exact: a defect changes only the pixels of its mask, and the mask is the union of
those pixels. Layout (``folder``): ``images/<stem>.png``, ``masks/<stem>.png`` (0/255),
``classes.csv`` (``stem,class``) and ``generator.json`` (seed and version). The dataset's
train/test split is the ``folder`` layout's (60/40 stratified by class, frozen in the workspace).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from samis.datasets import open_dataset, register_dataset
from samis.errors import WorkspaceError
from samis.imageio import apply_default_mode, encode_png
from samis.runs import ProgressCallback, ProgressTracker, Report, staged
from samis.workspace import Workspace

DEMO_ID = "demo"
SEED = 20240917
GENERATOR_VERSION = 1
SIZE = 200
CLASSES = ("scratch", "inclusion", "patch")
IMAGES_PER_CLASS = 20
#: the class of the defect-free images (empty masks), so the Good parts page has both kinds; the name
#: sorts after the defect classes, so the split draws of the 60 defect images are those of the demo
#: without it (the folder layout draws classes in name order from one generator)
FREE_CLASS = "undamaged"
FREE_IMAGES = 12
#: the test-size SAM (random weights) on the first test image of each defect class, with thresholds that
#: keep its masks (its predicted IoU and stability are near zero, so SAM's defaults, 0.88 and 0.95, keep
#: none); three images and a 4x4 point grid keep the first open of the dashboard under 30 s on 2 cores
DEMO_SAM_PARAMS = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}
DEMO_SAM_SPLIT = "test"


# ---- surfaces ----------------------------------------------------------------------------------
def _unit_noise(rng: np.random.Generator, sigma_y: float, sigma_x: float) -> np.ndarray:
    """White noise blurred anisotropically, rescaled to zero mean and unit standard deviation."""
    noise = rng.standard_normal((SIZE, SIZE)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=sigma_x, sigmaY=sigma_y, borderType=cv2.BORDER_REFLECT_101)
    return (noise - noise.mean()) / max(float(noise.std()), 1e-6)


def _brushed_steel(rng: np.random.Generator) -> np.ndarray:
    """Rolled/brushed steel: fine streaks and wider bands along the rolling direction."""
    level = rng.uniform(95, 150)
    streaks = _unit_noise(rng, sigma_y=rng.uniform(20, 60), sigma_x=rng.uniform(0.5, 1.2))
    bands = _unit_noise(rng, sigma_y=80, sigma_x=rng.uniform(4, 12))
    grain = _unit_noise(rng, sigma_y=0.7, sigma_x=0.7)
    surface = level + rng.uniform(3, 7) * streaks + rng.uniform(2, 6) * bands + rng.uniform(1.5, 3.5) * grain
    return surface if rng.random() < 0.7 else surface.T  # most strips run vertically, as in SD-saliency-900


def _tiles(rng: np.random.Generator) -> np.ndarray:
    """Ceramic or sintered tiles: a grid with darker grout, per-tile shading and mottled glaze."""
    period = int(rng.integers(45, 80))
    offset_y, offset_x = (int(v) for v in rng.integers(0, period, 2))
    grout = int(rng.integers(2, 4))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    tile_y, tile_x = (yy + offset_y) // period, (xx + offset_x) // period
    shades = rng.normal(0.0, 3.0, (SIZE // period + 2, SIZE // period + 2))
    surface = rng.uniform(100, 160) + shades[tile_y, tile_x]
    in_grout = ((yy + offset_y) % period < grout) | ((xx + offset_x) % period < grout)
    surface = surface - in_grout * rng.uniform(8, 16)
    mottle = _unit_noise(rng, sigma_y=2.5, sigma_x=2.5)
    grain = _unit_noise(rng, sigma_y=0.6, sigma_x=0.6)
    return surface + rng.uniform(3, 6) * mottle + rng.uniform(1.5, 3) * grain


def _illumination(rng: np.random.Generator) -> np.ndarray:
    """A linear light gradient in a random direction plus a vignette (uneven lighting of a line camera)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(angle) * xx + np.sin(angle) * yy) * rng.uniform(10, 35)
    centre = rng.uniform(-0.3, 0.3, 2)
    vignette = -((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) * rng.uniform(0, 40)
    return (gradient + vignette).astype(np.float32)


# ---- defects (each returns the exact mask and the intensity change inside it) -------------------
def _smooth_profile(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """A smooth field with values in [low, high], so a defect is not flat inside."""
    field_ = _unit_noise(rng, sigma_y=8, sigma_x=8)
    return (low + (high - low) * (field_ - field_.min()) / max(float(np.ptp(field_)), 1e-6)).astype(np.float32)


def _scratch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A thin bright curved line: a quadratic Bezier curve, 1 to 3 pixels wide."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    start = rng.uniform(5, SIZE - 5, 2)
    length = rng.uniform(50, 190)
    angle = rng.uniform(0, 2 * np.pi)
    end = np.clip(start + length * np.array([np.cos(angle), np.sin(angle)]), 2, SIZE - 3)
    bend = (start + end) / 2 + rng.normal(0, length * 0.25, 2)
    t = np.linspace(0.0, 1.0, 80)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t ** 2 * end
    points = np.clip(np.round(curve), 0, SIZE - 1).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(mask, [points], isClosed=False, color=1, thickness=int(rng.choice([1, 1, 2, 2, 3])), lineType=cv2.LINE_8)
    change = rng.uniform(20, 55) * _smooth_profile(rng, 0.55, 1.0)
    return mask.astype(bool), change


def _inclusion(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dark inclusions: a chain of one to five elongated blobs, darkest at their core."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    centre = rng.uniform(15, SIZE - 15, 2)
    angle = rng.uniform(0, 180)
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    for _ in range(int(rng.integers(1, 6))):
        position = np.clip(centre + direction * rng.normal(0, 18), 3, SIZE - 4)
        axes = (int(rng.integers(3, 14)), int(rng.integers(1, 5)))
        cv2.ellipse(mask, (int(position[0]), int(position[1])), axes, angle + rng.normal(0, 10), 0, 360, 1, -1)
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    core = depth / max(float(depth.max()), 1e-6)
    change = -rng.uniform(20, 50) * (0.5 + 0.5 * core) * _smooth_profile(rng, 0.8, 1.0)
    return mask.astype(bool), change.astype(np.float32)


def _patch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A low-contrast patch: an irregular region a little darker (or lighter) than the surface."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    centre = rng.uniform(30, SIZE - 30, 2)
    blobs = np.zeros((SIZE, SIZE), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = centre + rng.normal(0, 14, 2)
        sx, sy = rng.uniform(6, 20, 2)
        blobs += np.exp(-((xx - cx) ** 2 / (2 * sx * sx) + (yy - cy) ** 2 / (2 * sy * sy)))
    ragged = blobs + 0.15 * _unit_noise(rng, sigma_y=3, sigma_x=3)
    mask = (ragged > 0.5).astype(np.uint8)
    # drop specks the ragged edge leaves behind: a patch is one region or a few large ones
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    large = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= 30)
    mask = np.isin(labels, large[large > 0]).astype(np.uint8)
    # fade in over the first pixels inside the edge: a stain, not a cut-out (still only mask pixels)
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    fade = np.minimum(depth / 5.0, 1.0)
    sign = -1.0 if rng.random() < 0.75 else 1.0
    change = sign * rng.uniform(8, 18) * fade * _smooth_profile(rng, 0.6, 1.0)
    return mask.astype(bool), change.astype(np.float32)


_DEFECTS = {"scratch": _scratch, "inclusion": _inclusion, "patch": _patch}


@dataclass
class DemoImage:
    """One generated image: its stem, class, uint8 pixels, exact mask, defect-free twin and what was drawn."""

    stem: str
    cls: str
    image: np.ndarray
    mask: np.ndarray
    clean: np.ndarray  # the same surface and noise without the defects (for checking the mask)
    defects: list[str] = field(default_factory=list)


def generate_image(index: int, cls: str, stem: str) -> DemoImage:
    """Generate image number ``index`` of the demo (its own seeded generator: SEED, index).

    Args:
        index: position in the dataset (0-based); with :data:`SEED` it fixes every random draw.
        cls: the main defect kind, one of :data:`CLASSES`.
        stem: the file stem to give it.

    Returns:
        A :class:`DemoImage`; ``mask`` is True exactly on the pixels the defects changed.
    """
    rng = np.random.default_rng([SEED, GENERATOR_VERSION, index])
    surface = _brushed_steel(rng) if rng.random() < 0.65 else _tiles(rng)
    surface = surface + _illumination(rng)
    kinds = [cls] * (1 if rng.random() < 0.55 else int(rng.integers(2, 4)))
    if rng.random() < 0.2:
        kinds.append(str(rng.choice([c for c in CLASSES if c != cls])))
    if cls == FREE_CLASS:
        kinds = []  # the same surfaces, nothing changed: an empty mask
    mask = np.zeros((SIZE, SIZE), bool)
    defective = surface
    for kind in kinds:
        region, change = _DEFECTS[kind](rng)
        defective = np.where(region, defective + change, defective)
        mask |= region
    noise = rng.normal(0.0, rng.uniform(1.0, 2.5), surface.shape)  # sensor noise over everything
    image = np.clip(np.round(defective + noise), 0, 255).astype(np.uint8)
    clean = np.clip(np.round(surface + noise), 0, 255).astype(np.uint8)
    return DemoImage(stem, cls, image, mask, clean, kinds)


def demo_plan() -> list[tuple[int, str, str]]:
    """(index, class, stem) of every demo image, in generation order."""
    plan = []
    for class_index, cls in enumerate(CLASSES):
        for number in range(1, IMAGES_PER_CLASS + 1):
            plan.append((class_index * IMAGES_PER_CLASS + number - 1, cls, f"{cls}_{number:02d}"))
    for number in range(1, FREE_IMAGES + 1):
        plan.append((len(CLASSES) * IMAGES_PER_CLASS + number - 1, FREE_CLASS, f"{FREE_CLASS}_{number:02d}"))
    return plan


def _generator_record() -> dict:
    return {"generator": "samis.demo", "version": GENERATOR_VERSION, "seed": SEED, "size": SIZE,
            "classes": list(CLASSES), "images_per_class": IMAGES_PER_CLASS, "defect_free": FREE_IMAGES}


def demo_folder(workspace: Workspace) -> Path:
    """Where the demo dataset lives: ``<workspace>/generated/demo``."""
    return workspace.generated_dir / DEMO_ID


def demo_is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a whole demo made by this generator version."""
    try:
        record = json.loads((folder / "generator.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    if {k: record.get(k) for k in _generator_record()} != _generator_record():
        return False
    stems = [stem for _, _, stem in demo_plan()]
    return all((folder / "images" / f"{s}.png").is_file() and (folder / "masks" / f"{s}.png").is_file() for s in stems)


def write_demo(folder: Path, progress: ProgressCallback | None = None) -> None:
    """Write the demo dataset into a new folder (which must not exist yet).

    Args:
        folder: the folder to create.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``generate``) at the
            start and after each image.
    """
    plan = demo_plan()
    tracker = ProgressTracker(progress, len(plan), "generate").start()
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rows = ["stem,class"]
    for index, cls, stem in plan:
        item = generate_image(index, cls, stem)
        (folder / "images" / f"{stem}.png").write_bytes(encode_png(item.image))
        (folder / "masks" / f"{stem}.png").write_bytes(encode_png(item.mask.astype(np.uint8) * 255))
        rows.append(f"{stem},{cls}")
        tracker.advance()
    (folder / "classes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "generator.json").write_text(json.dumps(_generator_record(), indent=1) + "\n", encoding="utf-8")


def generate_demo(workspace: Workspace, force: bool = False, progress: ProgressCallback | None = None) -> Path:
    """Make sure the workspace has a whole demo dataset folder; returns it.

    The dataset is built in a hidden temp folder beside its destination and renamed into place,
    so a killed run never leaves half a demo. An existing complete demo is kept unless ``force``.

    Args:
        force: rebuild even when a complete demo is there.
        progress: optional callback (see :func:`write_demo`); not called when the demo is reused.
    """
    target = demo_folder(workspace)
    if not force and demo_is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEMO_ID}.building-", dir=target.parent))
    apply_default_mode(staging, directory=True)
    try:
        write_demo(staging / DEMO_ID, progress)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{DEMO_ID}.old-", dir=target.parent)) / DEMO_ID
            os.replace(target, old)
        os.replace(staging / DEMO_ID, target)
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ---- the demo study ----------------------------------------------------------------------------
@dataclass
class DemoReport(Report):
    """What :func:`build_demo` did and how long each step took (seconds)."""

    folder: Path
    n_images: int
    generate_seconds: float
    baseline_seconds: dict[str, float]
    evaluate_seconds: float
    total_seconds: float
    scores: dict[str, dict] = field(default_factory=dict)
    #: seconds of the test-size SAM's masks and of the speed measurement (0: not made)
    sam_seconds: float = 0.0
    speed_seconds: float = 0.0

    def summary(self) -> str:
        return f"demo dataset {DEMO_ID!r}: {self.n_images} images at {self.folder}"

    def details(self) -> list[str]:
        lines = [f"  generated in {self.generate_seconds:.1f} s",
                 "  baselines: " + ", ".join(f"{m} {s:.1f} s" for m, s in self.baseline_seconds.items()),
                 f"  evaluated in {self.evaluate_seconds:.1f} s",
                 f"  test-size SAM masks (random weights) in {self.sam_seconds:.1f} s, "
                 f"baseline speed measured in {self.speed_seconds:.1f} s",
                 f"  total {self.total_seconds:.1f} s"]
        for method, scores in self.scores.items():
            lines.append(f"  {method:<5} Sa {scores['Sa']:.3f}  MAE {scores['MAE']:.3f}  maxEm {scores['maxEm']:.3f}  "
                         f"Fw {scores['Fw']:.3f}  maxFm {scores['maxFm']:.3f}")
        return lines


def build_demo(workspace: Workspace, force: bool = False, progress: ProgressCallback | None = None,
               workers: int | None = None) -> DemoReport:
    """Generate (or reuse) the demo, register it, compute the five baselines and evaluate them.

    Args:
        workspace: the workspace to fill.
        force: regenerate the images and recompute every baseline map.
        progress: optional callback, sent :class:`samis.runs.RunProgress` events counting within each
            stage; stages are ``generate``, ``baseline <name>`` and ``evaluate``.
        workers: processes for baselines and evaluation (default: all cores).

    Returns:
        A :class:`DemoReport` with timings and the dataset scores of each baseline.

    Raises:
        WorkspaceError: the id ``demo`` is registered to another folder.
    """
    from samis.baselines import BASELINES  # baselines import datasets/store; keep this module light
    from samis.baselines.run import compute_baseline
    from samis.evaluation import evaluate
    from samis.store import delete_method

    started = time.perf_counter()
    target = demo_folder(workspace)
    registered = workspace.registered_datasets().get(DEMO_ID)
    if registered is not None and registered.path != target.resolve():
        raise WorkspaceError(
            f"dataset id {DEMO_ID!r} is registered to {registered.path}, not the generated demo; "
            "remove it with 'python -m samis datasets remove demo' first"
        )
    folder = generate_demo(workspace, force=force, progress=staged(progress, "generate"))
    # registered last: a build killed before the end leaves no registered demo, so the next command
    # builds it again, reusing the images and the baseline maps already written
    dataset = open_dataset(folder, "folder", DEMO_ID)
    generated = time.perf_counter()

    methods = list(BASELINES)
    baseline_seconds = {}
    for method in methods:
        if force:
            delete_method(workspace, DEMO_ID, method)
        run = compute_baseline(workspace, dataset, method, "all", progress=staged(progress, f"baseline {method}"),
                               workers=workers)
        baseline_seconds[method] = run.seconds
    computed = time.perf_counter()
    result = evaluate(workspace, dataset, methods=methods, split="all", workers=workers,
                      progress=staged(progress, "evaluate"))
    evaluated = time.perf_counter()
    sam_seconds = demo_sam_masks(workspace, dataset, force, progress)
    speed_seconds = demo_speed(workspace, dataset, methods, progress)
    register_dataset(workspace, DEMO_ID, folder, "folder", replace=True)
    finished = time.perf_counter()
    scores = {m: {k: v for k, v in s.items() if k != "curves"} for m, s in result.scores.items()}
    return DemoReport(folder, len(dataset), generated - started, baseline_seconds, evaluated - computed,
                      finished - started, scores, sam_seconds, speed_seconds)


def demo_sam_masks(workspace: Workspace, dataset, force: bool = False, progress: ProgressCallback | None = None) -> float:
    """Cache the test-size SAM's masks (random weights) on the first test image of each defect class, with
    :data:`DEMO_SAM_PARAMS`, so the Masks page has something to show; returns the seconds it took (cached
    images are reused)."""
    # lazy: SAM imports torch, which only the demo's mask step needs
    from samis.datasets import get_split
    from samis.sam.params import AmgParams
    from samis.sam.run import SamRun, run_sam_over_dataset

    firsts: dict[str, object] = {}
    for sample in get_split(workspace, dataset, DEMO_SAM_SPLIT):
        if sample.cls != FREE_CLASS:
            firsts.setdefault(sample.cls, sample)

    started = time.perf_counter()
    folder = workspace.sam_cache_dir("sam-tiny-random", DEMO_ID)
    if force and folder.is_dir():
        shutil.rmtree(folder)
    run_sam_over_dataset(workspace, dataset, SamRun("tiny", AmgParams(**DEMO_SAM_PARAMS), device="cpu"),
                         split=DEMO_SAM_SPLIT, progress=staged(progress, "test-size SAM masks"),
                         samples=list(firsts.values()))
    return time.perf_counter() - started


def demo_speed(workspace: Workspace, dataset, methods: list[str], progress: ProgressCallback | None = None) -> float:
    """Time the built-in baselines on the demo's first three images and save the record (Speed page);
    returns the seconds it took."""
    # lazy: the speed package imports the paper's tables and the baselines, only the demo's last step needs them
    from samis.imageio import read_rgb
    from samis.speed import TimingProtocol, baseline_subjects, size_text, speed_table
    from samis.speed.records import save_speed_record

    started = time.perf_counter()
    images = [read_rgb(s.image_path) for s in dataset.samples[:3]]
    subjects, notes = baseline_subjects(methods)
    table = speed_table(subjects, images, f"the first {len(images)} images of dataset {DEMO_ID!r} at their own size "
                                          f"({size_text(images)})", notes=notes,
                        protocol=TimingProtocol(warmup=1, runs=5, time_budget_s=1.0, n_images=3), include_paper=False,
                        progress=staged(progress, "speed"))
    save_speed_record(workspace, table, DEMO_ID)
    return time.perf_counter() - started


@contextlib.contextmanager
def _workspace_lock(workspace: Workspace):
    """Hold an exclusive lock on the workspace while the demo is made (two dashboard sessions may start at once)."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    try:
        # fcntl exists only on POSIX
        import fcntl
    except ImportError:  # not on POSIX: no lock, the atomic renames still keep the files whole
        yield
        return
    with open(workspace.root / ".demo.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_demo(workspace: Workspace, progress: ProgressCallback | None = None) -> bool:
    """When the workspace has no registered dataset, build the demo study in it.

    Args:
        workspace: the workspace to check.
        progress: optional callback (see :func:`build_demo`).

    Returns:
        True if the demo was built now, False if the workspace already had a dataset.

    Raises:
        WorkspaceError: the workspace registry cannot be read or written.
    """
    if workspace.registered_datasets():
        return False
    with _workspace_lock(workspace):
        if workspace.registered_datasets():  # another process built it while we waited
            return False
        build_demo(workspace, progress=progress)
    return True
