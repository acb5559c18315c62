"""The timing protocol: what a speed subject is, how it is timed, and the row a timing gives.

Protocol of :func:`measure_fps` (printed with every table, see :func:`protocol_text`):

- batch 1: one uint8 RGB image per call, processed fully (for SAM: automatic masks for the image);
- ``warmup`` untimed runs first (lazy initialisation, allocator and cuDNN warm-up), then ``runs`` timed
  runs, cycling over the given images at their own size;
- on a GPU the subject's ``synchronize`` (``torch.cuda.synchronize``) is called before starting and
  before stopping each timer, so queued kernels are inside the measured time;
- the report gives the median time (FPS = 1000 / median ms), the interquartile range and min / max;
- a ``time_budget_s`` stops the timed runs early (at least ``min_runs``) for very slow subjects;
- peak memory over the warm-up and timed runs: on a GPU ``torch.cuda.max_memory_allocated`` (reset first:
  weights, activations and the allocator's blocks the subject holds); on the CPU the rise of the process's
  peak resident set (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``; elsewhere sampled with psutil)
  above its resident set before the warm-up: what running the subject added to memory already held.

This module knows nothing of SAM or the baselines: :mod:`samis.sam.engine` imports it to describe its
model as a :class:`SpeedSubject`, and :mod:`samis.speed.report` gathers the subjects.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from samis.errors import ReportError


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
    cuda_memory: tuple[Callable[[], None], Callable[[], int]] | None = None  # (reset peak, peak bytes) on a GPU


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
    peak_mb: float | None = None  # peak memory of the runs (None: not measured, e.g. a record made before it was)
    memory: str = ""  # what peak_mb is: MEMORY_CUDA or MEMORY_CPU


#: what a GPU row's ``peak_mb`` measures
MEMORY_CUDA = "cuda max allocated"
#: what a CPU row's ``peak_mb`` measures
MEMORY_CPU = "cpu peak rss rise"


class PeakMemory:
    """Peak memory over a stretch of work, in MB: ``with PeakMemory(subject) as peak: …``, then ``peak.mb``.

    On a GPU (the subject gives ``cuda_memory``) the allocator's peak; on the CPU the process's peak resident set
    above its resident set at the start (Linux: ``VmHWM`` reset through ``/proc/self/clear_refs``; elsewhere a
    psutil sampler every 2 ms; None where neither is available).
    """

    def __init__(self, subject: SpeedSubject):
        self.cuda = subject.cuda_memory
        self.kind = MEMORY_CUDA if self.cuda else MEMORY_CPU
        self.mb: float | None = None
        self._start = 0
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._sampled = 0

    def __enter__(self) -> "PeakMemory":
        if self.cuda:
            self.cuda[0]()
            return self
        self._start = _status_kb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")  # the peak resident set starts again from the resident set now
        except OSError:
            self._start = 0
            self._sample()
        return self

    def _sample(self) -> None:
        try:
            import psutil  # optional: only where /proc/self/clear_refs cannot reset the peak (macOS, Windows)
        except ImportError:
            return
        process = psutil.Process()
        self._start = process.memory_info().rss // 1024

        def sample() -> None:
            while not self._stop.wait(0.002):
                self._sampled = max(self._sampled, process.memory_info().rss // 1024)

        self._sampler = threading.Thread(target=sample, name="samis-peak-memory", daemon=True)
        self._sampler.start()

    def __exit__(self, *exc) -> None:
        if self.cuda:
            self.mb = self.cuda[1]() / 1e6
        elif self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self.mb = max(0, self._sampled - self._start) * 1024 / 1e6
        elif self._start:
            self.mb = max(0, _status_kb("VmHWM") - self._start) * 1024 / 1e6


def _status_kb(field_name: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (0 where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


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
    with PeakMemory(subject) as peak:
        for i in range(max(0, warmup)):
            subject.run(images[i % len(images)])
        sync()
        times_ms = _timed_runs(subject, images, runs, time_budget_s, min_runs)
    ms = np.asarray(times_ms)
    median = float(np.median(ms))
    return SpeedRow(
        method=subject.method, label=subject.label, source="measured", device=subject.device,
        params_m=subject.params_m, size_mb=subject.size_mb, fps=1000.0 / median if median > 0 else None,
        ms_median=median, ms_q1=float(np.percentile(ms, 25)), ms_q3=float(np.percentile(ms, 75)),
        ms_min=float(ms.min()), ms_max=float(ms.max()), runs=len(times_ms), warmup=max(0, warmup),
        image_size=size_text(images), note=subject.note, peak_mb=peak.mb, memory=peak.kind if peak.mb is not None else "",
    )


def _timed_runs(subject: SpeedSubject, images: list[np.ndarray], runs: int, time_budget_s: float | None,
                min_runs: int) -> list[float]:
    """Milliseconds of each timed run (synchronised around each on a GPU)."""
    sync = subject.synchronize or (lambda: None)
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
    return times_ms


def size_text(images: list[np.ndarray]) -> str:
    """The image size, or the smallest and largest (``200x200..1024x1024``), as the table shows it."""
    sizes = sorted({(im.shape[1], im.shape[0]) for im in images}, key=lambda s: s[0] * s[1])
    first, last = sizes[0], sizes[-1]
    text = f"{first[0]}x{first[1]}"
    return text if first == last else f"{text}..{last[0]}x{last[1]}"


@dataclass(frozen=True)
class TimingProtocol:
    """How a speed table is measured.

    Attributes:
        warmup: untimed runs first.
        runs: timed runs at most.
        time_budget_s: stop timing a subject after this many seconds, at least 3 runs (None: no limit).
        n_images: how many of a dataset's images are timed (a synthetic image is one image).
    """

    warmup: int = 3
    runs: int = 20
    time_budget_s: float | None = 30.0
    n_images: int = 5

    def text(self) -> str:
        """The protocol line printed under a speed table."""
        return protocol_text(self.warmup, self.runs, self.time_budget_s)


def protocol_text(warmup: int, runs: int, time_budget_s: float | None) -> str:
    """The protocol line printed under a speed table."""
    budget = f", stopped after {time_budget_s:g} s (at least 3 runs)" if time_budget_s else ""
    return (f"batch 1, {warmup} warm-up runs, then up to {runs} timed runs{budget}; CUDA synchronised around each "
            "timed run on a GPU; FPS = 1000 / median ms; spread = interquartile range and min–max")
