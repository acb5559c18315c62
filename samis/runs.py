"""Progress events (done, total, stage, ETA) and the report base shared by every run (the runner is :mod:`samis.runner`).

Every library function that works through images — baselines, SAM runs, selection, prompts,
prediction import, the demo build, evaluation, speed timing — tells its caller how far it is
through one callback signature, ``progress(event: RunProgress) -> None``, and returns a report
with the same :meth:`Report.summary` / :meth:`Report.as_dict`. The CLI draws the events with one
tqdm printer (:func:`samis.commands._common.progress_printer`), the dashboard with one widget
(:class:`samis.dashboard.ui.Progress`).

Library loops do not compute rates themselves: they hold a :class:`ProgressTracker`, tell it how
many items were already done before the run (resumed from the cache or the store), and advance it
after each item. The rate and ETA count only the work done in this run, so a run resuming at 990
of 1000 images does not claim it did 990 images in its first second.

This module imports neither torch nor streamlit: every layer may use it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np


# ---- progress ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunProgress:
    """How far a run is: one event, sent after each item (and once at the start).

    Attributes:
        done: items finished, including those resumed (already on disk before the run).
        total: items the run covers.
        stage: what is running (``"ft"``, ``"sam-vit_h masks"``, ``"evaluate"`` …).
        eta_s: seconds left at the rate of this run's own work; None before the first item is done.
        rate: items per second done by this run (resumed items excluded); None before the first.
        unit: what an item is, for display (``"images"``, ``"image-method pairs"`` …).
        detail: what is being worked on now, when a stage has named items (``"timing ft"``).
    """

    done: int
    total: int
    stage: str = ""
    eta_s: float | None = None
    rate: float | None = None
    unit: str = "images"
    detail: str = ""

    @property
    def fraction(self) -> float:
        """``done / total`` in [0, 1] (1 when there is nothing to do)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 1.0

    def text(self) -> str:
        """One line for people: ``ft: 12/60 images · 3.1/s · about 15 s left · timing ft``."""
        parts = [f"{self.stage + ': ' if self.stage else ''}{self.done}/{self.total} {self.unit}"]
        if self.rate:
            parts.append(f"{self.rate:.1f}/s")
        if self.eta_s is not None and self.done < self.total:
            parts.append(f"about {format_duration(self.eta_s)} left")
        if self.detail:
            parts.append(self.detail)
        return " · ".join(parts)


#: the one progress callback signature of the library
ProgressCallback = Callable[[RunProgress], None]


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 10 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressTracker:
    """Counts a run's items and sends :class:`RunProgress` events to an optional callback.

    Args:
        progress: the caller's callback, or None (the tracker then only counts).
        total: items the run covers.
        stage: the events' stage name.
        done: items already done before this run (resumed); they never count toward the rate.
        unit: what an item is, for display.
        clock: seconds as a float (tests pass a fake one).
    """

    def __init__(self, progress: ProgressCallback | None, total: int, stage: str = "", *, done: int = 0,
                 unit: str = "images", clock: Callable[[], float] = time.perf_counter):
        self.progress = progress
        self.total = int(total)
        self.done = int(done)
        self.resumed = int(done)
        self.stage = stage
        self.unit = unit
        self._clock = clock
        self._started = clock()

    @property
    def worked(self) -> int:
        """Items done by this run (resumed ones excluded)."""
        return self.done - self.resumed

    def elapsed(self) -> float:
        """Seconds since the tracker was made or its clock last restarted."""
        return self._clock() - self._started

    def rate(self) -> float | None:
        """Items per second of this run's own work (None before the first item)."""
        elapsed = self.elapsed()
        return self.worked / elapsed if self.worked > 0 and elapsed > 0 else None

    def event(self, detail: str = "") -> RunProgress:
        """The current state as an event (sent to nobody)."""
        rate = self.rate()
        if self.done >= self.total:
            eta = 0.0 if rate is not None else None
        else:
            eta = (self.total - self.done) / rate if rate else None
        return RunProgress(self.done, self.total, self.stage, eta, rate, self.unit, detail)

    def _emit(self, detail: str = "") -> None:
        if self.progress is not None:
            self.progress(self.event(detail))

    def start(self) -> ProgressTracker:
        """Send the first event (``done`` = resumed items) and start the clock; returns self."""
        self.restart_clock()
        self._emit()
        return self

    def restart_clock(self) -> None:
        """Start timing now: set-up done since the start (loading a model) is not work on items."""
        self._started = self._clock()

    def working_on(self, detail: str) -> None:
        """Say which item is being worked on, without advancing (for stages with long named items)."""
        self._emit(detail)

    def advance(self, count: int = 1, detail: str = "") -> None:
        """Count ``count`` more items done and send an event.

        Raises:
            ValueError: a negative count (events never go backwards).
        """
        if count < 0:
            raise ValueError(f"progress cannot go backwards (advance by {count})")
        self.done += count
        self._emit(detail)


def staged(progress: ProgressCallback | None, stage: str) -> ProgressCallback | None:
    """A callback that passes events on under another stage name (for runs made of several runs).

    Args:
        progress: the outer callback, or None.
        stage: the stage name the outer callback sees.

    Returns:
        the relabelling callback, or None when ``progress`` is None.
    """
    if progress is None:
        return None
    return lambda event: progress(dataclasses.replace(event, stage=stage))


# ---- reports --------------------------------------------------------------------------------------
def jsonable(value):
    """A value made of JSON types: paths as text, numpy scalars and arrays as numbers and lists,
    NaN and infinities as None, tuples and sets as lists, dataclasses as dicts."""
    if isinstance(value, Report):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Report:
    """Base of every run report: the same ``summary()``, ``details()``, ``describe()`` and ``as_dict()``.

    Subclasses are dataclasses; they write :meth:`summary` and may add :meth:`details` lines and
    computed values (``derived``: names of properties that :meth:`as_dict` includes).
    """

    #: properties added to :meth:`as_dict` besides the dataclass fields
    derived: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people: what the run did."""
        raise NotImplementedError

    def details(self) -> list[str]:
        """More lines under the summary (counts, examples); none by default."""
        return []

    def describe(self) -> str:
        """The summary and its detail lines, as the CLI prints them."""
        return "\n".join([self.summary(), *self.details()])

    def as_dict(self) -> dict:
        """Every field (and derived value) as JSON types (see :func:`jsonable`)."""
        document = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        document.update({name: getattr(self, name) for name in self.derived})
        return jsonable(document)


class JoinedProgress:
    """The progress events of one part of a run (one method, one group of methods) as part of a count over every
    part: done = the parts before's items plus this part's; total = that plus this part's total for it and for
    each part still to come (exact once the last part starts). Its ``total`` is the part's own total."""

    def __init__(self, progress: ProgressCallback | None, before: int, parts_left: int):
        self.progress, self.before, self.parts_left, self.total = progress, before, parts_left, 0

    def __call__(self, event: RunProgress) -> None:
        self.total = event.total
        if self.progress is None:
            return
        done, total = self.before + event.done, self.before + event.total * self.parts_left
        eta = (total - done) / event.rate if event.rate else event.eta_s
        self.progress(dataclasses.replace(event, done=done, total=total, eta_s=eta))
