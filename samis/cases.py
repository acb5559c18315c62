"""Case filters and gallery picks: which images to look at, from per-image results.

The Cases page and the Gallery page only show what these functions choose, so every choice can be
tested without Streamlit and made the same way from Python:

- :func:`per_image_tables` turns an evaluation's per-image results into one table per metric
  (images × methods, with each image's class);
- :func:`filter_cases` keeps the images a :class:`CaseQuery` asks for (all, A beats B by at least x,
  good cases of A, worst N of A; classes; a range of A's value) and sorts them, best of A first;
- :func:`gallery_images` picks the rows of a qualitative grid (first of each class in turn, seeded
  random, or chosen ids).

Directions come from :data:`samis.metrics.HIGHER_IS_BETTER`: for MAE, lower is better, so "beats"
means a lower value and "worst" the highest.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from samis.counts import check_count
from samis.methods import first_sam_method
from samis.metrics import HIGHER_IS_BETTER, IMAGE_METRICS
from samis.stats import format_p
from samis.tables.columns import metric_label

#: filter id → what it keeps
CASE_FILTERS = {
    "all": "all images",
    "beats": "method A beats method B by at least x",
    "good": "good cases: A beats the best other method by at least x",
    "worst": "worst N of method A",
}
#: the Cases metric read from the inspection metrics: each image's IoU at its method's calibrated operating
#: threshold (:meth:`samis.pixel_level.PixelLevelResult.per_image_iou_frame`)
OPERATING_POINT_IOU = "IoU@op"
#: every metric a case query can sort by
CASE_METRICS = (*IMAGE_METRICS, OPERATING_POINT_IOU)
#: gallery pick id → how images are chosen
GALLERY_PICKS = {"first": "first of each class", "random": "random (seeded)", "chosen": "chosen images"}


def per_image_tables(per_image: pd.DataFrame, image_ids: Sequence[str], classes: Mapping[str, str],
                     methods: Sequence[str]) -> dict[str, pd.DataFrame]:
    """One table per image metric: rows are images (in ``image_ids`` order), ``class`` then one column per method.

    Args:
        per_image: the long frame of :meth:`samis.evaluation.EvaluationResult.per_image_frame`
            (columns ``image``, ``method`` and the metrics).
        image_ids: the images of the split, in the order to show.
        classes: image id → defect class.
        methods: the methods, in column order (a method without a map for an image gets NaN).

    Returns:
        metric → frame indexed by image id (index name ``image``).
    """
    tables = {}
    for metric in IMAGE_METRICS:
        wide = per_image.pivot(index="image", columns="method", values=metric).reindex(
            index=list(image_ids), columns=list(methods))
        wide.columns.name = None
        wide.insert(0, "class", [classes[i] for i in image_ids])
        wide.index.name = "image"
        tables[metric] = wide
    return tables


def case_higher_is_better(metric: str) -> bool:
    """The direction of a Cases metric (IoU at the operating point: higher is better)."""
    return True if metric == OPERATING_POINT_IOU else HIGHER_IS_BETTER[metric]


def operating_point_table(result, image_ids: Sequence[str], classes: Mapping[str, str],
                          methods: Sequence[str]) -> pd.DataFrame:
    """The :data:`OPERATING_POINT_IOU` table, shaped like one of :func:`per_image_tables`.

    Args:
        result: a :class:`samis.pixel_level.PixelLevelResult` of the same split.
        image_ids, classes, methods: as :func:`per_image_tables` (NaN where a method has no map).

    Returns:
        frame indexed by image id: ``class`` then each method's per-image IoU at its operating threshold.
    """
    return operating_point_wide(result.per_image_iou_frame(), image_ids, classes, methods)


def operating_point_wide(frame: pd.DataFrame, image_ids: Sequence[str], classes: Mapping[str, str],
                         methods: Sequence[str]) -> pd.DataFrame:
    """:func:`operating_point_table` from the long frame of
    :meth:`samis.pixel_level.PixelLevelResult.per_image_iou_frame` (of one or several results)."""
    wide = frame.pivot(index="image", columns="method", values="iou_at_t").reindex(
        index=list(image_ids), columns=list(methods)).astype(float)
    wide.columns.name = None
    wide.insert(0, "class", [classes[i] for i in image_ids])
    wide.index.name = "image"
    return wide


def operating_point_label(result, method: str | None = None) -> str:
    """The label of :data:`OPERATING_POINT_IOU`: ``IoU@op (t=154, train, FPR≤1%)``.

    Args:
        result: the :class:`samis.pixel_level.PixelLevelResult` the values come from.
        method: whose threshold to name; None: the one threshold all methods share, else "t per method".
    """
    thresholds = {name: m.threshold for name, m in result.methods.items()}
    if method in thresholds:
        t_text = f"t={thresholds[method]}"
    else:
        t_text = f"t={next(iter(thresholds.values()))}" if len(set(thresholds.values())) == 1 else "t per method"
    share = f"{100 * result.options.budget:g}%"
    rule = f"FPR≤{share}" if result.options.calibrate == "pixel" else f"good parts flagged≤{share}"
    return f"IoU@op ({t_text}, {result.calibration_split}, {rule})"


def paired_rows(result) -> tuple[list[dict], list[str]]:
    """A :class:`samis.stats.PairedComparison` as table rows of text (no None anywhere), and the footnotes.

    Numbers have 4 places, p-values two significant digits in scientific notation (:func:`samis.stats.format_p`),
    metrics their threshold label (``IoU@adaptive``); a missing cell is ``–`` and a footnote says why.
    """
    def number(value) -> str:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"

    rows, untested = [], []
    for metric, entry in result.metrics.items():
        if entry.get("p_wilcoxon") is None:
            untested.append(metric_label(metric))
        lo, hi = entry["diff_ci"]
        rows.append({"metric": metric_label(metric), "better": "higher" if HIGHER_IS_BETTER[metric] else "lower",
                     "A": number(entry["a"]), "B": number(entry["b"]), "A − B": number(entry["diff"]),
                     "lo": number(lo), "hi": number(hi), "p (Wilcoxon)": format_p(entry.get("p_wilcoxon")),
                     "p (Holm)": format_p(entry.get("p_holm")), "verdict": entry["verdict"]})
    notes = [f"p –: {', '.join(untested)} are dataset curves (the best of 256 thresholds over all images), with no "
             "per-image value to test; their interval is the paired bootstrap's"] if untested else []
    return rows, notes


def outcome_selected(query: "CaseQuery", span: tuple[float, float] | None = None) -> bool:
    """Whether a query keeps images by method A's or B's scores (``beats``, ``good``, ``worst``, a value range
    narrower than ``span``): a paired test on such a subset is not valid (its rows were chosen by the outcome)."""
    narrowed = query.value_range is not None and (span is None or tuple(query.value_range) != tuple(span))
    return query.filter in ("beats", "good", "worst") or narrowed


def default_pair(methods: Sequence[str]) -> tuple[str, str]:
    """Methods A and B a Cases view starts from: A is the first SAM method (else the first), B the first other."""
    a = first_sam_method(methods) or methods[0]
    others = [m for m in methods if m != a]
    return a, (others[0] if others else a)


def value_span(table: pd.DataFrame, methods: Sequence[str]) -> tuple[float, float]:
    """The range a value filter spans: every value of the methods, and at least [0, 1] (every per-image metric's range)."""
    values = table[list(methods)].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    low = min(float(finite.min()), 0.0) if finite.size else 0.0
    high = max(float(finite.max()), 1.0) if finite.size else 1.0
    return low, high


def clamp_range(value_range, span: tuple[float, float]) -> tuple[float, float]:
    """A (low, high) pair put in order and inside ``span``; anything that is not two numbers becomes ``span``."""
    try:
        low, high = sorted(float(v) for v in value_range)
    except (TypeError, ValueError):
        return span
    if not (math.isfinite(low) and math.isfinite(high)):
        return span
    return min(max(low, span[0]), span[1]), min(max(high, span[0]), span[1])


def image_values(tables: Mapping[str, pd.DataFrame], image_id: str, methods: Sequence[str]) -> pd.DataFrame:
    """Every per-image metric of one image: methods × metrics (NaN: no map)."""
    return pd.DataFrame({metric: [table.loc[image_id, m] for m in methods] for metric, table in tables.items()},
                        index=list(methods))


@dataclass(frozen=True)
class CaseQuery:
    """What to keep of a per-image table.

    Attributes:
        method_a: the method the view is about (sort order, range, "worst").
        metric: an image metric of :data:`samis.metrics.IMAGE_METRICS`, or :data:`OPERATING_POINT_IOU`.
        filter: a key of :data:`CASE_FILTERS`.
        method_b: the method A is compared with by ``beats``.
        margin: how far ahead A must be for ``beats`` and ``good`` (in the metric's units).
        worst_n: how many images ``worst`` keeps.
        classes: keep only these defect classes (empty: all).
        value_range: keep images whose A value lies in [low, high] (None: no range). An image without
            a map of A is kept only when the range spans everything (see :func:`value_span`).
        defect_free_only: keep only defect-free images (empty ground truth; the good parts of
            :mod:`samis.image_level`); :func:`filter_cases` then needs their ids.
    """

    method_a: str
    metric: str = "Fw"
    filter: str = "all"
    method_b: str | None = None
    margin: float = 0.0
    worst_n: int = 20
    classes: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None
    defect_free_only: bool = False

    def __post_init__(self):
        if self.metric not in CASE_METRICS:
            raise ValueError(f"unknown image metric {self.metric!r} (choose from {', '.join(CASE_METRICS)})")
        if self.filter not in CASE_FILTERS:
            raise ValueError(f"unknown case filter {self.filter!r} (choose from {', '.join(CASE_FILTERS)})")
        if not math.isfinite(self.margin):
            raise ValueError(f"the margin must be a number, not {self.margin}")
        if self.value_range is not None and not all(math.isfinite(v) for v in self.value_range):
            raise ValueError(f"the value range must be two numbers, not {self.value_range}")
        object.__setattr__(self, "worst_n", check_count("worst_n", self.worst_n, "worst N"))


@dataclass
class CaseSelection:
    """The images a :class:`CaseQuery` kept.

    Attributes:
        frame: the kept rows (``class``, then ``margin`` for ``beats`` / ``good``, then the methods),
            indexed by image id, sorted.
        total: images in the table before filtering.
        higher_is_better: the metric's direction.
        margin_column: the name of the margin column (None when there is none).
        notes: what the user should know (e.g. a filter that needs two methods).
    """

    frame: pd.DataFrame
    total: int
    higher_is_better: bool
    margin_column: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def image_ids(self) -> list[str]:
        return list(self.frame.index)


def filter_cases(table: pd.DataFrame, methods: Sequence[str], query: CaseQuery,
                 defect_free: Collection[str] | None = None) -> CaseSelection:
    """Keep and sort the images a query asks for.

    Args:
        table: one metric's table from :func:`per_image_tables`.
        methods: the method columns to show and compare (A and B among them).
        query: the filter.
        defect_free: ids of the images whose ground truth is empty (needed by ``defect_free_only``).

    Returns:
        the :class:`CaseSelection`: sorted best of A first, except ``worst``, which lists A's worst
        first (images without a map of A count as worst).

    Raises:
        ValueError: method A or B is not among ``methods``; ``defect_free_only`` without ``defect_free``.
    """
    methods = list(methods)
    if query.defect_free_only and defect_free is None:
        raise ValueError("the defect-free filter needs the ids of the defect-free images")
    for role, method in (("A", query.method_a), ("B", query.method_b)):
        if method is not None and method not in methods:
            raise ValueError(f"method {role} {method!r} is not among the methods shown ({', '.join(methods)})")
    higher = case_higher_is_better(query.metric)
    sign = 1.0 if higher else -1.0
    a = table[query.method_a]
    keep = pd.Series(True, index=table.index)
    notes: list[str] = []
    if query.classes:
        keep &= table["class"].isin(query.classes)
    if query.defect_free_only:
        keep &= table.index.isin(list(defect_free))
        if not len(defect_free):
            notes.append("This split has no defect-free image (empty ground truth).")
    if query.value_range is not None:
        low, high = sorted(query.value_range)
        span_low, span_high = value_span(table, methods)
        keep &= a.between(low, high) | (a.isna() & (low <= span_low) & (high >= span_high))

    reference = None
    margin_column = None
    if query.filter == "beats":
        reference = table[query.method_b or query.method_a]
        margin_column = "margin (A − B)"
    elif query.filter == "good":
        rest = [m for m in methods if m != query.method_a]
        if not rest:
            notes.append("Good cases need at least two methods.")
        else:
            reference = table[rest].max(axis=1) if higher else table[rest].min(axis=1)
            margin_column = "margin (A − best other)"
    if reference is not None:
        ahead = sign * (a - reference)
        keep &= ahead >= query.margin

    kept = table.loc[keep, ["class", *methods]]
    if query.filter == "worst":
        kept = kept.sort_values(query.method_a, ascending=higher, na_position="first",
                                  kind="stable").head(max(0, query.worst_n))
    else:
        kept = kept.sort_values(query.method_a, ascending=not higher, na_position="last", kind="stable")
    if margin_column is not None:
        kept.insert(1, margin_column, (sign * (a - reference)).loc[kept.index])
    return CaseSelection(frame=kept, total=len(table), higher_is_better=higher, margin_column=margin_column,
                         notes=notes)


def gallery_images(image_ids: Sequence[str], classes: Mapping[str, str], pick: str, rows: int, *, seed: int = 0,
                   chosen: Sequence[str] = ()) -> list[str]:
    """The images of a qualitative grid.

    Args:
        image_ids: the split's images, in order.
        classes: image id → defect class.
        pick: ``first`` (round-robin over the classes, like the paper's figures, which show each defect
            kind), ``random`` (``rows`` images drawn with ``seed``, in split order) or ``chosen``.
        rows: how many images ``first`` and ``random`` pick (at most all of them).
        seed: the seed of ``random``.
        chosen: the images of ``chosen`` (ids outside the split are dropped).

    Raises:
        ValueError: unknown pick.
    """
    ids = list(image_ids)
    count = max(0, min(int(rows), len(ids)))
    if pick == "chosen":
        members = set(ids)
        return [i for i in dict.fromkeys(chosen) if i in members]
    if pick == "random":
        rng = np.random.default_rng(seed)
        return [ids[i] for i in sorted(rng.choice(len(ids), size=count, replace=False))]
    if pick != "first":
        raise ValueError(f"unknown gallery pick {pick!r} (choose from {', '.join(GALLERY_PICKS)})")
    per_class: dict[str, list[str]] = {}
    for image_id in ids:
        per_class.setdefault(classes[image_id], []).append(image_id)
    order = [per_class[c] for c in sorted(per_class)]
    picked: list[str] = []
    depth = 0
    while len(picked) < count:
        for members in order:
            if depth < len(members) and len(picked) < count:
                picked.append(members[depth])
        depth += 1
    return picked
