"""Speed beside accuracy: the Speed view's table rows and its accuracy-against-FPS points.

Table 7 gives only speed; each paper point takes its accuracy from one of the accuracy tables
(Tables 3–5), and each measured point from the scores measured here on the chosen dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from samis.paper import SPEED_DEVICE, PaperSpeedRow, PaperTable
from samis.speed.table import SpeedTable

#: the paper tables whose accuracy can stand beside Table 7's speed
ACCURACY_TABLES = {"sd900": "Table 3 (SD-saliency-900)", "mt": "Table 4 (MT)", "nrsd-mn": "Table 5 (NRSD-MN)"}
MISSING = "–"
SPEED_COLUMNS = ("method", "source", "device", "params (M)", "size (MB)", "FPS", "ms median", "ms IQR", "peak MB",
                 "image size", "note")


@dataclass(frozen=True)
class AccuracySpeedPoint:
    """One method on the accuracy-against-speed chart."""

    method: str
    label: str
    fps: float
    accuracy: float
    params_m: float | None
    source: str  # "paper" or "measured"


def speed_frame(measured: SpeedTable | None, measured_at: str | None, paper: list[PaperSpeedRow]) -> pd.DataFrame:
    """Measured rows, then Table 7's, as one frame; a missing number is NaN and a missing text empty.

    Args:
        measured: the speed table measured here (None: not measured yet).
        measured_at: when it was measured (shown in the source column).
        paper: Table 7's rows.
    """
    rows = []
    for r in measured.rows if measured is not None else ():
        rows.append({"method": r.label, "source": f"measured {measured_at or ''}".strip(), "device": r.device,
                     "params (M)": r.params_m, "size (MB)": r.size_mb, "FPS": r.fps, "ms median": r.ms_median,
                     "ms IQR": "" if r.ms_q1 is None else f"{r.ms_q1:.1f}–{r.ms_q3:.1f}", "peak MB": r.peak_mb,
                     "image size": r.image_size, "note": r.note})
    for r in paper:
        rows.append({"method": r.printed_name, "source": "paper (Table 7)", "device": SPEED_DEVICE,
                     "params (M)": r.params_m, "size (MB)": r.model_mb, "FPS": r.fps, "ms median": None,
                     "ms IQR": "", "peak MB": None, "image size": "", "note": ""})
    frame = pd.DataFrame(rows, columns=list(SPEED_COLUMNS))
    numbers = ["params (M)", "size (MB)", "FPS", "ms median", "peak MB"]
    frame[numbers] = frame[numbers].astype(float)
    return frame


def speed_display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`speed_frame` as text for a table: numbers with their places, a missing value as ``–`` (never
    ``None``): a baseline has no weights file, the paper printed no median ms, a record saved before samis measured
    memory has no peak."""
    places = {"params (M)": 1, "size (MB)": 1, "FPS": 1, "ms median": 2, "peak MB": 1}
    shown = frame.astype(object).copy()
    for column, decimals in places.items():
        shown[column] = [MISSING if value != value else f"{value:.{decimals}f}" for value in frame[column]]
    return shown.fillna(MISSING).replace("", MISSING)


def accuracy_speed_points(paper: list[PaperSpeedRow], accuracy_table: PaperTable, measured: SpeedTable | None = None,
                          scores: Mapping[str, dict] | None = None, paper_metric: str = "Fm",
                          measured_metric: str = "maxFm") -> list[AccuracySpeedPoint]:
    """Methods that have both a speed and an accuracy.

    Args:
        paper: Table 7's rows (speed).
        accuracy_table: the paper table whose ``paper_metric`` each paper point takes.
        measured: the speed table measured here (None: no measured points).
        scores: method → dataset scores measured here (``measured_metric`` is taken; a method with no
            scored image is left out).
        paper_metric, measured_metric: the accuracy metric of the two sources (the same measure: max F).
    """
    points = []
    accuracy = {r.method: r.values.get(paper_metric) for r in accuracy_table.rows}
    for r in paper:
        if accuracy.get(r.method) is not None and r.fps:
            points.append(AccuracySpeedPoint(r.method, r.printed_name, r.fps, accuracy[r.method], r.params_m, "paper"))
    for r in measured.rows if measured is not None and scores else ():
        score = scores.get(r.method)
        if r.fps and score and score.get("n_images"):
            points.append(AccuracySpeedPoint(r.method, r.label, r.fps, score[measured_metric], r.params_m, "measured"))
    return points


def points_left_out(measured: SpeedTable | None, scores: Mapping[str, dict] | None, dataset: str | None) -> list[str]:
    """Why each method measured here is not on the accuracy-against-speed chart (one line each).

    Args:
        measured: the speed table measured here.
        scores: method → dataset scores measured here on ``dataset`` (None: nothing scored).
        dataset: the dataset (and split) shown, for the lines.
    """
    lines = []
    where = f"on {dataset}" if dataset else "(no dataset chosen)"
    for r in measured.rows if measured is not None else ():
        if r.source == "paper":
            continue
        score = (scores or {}).get(r.method)
        if not r.fps:
            lines.append(f"{r.label}: not timed here (no frames per second)")
        elif not score or not score.get("n_images"):
            lines.append(f"{r.label}: no maps {where}, so no accuracy to plot")
    return lines
