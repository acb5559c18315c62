"""Plotly charts of the dashboard, built from library results (no Streamlit here).

- :func:`curve_figures`: precision–recall and F-measure-against-threshold curves of several methods;
- :func:`accuracy_speed_figure`: accuracy against frames per second, marker area by parameters;
- :func:`rank_stability_figure`: each method's rank over the bootstrap resamples (a blob plot, as challengeR);
- :func:`significance_matrix_figure`: methods × methods differences, coloured, with interval and p in the hover.

Every chart takes a ``colors`` mapping (method → colour) so a method keeps its colour everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from samis.metrics import HIGHER_IS_BETTER, thresholds
from samis.tables.columns import EVALUATION_KEYS
from samis.tables.family import UPPER_BOUND_MARK, pareto_front

FALLBACK_COLOR = "#000000"  # not in the palette (its grey is #878787)
#: legend entries per row when a legend sits under a chart (a long legend beside a chart is cut off)
_LEGEND_PER_ROW = 4
#: largest marker diameter on the accuracy-against-speed chart (the biggest model gets it)
_MAX_MARKER = 40
#: axis titles in words for metric names (no raw names such as ``fpr_at_tpr95`` on an axis)
AXIS_TITLES = {
    "fpr_at_tpr95": "false-alarm rate needed to find 95 % of defect images",
    "false_alarm_rate": "share of defect-free images flagged",
    "miss_rate": "share of defect images missed",
    "auroc_area": "image-level AUROC (flagged area)",
    "auroc_max": "image-level AUROC (map maximum)",
    "maxFm": "max F-measure (β² = 0.3)", "meanFm": "mean F-measure (β² = 0.3)", "adpFm": "adaptive F-measure",
    "maxEm": "max E-measure", "meanEm": "mean E-measure", "adpEm": "adaptive E-measure",
    "Sa": "S-measure (α = 0.5)", "MAE": "mean absolute error", "Fw": "weighted F-measure",
}


def axis_title(metric: str) -> str:
    """A metric's axis title in words (the name itself when it has none)."""
    return AXIS_TITLES.get(metric, metric)


def legend_below(figure: go.Figure, entries: int, height: int) -> go.Figure:
    """Put the legend under the chart in rows of up to :data:`_LEGEND_PER_ROW` (fewer for long names) and grow
    the chart to hold it,
    so twelve or twenty long method names are all shown (a legend beside the plot is cut off)."""
    longest = max((len(trace.name or "") for trace in figure.data), default=0)
    # a half-page chart holds about 60 characters a row (each entry also has its swatch): long names get
    # wider columns, never cut or drawn over each other
    per_row = max(1, min(_LEGEND_PER_ROW, 60 // (longest + 6)))
    rows = max(1, math.ceil(entries / per_row))
    extra = 24 * rows + 40
    figure.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.14, "xanchor": "left", "x": 0,
                                 "entrywidth": 1 / per_row, "entrywidthmode": "fraction"},
                         height=height + extra, margin={"b": extra + 40})
    return figure


def log_ticks(values) -> list[float]:
    """Clean tick values for a log axis spanning ``values``: 1, 2, 5 × powers of ten."""
    positive = [float(v) for v in values if v and v > 0]
    if not positive:
        return []
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    ticks = [m * 10 ** e for e in range(low, high + 1) for m in (1, 2, 5)]
    inside = [t for t in ticks if min(positive) / 2 <= t <= max(positive) * 2]
    return inside or ticks


def curve_figures(scores: Mapping[str, dict], colors: Mapping[str, str]) -> tuple[go.Figure, go.Figure]:
    """The precision–recall and the F-measure-against-threshold curves of methods.

    Args:
        scores: method → dataset scores with ``curves`` (``precision``, ``recall``, ``fm``), as
            :attr:`samis.evaluation.EvaluationResult.scores` gives them; methods without curves are left out.
        colors: method → colour.

    Returns:
        (precision–recall figure, F-measure figure).
    """
    pr, fm = go.Figure(), go.Figure()
    axis = thresholds()
    for method, score in scores.items():
        curves = score.get("curves") or {}
        if not curves:
            continue
        line = {"color": colors.get(method, FALLBACK_COLOR)}
        pr.add_trace(go.Scatter(x=np.asarray(curves["recall"]), y=np.asarray(curves["precision"]), mode="lines",
                                name=method, line=line))
        fm.add_trace(go.Scatter(x=axis, y=np.asarray(curves["fm"]), mode="lines", name=method, line=line))
    pr.update_layout(title="Precision–recall (256 thresholds)", xaxis_title="recall", yaxis_title="precision",
                     xaxis_range=[0, 1], yaxis_range=[0, 1.02], legend_title="method")
    fm.update_layout(title="F-measure (β² = 0.3) against threshold", xaxis_title="threshold (0–255)",
                     yaxis_title="F-measure (β² = 0.3)", yaxis_range=[0, 1.02], legend_title="method")
    return legend_below(pr, len(pr.data), 420), legend_below(fm, len(fm.data), 420)


def accuracy_speed_figure(points, colors: Mapping[str, str], accuracy_title: str = "max F-measure (Fm)") -> go.Figure:
    """Accuracy against FPS (log axis, ticks at 1, 2, 5 × 10^k): paper points as circles, measured ones as
    diamonds, one legend entry per method (names in the legend and on hover, never drawn over other points).

    Args:
        points: :class:`samis.speed.compare.AccuracySpeedPoint` items.
        colors: method → colour.
        accuracy_title: the y axis title.

    Returns:
        the figure; marker diameter grows with √params up to :data:`_MAX_MARKER` px, so the largest
        model (SAM ViT-H) no longer covers the chart.
    """
    figure = go.Figure()
    largest = max([p.params_m or 0.0 for p in points] + [1e-9])
    for point in points:
        symbol = "circle" if point.source == "paper" else "diamond"
        size = 9 + (_MAX_MARKER - 9) * math.sqrt(max(point.params_m or 0.0, 0.0) / largest)
        figure.add_trace(go.Scatter(
            x=[point.fps], y=[point.accuracy], mode="markers", name=f"{point.label} ({point.source})",
            legendgroup=point.source, text=[point.label],
            marker={"symbol": symbol, "color": colors.get(point.method, FALLBACK_COLOR), "size": size,
                    "opacity": 0.85, "line": {"width": 1, "color": "#333"}},
            hovertemplate=(f"%{{text}} ({point.source})<br>%{{x:.2f}} frames per second<br>"
                           f"{accuracy_title} %{{y:.3f}}<extra></extra>"),
        ))
    ticks = log_ticks([p.fps for p in points])
    figure.update_layout(xaxis={"type": "log", "title": "frames per second (log scale)", "tickvals": ticks,
                                "ticktext": [f"{t:g}" for t in ticks]},
                         yaxis_title=accuracy_title, legend_title="method (source)")
    return legend_below(figure, len(points), 460)


def rank_stability_figure(boot, metric: str, colors: Mapping[str, str]) -> go.Figure:
    """Share of bootstrap resamples in which each method takes each rank (blob area ∝ share).

    Args:
        boot: a :class:`samis.stats.Bootstrap`.
        metric: one of its metrics.
        colors: method → colour.

    Returns:
        the figure: methods on x (ordered by their rank on the images), rank on y (1 at the top); a
        black ring marks the rank on the images themselves.
    """
    shares = boot.rank_distribution(metric)
    point = boot.point_ranks(metric)
    order = sorted(range(len(boot.methods)), key=lambda i: (point[i], boot.methods[i]))
    figure = go.Figure()
    for i in order:
        method = boot.methods[i]
        ranks = [r + 1 for r in range(len(boot.methods)) if shares[i, r] > 0]
        figure.add_trace(go.Scatter(
            x=[method] * len(ranks), y=ranks, mode="markers", name=method, showlegend=False,
            marker={"size": [6 + 34 * math.sqrt(shares[i, r - 1]) for r in ranks],
                    "color": colors.get(method, FALLBACK_COLOR), "opacity": 0.8},
            customdata=[100 * shares[i, r - 1] for r in ranks],
            hovertemplate=f"{method}<br>rank %{{y}} in %{{customdata:.1f}}% of resamples<extra></extra>"))
    figure.add_trace(go.Scatter(x=[boot.methods[i] for i in order], y=[int(point[i]) for i in order], mode="markers",
                                name="rank on the images", marker={"symbol": "circle-open", "size": 12,
                                                                   "color": "#111", "line": {"width": 2}}))
    figure.update_layout(title=f"Rank stability of {metric} over {boot.resamples} bootstrap resamples",
                         xaxis_title="method", yaxis_title="rank (1 = best)", yaxis_autorange="reversed",
                         yaxis_dtick=1, height=420)
    return figure


def significance_matrix_figure(matrix) -> go.Figure:
    """Heatmap of row − column differences of one metric; hover: difference, interval, p-value.

    Args:
        matrix: a :class:`samis.stats.SignificanceMatrix`.

    Returns:
        the figure; colour is the difference (blue: the row method is better), cells whose interval
        excludes 0 carry a ``*``.
    """
    sign = 1.0 if HIGHER_IS_BETTER.get(matrix.metric, True) else -1.0
    better = sign * matrix.diff  # > 0: the row method is better
    limit = float(np.nanmax(np.abs(better))) or 1.0
    significant = matrix.significant()
    text = [["*" if significant[i, j] else "" for j in range(len(matrix.methods))] for i in range(len(matrix.methods))]
    custom = np.stack([matrix.diff, matrix.lo, matrix.hi, matrix.p], axis=-1)
    figure = go.Figure(go.Heatmap(
        z=better, x=list(matrix.methods), y=list(matrix.methods), zmin=-limit, zmax=limit, colorscale="RdBu",
        text=text, texttemplate="%{text}", customdata=custom, colorbar={"title": "row better by"},
        hovertemplate=("%{y} − %{x}: %{customdata[0]:.4f}<br>95% interval [%{customdata[1]:.4f}, "
                       "%{customdata[2]:.4f}]<br>p = %{customdata[3]:.2g} (" + matrix.test + ")<extra></extra>"),
    ))
    figure.update_layout(title=f"{matrix.metric}: row − column (* interval excludes 0)", yaxis_autorange="reversed",
                         xaxis_title="column method", yaxis_title="row method",
                         height=120 + 34 * len(matrix.methods))
    return figure


def roc_figure(curves: Mapping[str, tuple], colors: Mapping[str, str], score: str = "area",
               aucs: Mapping[str, float] | None = None) -> go.Figure:
    """Image-level ROC curves (defect images against defect-free ones), one per method.

    Args:
        curves: method → (false-positive rates, true-positive rates), as
            :meth:`samis.image_level.ImageLevelMethod.roc` gives them.
        colors: method → colour.
        score: the image score the curves rank by (``area`` or ``max``), for the title.
        aucs: method → AUROC, shown in the legend.
    """
    figure = go.Figure()
    for method, (fpr, tpr) in curves.items():
        auc = (aucs or {}).get(method)
        name = method if auc is None or auc != auc else f"{method} (AUROC {auc:.3f})"
        figure.add_trace(go.Scatter(x=np.asarray(fpr), y=np.asarray(tpr), mode="lines", name=name,
                                    line={"color": colors.get(method, FALLBACK_COLOR), "shape": "linear"}))
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", showlegend=False,
                                line={"color": "#bbbbbb", "dash": "dot"}, hoverinfo="skip"))
    figure.update_layout(title=f"Image-level ROC by the {score} score (defect vs defect-free)",
                         xaxis_title="false-alarm rate on defect-free images", yaxis_title="share of defect images found",
                         xaxis_range=[0, 1], yaxis_range=[0, 1.02], legend_title="method")
    return legend_below(figure, len(curves), 440)


def per_class_rate_figure(frame, colors: Mapping[str, str], metric: str = "fpr_at_tpr95",
                          title: str = "False-alarm rate needed to find 95 % of each defect class") -> go.Figure:
    """Grouped bars of one image-level metric per defect class and method.

    Args:
        frame: :meth:`samis.image_level.ImageLevelResult.per_class_frame` (``method``, ``class`` and the metrics).
        colors: method → colour.
        metric: the column to draw (its axis title in words: :func:`axis_title`).
    """
    figure = go.Figure()
    for method, part in frame.groupby("method", sort=False):
        figure.add_trace(go.Bar(x=list(part["class"]), y=list(part[metric]), name=str(method),
                                marker_color=colors.get(method, FALLBACK_COLOR)))
    figure.update_layout(barmode="group", title=title, xaxis_title="defect class", yaxis_title=axis_title(metric),
                         yaxis_range=[0, 1.02], legend_title="method")
    return legend_below(figure, len(figure.data), 400)


def pixel_roc_figure(curves: Mapping[str, dict], colors: Mapping[str, str],
                     aucs: Mapping[str, float] | None = None) -> go.Figure:
    """Pooled pixel ROC curves, one per method (``curves``: :meth:`samis.pixel_level.PixelLevelResult.curves`)."""
    figure = go.Figure()
    for method, both in curves.items():
        fpr, tpr = both["roc"]
        auc = (aucs or {}).get(method)
        name = method if auc is None or auc != auc else f"{method} (AUROC {auc:.3f})"
        figure.add_trace(go.Scatter(x=np.asarray(fpr), y=np.asarray(tpr), mode="lines", name=name,
                                    line={"color": colors.get(method, FALLBACK_COLOR)}))
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", showlegend=False,
                                line={"color": "#bbbbbb", "dash": "dot"}, hoverinfo="skip"))
    figure.update_layout(title="Pixel ROC (pooled over every pixel of the split)", xaxis_title="pixel FPR",
                         yaxis_title="defect pixels found (TPR)", xaxis_range=[0, 1], yaxis_range=[0, 1.02],
                         legend_title="method")
    return legend_below(figure, len(figure.data), 420)


def pro_figure(curves: Mapping[str, dict], colors: Mapping[str, str], limit: float,
               aupros: Mapping[str, float] | None = None) -> go.Figure:
    """PRO curves (mean region overlap against pixel FPR) up to a little past ``limit``, which is drawn."""
    figure = go.Figure()
    for method, both in curves.items():
        fpr, pro = (np.asarray(a) for a in both["pro"])
        keep = fpr <= min(1.0, limit * 1.2)
        value = (aupros or {}).get(method)
        name = method if value is None or value != value else f"{method} (AUPRO@{limit:g} {value:.3f})"
        figure.add_trace(go.Scatter(x=fpr[keep], y=pro[keep], mode="lines", name=name,
                                    line={"color": colors.get(method, FALLBACK_COLOR)}))
    figure.add_vline(x=limit, line={"color": "#888888", "dash": "dash"})
    figure.update_layout(title=f"PRO curve (AUPRO integrates it up to FPR {limit:g})", xaxis_title="pixel FPR",
                         yaxis_title="mean overlap per defect region (PRO)", xaxis_range=[0, min(1.0, limit * 1.2)],
                         yaxis_range=[0, 1.02], legend_title="method")
    return legend_below(figure, len(figure.data), 420)


def by_size_figure(frame, colors: Mapping[str, str], value: str = "found") -> go.Figure:
    """Grouped bars per region size bin and method (``frame``: :meth:`samis.pixel_level.PixelLevelResult.by_size_frame`)."""
    figure = go.Figure()
    for method, rows in frame.groupby("method", sort=False):
        figure.add_trace(go.Bar(x=list(rows["size"]), y=list(rows[value]), name=method,
                                marker_color=colors.get(method, FALLBACK_COLOR),
                                customdata=list(rows["n_regions"]), hovertemplate="%{x}: %{y:.3f} (%{customdata} regions)"))
    title = {"found": "Share of regions found (overlap ≥ 0.5) at the operating point",
             "mean_overlap": "Mean region overlap at the operating point"}.get(value, value)
    figure.update_layout(barmode="group", title=title, xaxis_title="region area, % of the image", yaxis_range=[0, 1.02],
                         legend_title="method")
    return legend_below(figure, len(figure.data), 400)


def family_pareto_figure(table, metric: str = "Fm", colors: Mapping[str, str] | None = None,
                         demo: bool = False) -> go.Figure | None:
    """The family's accuracy against speed: one point per (model, mode) with an FPS, the Pareto front drawn.

    Args:
        table: a :class:`samis.tables.family.FamilyTable`.
        metric: the table metric on the y axis (``Fm``: max F).
        colors: method → colour (default: one per family).
        demo: plot the test-size random-weights models too, as a labelled demo of the code path (never as
            results: the title says so). Without it they are left out.

    Returns:
        the figure, or None where no row has both an FPS and ``metric``. Upper bounds († rows) are drawn as open
        markers named with †, and never take part in the front (:func:`samis.tables.family.pareto_front`).
    """
    rows = [r for r in table.rows if r.fps is not None and r.scores.get(metric) is not None
            and (demo or not r.random_weights)]
    if not rows:
        return None
    figure = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    families = list(dict.fromkeys(r.family for r in rows))
    title = axis_title(EVALUATION_KEYS.get(metric, metric))
    for row in rows:
        name = f"{row.method} {UPPER_BOUND_MARK}" if row.upper_bound else row.method
        color = (colors or {}).get(row.method) or palette[families.index(row.family) % len(palette)]
        figure.add_trace(go.Scatter(
            x=[row.fps], y=[row.scores[metric]], mode="markers", name=name, legendgroup=row.family, text=[name],
            marker={"symbol": "circle-open" if row.upper_bound else "circle", "size": 11, "color": color,
                    "line": {"width": 2 if row.upper_bound else 1, "color": color if row.upper_bound else "#333"}},
            hovertemplate=f"%{{text}} ({row.family})<br>%{{x:.2f}} frames per second<br>{title} %{{y:.3f}}<extra></extra>"))
    front = pareto_front(rows, metric)
    if front:
        figure.add_trace(go.Scatter(x=[r.fps for r in front], y=[r.scores[metric] for r in front], mode="lines",
                                    name="Pareto front (deployable)", line={"color": "#444", "dash": "dot"},
                                    hoverinfo="skip"))
    ticks = log_ticks([r.fps for r in rows])
    heading = f"{table.dataset} ({table.split}): {title} against speed"
    if demo and any(r.random_weights for r in rows):
        heading += " — test-size demo: random weights, not any family's accuracy"
    figure.update_layout(title=heading, xaxis={"type": "log", "title": "frames per second (log scale)",
                                               "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]},
                         yaxis_title=title, legend_title="model+mode")
    return legend_below(figure, len(rows) + 1, 460)
