"""Speed table: parameters, model size and frames per second of what samis can run here, beside Table 7.

Protocol of :func:`measure_fps` (printed with every table):

- batch 1: one uint8 RGB image per call, processed fully (for SAM: automatic masks for the image);
- ``warmup`` untimed runs first (lazy initialisation, allocator and cuDNN warm-up), then ``runs`` timed
  runs, cycling over the given images at their own size;
- on a GPU the subject's ``synchronize`` (``torch.cuda.synchronize``) is called before starting and
  before stopping each timer, so queued kernels are inside the measured time;
- the report gives the median time (FPS = 1000 / median ms), the interquartile range and min / max;
- a ``time_budget_s`` stops the timed runs early (at least ``min_runs``) for very slow subjects.

Subjects are gathered from the built-in baselines (``samis.baselines.BASELINES``; parameters 0) and
from SAM (``samis.sam.engine.sam_speed_subject``). SAM ViT-B/L/H are timed only with a checkpoint;
without one, only their parameter count is shown, counted on PyTorch's ``meta`` device (no weights,
no memory). The test-size SAM (``sam-tiny-random``) is timed and labelled as random weights.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from samis.errors import ReportError
from samis.runs import ProgressCallback, ProgressTracker

SAM_TYPES = ("vit_h", "vit_l", "vit_b")
TINY_SAM = "sam-tiny-random"
#: official checkpoint sizes in bytes (from the Segment Anything release; also in ../shared/README.md)
OFFICIAL_CHECKPOINT_BYTES = {"vit_h": 2_564_550_879, "vit_l": 1_249_524_607, "vit_b": 375_042_383}
SYNTHETIC_SIZE = (200, 200)


@dataclass
class SpeedSubject:
    """Something whose speed can be measured: one call fully processes one image."""

    method: str  # stable id, e.g. "ft", "sam-tiny-random", "sam-vit_b"
    label: str  # what to show
    params_m: float  # parameters in millions (0 for classical methods)
    size_mb: float | None  # size on disk in MB (checkpoint file) or None
    run: Callable[[np.ndarray], object]  # fully processes one uint8 RGB (H, W, 3) image
    device: str  # "cpu", "cuda:0 (NVIDIA …)", …
    synchronize: Callable[[], None] | None = None  # e.g. torch.cuda.synchronize
    note: str = ""  # e.g. "random weights — speed only, not SAM's accuracy"


@dataclass
class SpeedRow:
    """One row of the speed table: measured here (``source="measured"``) or printed in Table 7 (``"paper"``)."""

    method: str
    label: str
    source: str
    device: str
    params_m: float | None = None
    size_mb: float | None = None
    fps: float | None = None  # 1000 / median ms
    ms_median: float | None = None
    ms_q1: float | None = None
    ms_q3: float | None = None
    ms_min: float | None = None
    ms_max: float | None = None
    runs: int = 0
    warmup: int = 0
    image_size: str = ""  # "200x200" or "200x200..1024x1024"
    note: str = ""
    printed: dict = field(default_factory=dict)  # paper rows: the cells as printed


def cpu_name() -> str:
    """A short name of this CPU, e.g. ``cpu (Intel Xeon …, 2 cores)``."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return f"cpu ({model}, {os.cpu_count()} cores)"


def measure_fps(subject: SpeedSubject, images: list[np.ndarray], warmup: int = 3, runs: int = 20,
                time_budget_s: float | None = None, min_runs: int = 3) -> SpeedRow:
    """Time a subject on images, batch 1, after warm-up.

    Args:
        subject: what to run.
        images: uint8 RGB images (H, W, 3); timed runs cycle over them.
        warmup: untimed runs first.
        runs: timed runs (at most).
        time_budget_s: stop timing once this much time was spent (after ``min_runs`` runs).
        min_runs: timed runs always done.

    Returns:
        a measured :class:`SpeedRow` (median FPS, interquartile range and min / max of ms per image).

    Raises:
        ReportError: no images, or ``runs`` < 1.
    """
    if not images:
        raise ReportError("no images to time")
    if runs < 1:
        raise ReportError(f"runs must be at least 1 (got {runs})")
    sync = subject.synchronize or (lambda: None)
    for i in range(max(0, warmup)):
        subject.run(images[i % len(images)])
    sync()
    times_ms: list[float] = []
    started = time.perf_counter()
    for i in range(runs):
        image = images[i % len(images)]
        sync()
        t0 = time.perf_counter()
        subject.run(image)
        sync()
        times_ms.append((time.perf_counter() - t0) * 1000.0)
        if time_budget_s is not None and len(times_ms) >= min_runs and time.perf_counter() - started > time_budget_s:
            break
    ms = np.asarray(times_ms)
    median = float(np.median(ms))
    return SpeedRow(
        method=subject.method, label=subject.label, source="measured", device=subject.device,
        params_m=subject.params_m, size_mb=subject.size_mb, fps=1000.0 / median if median > 0 else None,
        ms_median=median, ms_q1=float(np.percentile(ms, 25)), ms_q3=float(np.percentile(ms, 75)),
        ms_min=float(ms.min()), ms_max=float(ms.max()), runs=len(times_ms), warmup=max(0, warmup),
        image_size=_size_text(images), note=subject.note,
    )


def _size_text(images: list[np.ndarray]) -> str:
    sizes = sorted({(im.shape[1], im.shape[0]) for im in images}, key=lambda s: s[0] * s[1])
    first, last = sizes[0], sizes[-1]
    text = f"{first[0]}x{first[1]}"
    return text if first == last else f"{text}..{last[0]}x{last[1]}"


# -- subjects --------------------------------------------------------------------------------------

def baseline_subjects(names: list[str] | None = None) -> tuple[list[SpeedSubject], list[str]]:
    """Speed subjects for the built-in baselines (parameters 0, run on the CPU).

    Returns:
        (subjects, notes): notes say what was skipped and why (e.g. baselines not installed).

    Raises:
        ReportError: a requested baseline does not exist.
    """
    try:
        from samis.baselines import BASELINES
    except ImportError as error:  # the baselines package is optional for this table
        return [], [f"built-in baselines skipped: {error}"]
    wanted = list(BASELINES) if names is None else names
    unknown = [n for n in wanted if n not in BASELINES]
    if unknown:
        raise ReportError(f"unknown baseline {unknown[0]!r} (choose from {', '.join(BASELINES)})")
    device = cpu_name()
    subjects = []
    for name in wanted:
        baseline = BASELINES[name]
        subjects.append(SpeedSubject(method=name, label=getattr(baseline, "title", name) or name, params_m=0.0,
                                     size_mb=None, run=baseline.function, device=device,
                                     note="classical method, no learned parameters"))
    return subjects, []


def sam_parameter_breakdown(model_type: str) -> dict[str, float]:
    """Parameters (in millions) of a SAM model built by ``segment_anything``, by part.

    The model is built on PyTorch's ``meta`` device: shapes only, no weights, no memory. Counted once
    per process (building ViT-H takes seconds even without weights).

    Returns:
        dict with ``total``, ``image_encoder``, ``prompt_encoder``, ``mask_decoder`` and ``pos_embed``
        (the image encoder's absolute position embedding, a bare ``nn.Parameter``), in millions.

    Raises:
        ReportError: unknown model type.
    """
    if model_type not in SAM_TYPES:
        raise ReportError(f"unknown SAM model type {model_type!r} (choose from {', '.join(SAM_TYPES)})")
    return dict(_count_sam_parameters(model_type))


@functools.lru_cache(maxsize=None)
def _count_sam_parameters(model_type: str) -> tuple[tuple[str, float], ...]:
    import torch
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        model = sam_model_registry[model_type](checkpoint=None)

    def count(module) -> float:
        return sum(p.numel() for p in module.parameters()) / 1e6

    pos_embed = model.image_encoder.pos_embed
    return (
        ("total", count(model)),
        ("image_encoder", count(model.image_encoder)),
        ("prompt_encoder", count(model.prompt_encoder)),
        ("mask_decoder", count(model.mask_decoder)),
        ("pos_embed", (pos_embed.numel() / 1e6) if pos_embed is not None else 0.0),
    )


def explain_parameter_gap(breakdown: dict[str, float], printed_m: float) -> str:
    """One line saying how a built SAM's parameter count relates to the paper's printed one."""
    without_pos = breakdown["total"] - breakdown["pos_embed"]
    return (
        f"built by segment_anything: {breakdown['total']:.1f} M = image encoder {breakdown['image_encoder']:.1f} M "
        f"+ mask decoder {breakdown['mask_decoder']:.2f} M + prompt encoder {breakdown['prompt_encoder']:.3f} M; "
        f"the paper prints {printed_m:g} M. Leaving out the image encoder's absolute position embedding "
        f"(a bare nn.Parameter of {breakdown['pos_embed']:.2f} M) gives {without_pos:.2f} M, "
        f"{abs(without_pos - printed_m):.2f} M from the print: a likely but unconfirmed cause, "
        "as the paper does not say how it counted"
    )


def sam_subjects(requests: dict[str, str | None], device: str = "auto") -> tuple[list[SpeedSubject], list[SpeedRow], list[str]]:
    """SAM speed subjects for the requested models, and parameter-only rows where nothing can be timed.

    Args:
        requests: model key → checkpoint path or None; keys ``tiny`` (test-size SAM, random weights)
            and ``vit_h`` / ``vit_l`` / ``vit_b`` (timed only with a checkpoint).
        device: ``auto``, ``cpu``, ``cuda``, … (passed to the engine).

    Returns:
        (subjects to time, rows with parameters only, notes).
    """
    subjects: list[SpeedSubject] = []
    rows: list[SpeedRow] = []
    notes: list[str] = []
    engine = None
    try:
        from samis.sam import engine as engine  # noqa: PLC0414 — import lazily: heavy, and may be absent
    except ImportError as error:
        notes.append(f"SAM engine not available ({error}); SAM rows show parameters only")
    printed_sam = _printed_sam_params()
    for key, checkpoint in requests.items():
        if key == "tiny":
            if engine is not None:
                subjects.append(engine.sam_speed_subject("tiny", None, device))
            continue
        if key not in SAM_TYPES:
            raise ReportError(f"unknown SAM model {key!r} (choose from tiny, {', '.join(SAM_TYPES)})")
        if checkpoint and engine is not None:
            subjects.append(engine.sam_speed_subject(key, checkpoint, device))
            continue
        breakdown = sam_parameter_breakdown(key)
        official = OFFICIAL_CHECKPOINT_BYTES[key] / 1e6
        note = f"not timed: no checkpoint given (the official file is {official:.1f} MB)"
        rows.append(SpeedRow(method=f"sam-{key}", label=f"SAM ViT-{key[-1].upper()}, built without weights",
                             source="measured", device="none (parameters counted on the meta device)",
                             params_m=breakdown["total"], note=note))
        if key == "vit_h" and printed_sam is not None:
            notes.append("SAM ViT-H parameters: " + explain_parameter_gap(breakdown, printed_sam))
    return subjects, rows, notes


def _printed_sam_params() -> float | None:
    from samis.paper import load_speed_table

    for row in load_speed_table():
        if row.method == "SAM":
            return row.params_m
    return None


# -- images ----------------------------------------------------------------------------------------

def synthetic_image(size: tuple[int, int] = SYNTHETIC_SIZE, seed: int = 0) -> np.ndarray:
    """A seeded grey texture with a bright line, uint8 RGB, for timing when no dataset is named."""
    rng = np.random.default_rng(seed)
    height, width = size
    gray = rng.normal(128, 20, size=(height, width)).clip(0, 255)
    gray[height // 2, width // 4: 3 * width // 4] = 230  # something salient, so no method sees a constant image
    gray = gray.astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def dataset_images(workspace, dataset_id: str, count: int = 5) -> tuple[list[np.ndarray], str]:
    """The first ``count`` images of a registered dataset as uint8 RGB, at their own size.

    Returns:
        (images, a description for the table).

    Raises:
        DatasetError: the dataset is not registered or an image cannot be read.
    """
    from samis.datasets import load_dataset
    from samis.imageio import read_rgb

    dataset = load_dataset(workspace, dataset_id)
    samples = dataset.samples[: max(1, count)]
    images = [read_rgb(s.image_path) for s in samples]
    return images, f"the first {len(images)} images of dataset {dataset_id!r} at their own size ({_size_text(images)})"


# -- the table -------------------------------------------------------------------------------------

@dataclass
class SpeedTable:
    """Measured rows beside Table 7's printed rows, with the protocol and notes."""

    rows: list[SpeedRow]
    images: str
    protocol: str
    notes: list[str] = field(default_factory=list)

    COLUMNS = ("method", "label", "source", "device", "params_m", "size_mb", "fps", "ms_median", "ms_q1",
               "ms_q3", "ms_min", "ms_max", "runs", "warmup", "image_size", "note")

    def to_json_document(self) -> dict:
        return {"images": self.images, "protocol": self.protocol, "notes": list(self.notes),
                "rows": [{c: getattr(r, c) for c in self.COLUMNS} for r in self.rows]}

    def to_csv(self) -> str:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.COLUMNS)
        for row in self.rows:
            writer.writerow(["" if getattr(row, c) is None else getattr(row, c) for c in self.COLUMNS])
        return buffer.getvalue()

    def _display(self) -> list[list[str]]:
        def num(value, places):
            return "–" if value is None else f"{value:.{places}f}"

        out = []
        for r in self.rows:
            fps_places = 2 if r.fps is not None and r.fps < 10 else 1
            spread = "" if r.ms_median is None else f"{r.ms_q1:.1f}–{r.ms_q3:.1f} ({r.ms_min:.1f}–{r.ms_max:.1f})"
            shown = {k: r.printed.get(k) or num(getattr(r, k), p) for k, p in
                     (("params_m", 1), ("size_mb", 1), ("fps", fps_places))}
            name = r.label if r.source == "paper" else r.method
            out.append([name, r.source, r.device, shown["params_m"], shown["size_mb"], shown["fps"],
                        num(r.ms_median, 1), spread, str(r.runs) if r.runs else "", r.image_size])
        return out

    HEADER = ("method", "source", "device", "params (M)", "size (MB)", "FPS", "ms median", "ms IQR (min–max)",
              "runs", "image")

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(self.HEADER) + " |", "|" + "---|" * 3 + "---:|" * 5 + "---|---|"]
        for cells in self._display():
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines += ["", f"- images: {self.images}", f"- protocol: {self.protocol}"] + [f"- {n}" for n in self._row_notes() + self.notes]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        body = self._display()
        widths = [max(len(r[i]) for r in [list(self.HEADER), *body]) for i in range(len(self.HEADER))]

        def line(cells):
            return "  ".join(c.rjust(w) if 3 <= i <= 8 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        lines = [line(self.HEADER), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
        lines += [f"images: {self.images}", f"protocol: {self.protocol}"] + self._row_notes() + self.notes
        return "\n".join(lines) + "\n"

    def _row_notes(self) -> list[str]:
        return [(r.label if r.label.startswith(r.method) else f"{r.method}: {r.label}") + (f" — {r.note}" if r.note else "")
                for r in self.rows if r.source == "measured"]


def protocol_text(warmup: int, runs: int, time_budget_s: float | None) -> str:
    budget = f", stopped after {time_budget_s:g} s (at least 3 runs)" if time_budget_s else ""
    return (f"batch 1, {warmup} warm-up runs, then up to {runs} timed runs{budget}; CUDA synchronised around each "
            "timed run on a GPU; FPS = 1000 / median ms; spread = interquartile range and min–max")


def paper_speed_rows() -> list[SpeedRow]:
    """Table 7 as speed rows (device: the paper's RTX 3080)."""
    from samis.paper import SPEED_DEVICE, load_speed_table

    return [SpeedRow(method=r.method, label=r.printed_name, source="paper", device=SPEED_DEVICE,
                     params_m=r.params_m, size_mb=r.model_mb, fps=r.fps,
                     printed={"params_m": r.printed["params_m"], "size_mb": r.printed["model_mb"], "fps": r.printed["fps"]})
            for r in load_speed_table()]


def speed_table(subjects: list[SpeedSubject], images: list[np.ndarray], images_text: str, *,
                extra_rows: list[SpeedRow] | None = None, notes: list[str] | None = None, warmup: int = 3,
                runs: int = 20, time_budget_s: float | None = 30.0, include_paper: bool = True,
                progress: ProgressCallback | None = None) -> SpeedTable:
    """Time every subject and put the results beside Table 7.

    Args:
        subjects: what to time (see :func:`baseline_subjects`, :func:`sam_subjects`).
        images: uint8 RGB images; images_text says what they are.
        extra_rows: rows not timed (e.g. parameter counts of SAM models without a checkpoint).
        notes: lines to print under the table.
        warmup, runs, time_budget_s: the protocol (see :func:`measure_fps`).
        include_paper: add Table 7's printed rows.
        progress: optional callback, sent a :class:`samis.runs.RunProgress` (stage ``speed``, unit methods,
            detail ``timing <label>``) before each subject is timed and after it.

    Returns:
        the :class:`SpeedTable`.
    """
    rows = []
    tracker = ProgressTracker(progress, len(subjects), "speed", unit="methods").start()
    for subject in subjects:
        tracker.working_on(f"timing {subject.label}")
        rows.append(measure_fps(subject, images, warmup=warmup, runs=runs, time_budget_s=time_budget_s))
        tracker.advance()
    rows += list(extra_rows or [])
    notes = list(notes or [])
    if include_paper:
        rows += paper_speed_rows()
        notes.append("paper rows: Song et al. 2024, Table 7, measured on an NVIDIA RTX 3080 over three datasets; "
                     "the measured rows above ran here, on the device named in each row")
        official_h = OFFICIAL_CHECKPOINT_BYTES["vit_h"] / 1e6
        notes.append(f"model size: the paper prints 1228.8 MB for SAM; the official ViT-H checkpoint is "
                     f"{official_h:.1f} MB (float32 weights)")
    return SpeedTable(rows=rows, images=images_text, protocol=protocol_text(warmup, runs, time_budget_s), notes=notes)


def parse_checkpoint_options(values: list[str] | None) -> dict[str, str]:
    """``["vit_h=/x/sam_vit_h_4b8939.pth", "/y/sam_vit_b_01ec64.pth"]`` → model type → path.

    A bare path names its type in the file name (``vit_h``, ``vit_l`` or ``vit_b``).

    Raises:
        ReportError: the type cannot be told or is unknown.
    """
    result: dict[str, str] = {}
    for value in values or []:
        if "=" in value and value.split("=", 1)[0] in SAM_TYPES:
            key, path = value.split("=", 1)
        else:
            found = [t for t in SAM_TYPES if t in os.path.basename(value)]
            if len(found) != 1:
                raise ReportError(f"cannot tell the SAM model type of checkpoint {value!r}; write it as vit_h=PATH")
            key, path = found[0], value
        result[key] = path
    return result


def split_speed_methods(methods: list[str] | None, baseline_names: list[str]) -> tuple[list[str], dict[str, None]]:
    """Split requested ids into baselines and SAM models (``sam-tiny-random``/``tiny``, ``sam-vit_h``/``vit_h``).

    None means every baseline, the test-size SAM and the three SAM types.

    Raises:
        ReportError: an id that is neither.
    """
    if methods is None:
        return list(baseline_names), {"tiny": None, **{t: None for t in SAM_TYPES}}
    baselines, sam = [], {}
    for name in methods:
        key = name.strip()
        bare = key[4:] if key.startswith("sam-") else key
        if key in baseline_names:
            baselines.append(key)
        elif key in (TINY_SAM, "tiny", "sam-tiny"):
            sam["tiny"] = None
        elif bare in SAM_TYPES:
            sam[bare] = None
        else:
            choices = ", ".join([*baseline_names, TINY_SAM, *(f"sam-{t}" for t in SAM_TYPES)])
            raise ReportError(f"unknown method {name!r} for the speed table (choose from {choices})")
    return baselines, sam


def speed_report(workspace=None, methods: list[str] | None = None, dataset: str | None = None, n_images: int = 5,
                 checkpoints: dict[str, str] | None = None, device: str = "auto", warmup: int = 3, runs: int = 20,
                 time_budget_s: float | None = 30.0, include_paper: bool = True,
                 progress: ProgressCallback | None = None) -> SpeedTable:
    """Everything samis can run here, timed on a dataset's images (or a synthetic one), beside Table 7.

    Args:
        workspace: the samis workspace (needed with ``dataset``).
        methods: ids (baselines, ``sam-tiny-random``, ``sam-vit_h``…); None = all.
        dataset: registered dataset whose first ``n_images`` images are used; None = a synthetic 200×200 image.
        checkpoints: SAM model type → checkpoint path; those types are timed (and added when not requested).
        device: for SAM (``auto`` = CUDA, then MPS, then CPU).
        warmup, runs, time_budget_s: the protocol (see :func:`measure_fps`).
        include_paper: add Table 7's printed rows.
        progress: optional callback (see :func:`speed_table`).

    Raises:
        ReportError: an unknown method; DatasetError/SamError pass through.
    """
    try:
        from samis.baselines import BASELINES

        names = list(BASELINES)
    except ImportError:
        names = []
    baselines, sam = split_speed_methods(methods, names)
    for key, path in (checkpoints or {}).items():
        sam[key] = path
    if dataset:
        images, images_text = dataset_images(workspace, dataset, n_images)
    else:
        images, images_text = [synthetic_image()], "one synthetic 200x200 image (seeded grey noise with a bright line)"
    subjects, notes = baseline_subjects(baselines) if baselines else ([], [])
    sam_list, param_rows, sam_notes = sam_subjects(sam, device) if sam else ([], [], [])
    return speed_table(subjects + sam_list, images, images_text, extra_rows=param_rows, notes=notes + sam_notes,
                       warmup=warmup, runs=runs, time_budget_s=time_budget_s, include_paper=include_paper,
                       progress=progress)
