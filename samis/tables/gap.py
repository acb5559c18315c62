"""The gap row ("Compared with the SOTA method" in the paper): one method against the best other, in percent.

One method (by default ``SAM``) is compared with the best of the other rows, per metric. The paper
prints no formula; two definitions reproduce its rows and both are offered by name:

- ``larger``    (Tables 3–5): ``|gap value − best| / max(gap value, best)``; the larger value is the best
  one for Sa, Em, Fw, Fm and the gap method's own value for MAE;
- ``reference`` (Table 6): ``|gap value − best| / gap value`` for every metric.

The percentage is rounded to the nearest integer, halves up, in exact decimal arithmetic on the
values as given (for printed values: as printed). This reproduces all twenty printed percentages; none
of them lies on a half, so half-up and half-even cannot be told apart, while truncation would fail
(Table 3 Em is 24.53 → printed 25). The sign says who is ahead: positive when the best other method
is better than the gap method (the paper's case, printed without sign), negative when the gap method
itself leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from samis.errors import ReportError
from samis.tables.columns import higher_is_better

GAP_DEFINITIONS = ("larger", "reference")


@dataclass
class GapRow:
    """The gap of one method against the best other row, per metric.

    Attributes:
        method: the row key of the gap method.
        definition: ``larger`` or ``reference``.
        percent: metric → rounded integer percent (None where it cannot be computed).
        exact: metric → unrounded percent.
        against: metric → row keys holding the best other value (ties: all of them).
        source: the block (source) whose rows the gap compares.
    """

    method: str
    definition: str
    percent: dict[str, int | None]
    exact: dict[str, float | None]
    against: dict[str, list[str]]
    source: str = ""

    def label(self) -> str:
        return f"gap: {self.method} vs best other, % ({self.definition})"


def check_gap_definition(definition: str) -> None:
    """Raise for a gap definition that is not one of :data:`GAP_DEFINITIONS`.

    Raises:
        ReportError: unknown definition.
    """
    if definition not in GAP_DEFINITIONS:
        raise ReportError(f"unknown gap definition {definition!r} (choose from {', '.join(GAP_DEFINITIONS)})")


def round_half_up(value: Decimal) -> int:
    """Round to the nearest integer, halves away from zero (the paper's percentages)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gap_percent(reference: float, best: float, metric: str, definition: str) -> Decimal | None:
    """Signed percent by which ``best`` is ahead of ``reference`` under a gap definition.

    Args:
        reference: the gap method's value (SAM in the paper).
        best: the best value among the other methods.
        metric: the table metric (sets the direction).
        definition: ``larger`` (divide by the larger of the two) or ``reference`` (divide by ``reference``).

    Returns:
        the percentage as an exact Decimal (positive: the other method is better), or None when the
        denominator is zero.

    Raises:
        ReportError: unknown definition.
    """
    check_gap_definition(definition)
    # repr gives the shortest decimal that reads back as the same float: for a printed value, the print
    ref, top = Decimal(repr(float(reference))), Decimal(repr(float(best)))
    denominator = max(ref, top) if definition == "larger" else ref
    if denominator == 0:
        return None
    size = abs(ref - top) / abs(denominator) * 100
    other_is_better = top > ref if higher_is_better(metric) else top < ref
    return size if other_is_better or size == 0 else -size


def compute_gap(rows: list, keys: list[str], metrics, method_key: str, definition: str) -> GapRow:
    """The gap row of one row against the best of the others, per metric.

    Args:
        rows: the table's rows (:class:`samis.tables.model.TableRow`: ``values`` per metric).
        keys: the unique key of each row, in the same order.
        metrics: table metric names.
        method_key: the key of the gap method's row.
        definition: ``larger`` or ``reference``.

    Returns:
        the :class:`GapRow` (None cells where a metric has no values to compare).

    Raises:
        ReportError: unknown definition.
    """
    check_gap_definition(definition)
    subject = rows[keys.index(method_key)]
    percent, exact, against = {}, {}, {}
    for m in metrics:
        others = {k: r.values.get(m) for k, r in zip(keys, rows) if k != method_key and r.values.get(m) is not None}
        reference = subject.values.get(m)
        if not others or reference is None:
            percent[m], exact[m], against[m] = None, None, []
            continue
        best = max(others.values()) if higher_is_better(m) else min(others.values())
        against[m] = [k for k, v in others.items() if v == best]
        value = gap_percent(reference, best, m, definition)
        percent[m] = None if value is None else (round_half_up(value) if value >= 0 else -round_half_up(-value))
        exact[m] = None if value is None else float(value)
    return GapRow(method=method_key, definition=definition, percent=percent, exact=exact, against=against)


def gap_definition_text(definition: str) -> str:
    """One line saying what a gap definition computes."""
    if definition == "larger":
        return ("gap (larger, the paper's Tables 3-5): |value - best other| / the larger of the two, "
                "in %, rounded half up; positive = the best other method is ahead")
    return ("gap (reference, the paper's Table 6): |value - best other| / the gap method's value, "
            "in %, rounded half up; positive = the best other method is ahead")
