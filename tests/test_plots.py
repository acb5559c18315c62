"""Legible charts (issue 20, item 7): axes in words, legends that are not cut off, a readable speed chart."""

from __future__ import annotations

import re

from samis.plots import accuracy_speed_figure, axis_title, log_ticks, per_class_rate_figure
from samis.speed.compare import AccuracySpeedPoint

RAW_NAME = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")  # fpr_at_tpr95, false_alarm_rate


def _axis_titles(figure) -> list[str]:
    layout = figure.layout
    return [axis.title.text or "" for axis in (layout.xaxis, layout.yaxis)]


def test_every_axis_in_words():
    import pandas as pd

    frame = pd.DataFrame({"method": ["ft", "sr"], "class": ["a", "a"], "fpr_at_tpr95": [0.2, 0.4]})
    for figure in (per_class_rate_figure(frame, {}),):
        for title in _axis_titles(figure):
            assert title and not RAW_NAME.match(title), title
    assert axis_title("fpr_at_tpr95") != "fpr_at_tpr95"


def _points(n: int):
    return [AccuracySpeedPoint(f"m{i}", f"a long method name {i}", 0.5 * 3 ** (i % 7), 0.5 + 0.01 * i,
                               636.0 if i == 0 else 5.0 * i, "paper" if i % 2 else "measured") for i in range(n)]


def test_speed_chart_labels_do_not_overlap_and_sam_does_not_cover_it():
    figure = accuracy_speed_figure(_points(12), {})
    for trace in figure.data:
        assert "text" not in (trace.mode or "")  # names on hover and in the legend, never over points
        sizes = trace.marker.size if isinstance(trace.marker.size, (list, tuple)) else [trace.marker.size]
        assert max(sizes) <= 40
    assert len(figure.data) == 12 and all(trace.showlegend is not False for trace in figure.data)
    ticks = list(figure.layout.xaxis.tickvals)
    assert ticks and all(re.fullmatch(r"[125]e?-?\d*|[125]0*|0\.0*[125]", f"{t:g}") for t in ticks), ticks
    assert figure.layout.xaxis.type == "log" and "frames per second" in figure.layout.xaxis.title.text


def test_a_legend_of_twenty_methods_sits_under_the_chart_with_room_for_every_row():
    figure = accuracy_speed_figure(_points(20), {})
    assert figure.layout.legend.orientation == "h"
    assert figure.layout.height >= 460 + 24 * 5  # five rows of four entries
    assert log_ticks([0.3, 80]) == [0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]


def test_long_legend_names_get_columns_wide_enough_for_a_half_page_chart():
    from samis.plots import curve_figures

    curves = {"precision": [1.0] * 256, "recall": [0.5] * 256, "fm": [0.4] * 256}
    scores = {name: {"curves": curves} for name in ("good", "sam-tiny-random+oracle", "weak")}
    pr, _ = curve_figures(scores, {})
    width = pr.layout.legend.entrywidth
    assert width * 60 >= len("sam-tiny-random+oracle") + 6  # a column holds the longest name and its swatch
