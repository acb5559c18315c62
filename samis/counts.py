"""Every count a person types, declared once with its range and why: the CLI's flags, the dashboard's
controls and the library functions check against :data:`COUNTS`.

A count is a whole number that sizes work or memory (resamples, workers, images shown). Each has an
upper bound so that a typo (``--ci 1000000000``) is one line and exit code 2, not a MemoryError after
minutes or hours of work:

===================  ==============  ===========================================================================
count                range           why
===================  ==============  ===========================================================================
resamples (B)        [100, 100000]   see :data:`MAX_RESAMPLES`; memory is bounded by chunking, time by the bound
workers              [1, 1024]       processes or Ray workers; each holds a copy of its inputs (a model)
worst_n (cases)      [1, 10000]      rows of the case table (each with a thumbnail when shown)
grid_images          [1, 48]         thumbnails of the worst-false-alarm grid, each rendered at once
gallery_rows         [1, 24]         gallery rows, each a row of rendered maps
speed_images         [1, 1000]       images timed per method (``speed --images``)
speed_warmup         [0, 100]        untimed runs per method
speed_runs           [1, 1000]       timed runs per method (the time budget stops earlier)
panel                [16, 4096]      figure panel side in pixels (a 4096² panel is 48 MiB per mask layer)
===================  ==============  ===========================================================================

SAM's generator counts (``--points-per-side`` [1, 128], ``--points-per-batch`` [1, 4096], ``--crop-n-layers``)
are declared with the other generator parameters in :mod:`samis.sam.params` and checked there.

Typed text is read as a whole number; ``1e9`` reads as 1000000000, so both get the same answer.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from samis.errors import SamisError

#: the most bootstrap resamples: the draws are chunked (samis.stats.resample_chunks, 16 MiB of indices at a
#: time), so memory no longer grows with B × n, only the resampled values do (B × 11 metrics × 8 bytes = 8.8 MB
#: per method at B = 100,000); run time does grow with B: 100,000 resamples of 900 images took 10.6 s for two
#: methods (about 5 s per method, 260 MB peak; 2.9 GB before the chunking). More adds time, not precision: the
#: Monte Carlo error of a percentile interval at B = 10,000 is already below the metrics' third decimal
MAX_RESAMPLES = 100_000


class CountError(SamisError):
    """A typed count is not a whole number or lies outside its declared range."""


@dataclass(frozen=True)
class Count:
    """One count a person can type.

    Attributes:
        name: the key in :data:`COUNTS`.
        label: what it counts, for messages.
        low, high: the valid range, both ends included.
        why: the reason for the upper bound (documentation and ``--help``).
    """

    name: str
    label: str
    low: int
    high: int
    why: str

    def range_text(self) -> str:
        return f"[{self.low}, {self.high}]"

    def check(self, value, flag: str | None = None) -> int:
        """``value`` (an int, or typed text such as ``"1000"`` or ``"1e9"``) as an int within the range.

        Raises:
            CountError: one line naming ``flag`` (else the count) and the range.
        """
        subject = flag or self.label
        number = _whole_number(value)
        if number is None:
            raise CountError(f"{subject} must be a whole number in {self.range_text()}, not {str(value)!r}")
        if number < self.low:
            raise CountError(f"{subject} must be at least {self.low} (got {number})")
        if number > self.high:
            raise CountError(f"{subject} must lie in {self.range_text()} (got {number}): {self.why}")
        return number


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
    else:
        text = str(value).strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
    if not math.isfinite(number) or not number.is_integer():
        return None
    return int(number)


COUNTS: dict[str, Count] = {c.name: c for c in (
    Count("resamples", "the number of bootstrap resamples", 100, MAX_RESAMPLES,
          "about 5 s per method per 100,000 resamples of 900 images; more adds run time, not precision"),
    Count("workers", "the number of workers", 1, 1024, "each is a process or a Ray worker holding its own inputs"),
    Count("worst_n", "the number of worst cases", 1, 10_000, "rows of the case table"),
    Count("grid_images", "the number of grid images", 1, 48, "each thumbnail is rendered at once"),
    Count("gallery_rows", "the number of gallery rows", 1, 24, "each row renders every method's map"),
    Count("speed_images", "the number of images to time", 1, 1000, "each is timed with every method"),
    Count("speed_warmup", "the number of warm-up runs", 0, 100, "untimed work per method"),
    Count("speed_runs", "the number of timed runs", 1, 1000, "timed work per method"),
    Count("panel", "the panel size in pixels", 16, 4096, "a panel is rendered in memory per mask layer"),
)}


def whole_number_or_text(text: str):
    """An argparse ``type`` for an integer flag checked later: the whole number typed (``1e9`` is 1000000000),
    else the text as typed (the check then names it in one line)."""
    number = _whole_number(text)
    return text if number is None else number


def check_count(name: str, value, flag: str | None = None) -> int:
    """``value`` checked against the declared count ``name`` (see :data:`COUNTS`).

    Raises:
        CountError: not a whole number, or out of range (one line naming ``flag`` and the range).
    """
    return COUNTS[name].check(value, flag)


def add_count_argument(parser, flag: str, count: str, **kwargs) -> None:
    """Add ``flag`` to an argparse parser as the declared ``count``: the text is kept as typed and checked by
    :func:`check_count_arguments` (so a bad value is one ``error:`` line with exit code 2, as other errors)."""
    action = parser.add_argument(flag, **kwargs)
    default = kwargs.get("default")
    bound = COUNTS[count]
    action.help = (action.help or "") + f" [{bound.low}..{bound.high}]"
    declared = dict(parser.get_default("_counts") or {})
    declared[action.dest] = (count, flag, default)
    parser.set_defaults(_counts=declared)


def check_count_arguments(args) -> None:
    """Turn every count argument of parsed ``args`` into a checked int (None stays None).

    Raises:
        CountError: a value out of its declared range.
    """
    for dest, (count, flag, _) in (getattr(args, "_counts", None) or {}).items():
        value = getattr(args, dest, None)
        if value is not None:
            setattr(args, dest, check_count(count, value, flag))
    for check, dest in getattr(args, "_declared_checks", None) or ():  # parameters declared elsewhere (SAM's)
        if getattr(args, dest, None) is not None:
            check(getattr(args, dest))
