"""What the Prompts page (and its HTML export) shows, computed here so the page only lays it out.

- the click runs stored in the workspace (:func:`stored_click_runs`) read back as results over a split
  (:func:`stored_click_result`): nothing is computed, the cache files are read;
- the mIoU-after-k-clicks curves with their bootstrap bands, the NoC table, a click replay picture;
- the box methods of the store (ground-truth boxes †, jittered †, from a prompt source) scored by the project's
  evaluation, the robustness curve (mean IoU against the jitter P, over seeds) and the rows side by side.

Test-size models with random weights are labelled so wherever they appear (legend, table, replay): their numbers
test the pipeline, never a model's accuracy.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from samis.colors import method_colors
from samis.datasets import Dataset
from samis.methods import describe
from samis.metrics import IMAGE_METRICS
from samis.models import find_model
from samis.prompts.click_results import RANDOM_WEIGHTS_CLICKS_NOTE, ClickResult, ImageClicks
from samis.prompts.trace_file import read_trace_file
from samis.workspace import Workspace

#: the click colours of the replay (the figures' colour-blind-safe pair): positive blue, negative vermilion
POSITIVE, NEGATIVE = (0, 114, 178), (213, 94, 0)


@dataclass(frozen=True)
class StoredClicks:
    """One stored click run: a model on a dataset with a max-clicks and mask-input setting."""

    label: str
    max_clicks: int
    mask_input: bool
    folder: Path

    @property
    def name(self) -> str:
        return f"{self.label} · {self.max_clicks} clicks{'' if self.mask_input else ' · no mask input'}"

    @property
    def random_weights(self) -> bool:
        model = find_model(self.label)
        return bool(model and model.random_weights)


def stored_click_runs(workspace: Workspace, dataset_id: str) -> list[StoredClicks]:
    """Every click run with files for this dataset, by model label then setting."""
    base = workspace.root / "cache" / "clicks"
    found = []
    for folder in sorted(base.glob(f"*/{dataset_id}/max*-*")) if base.is_dir() else ():
        clicks, _, mask = folder.name[len("max"):].partition("-")
        if clicks.isdigit() and mask in ("mask", "nomask") and folder.is_dir():
            found.append(StoredClicks(folder.parent.parent.name, int(clicks), mask == "mask", folder))
    return found


def stored_click_result(run: StoredClicks, dataset: Dataset, split: str, image_ids: list[str]) -> ClickResult | None:
    """The stored sessions of the split's images (those run so far); None when none of them has one."""
    by_id = dataset.by_id()
    images, skipped = [], []
    for image_id in image_ids:
        stored = read_trace_file(run.folder / f"{image_id}.npz")
        if stored is None or stored["key"].get("model") != run.label:
            continue
        if not stored["clicks"]:
            skipped.append(image_id)
        else:
            images.append(ImageClicks(image_id, by_id[image_id].cls, stored["clicks"], stored["ious"]))
    if not images:
        return None
    return ClickResult(dataset.id, split, run.label, run.max_clicks, run.mask_input, images, skipped,
                       random_weights=run.random_weights)


def legend_name(run: StoredClicks) -> str:
    return run.name + (" (random weights)" if run.random_weights else "")


def miou_figure(results: dict[StoredClicks, ClickResult], resamples: int = 1000) -> go.Figure:
    """mIoU after k clicks per run, its 95 % bootstrap interval as a band (one fixed colour per run name)."""
    figure = go.Figure()
    colors = method_colors(run.name for run in results)
    for run, result in results.items():
        color = colors[run.name]
        ks = list(range(1, result.max_clicks + 1))
        low, high = zip(*result.miou_interval(resamples))
        figure.add_trace(go.Scatter(x=ks + ks[::-1], y=list(high) + list(low)[::-1], fill="toself", fillcolor=color,
                                    opacity=0.18, line={"width": 0}, hoverinfo="skip", showlegend=False))
        figure.add_trace(go.Scatter(x=ks, y=result.miou_at(), mode="lines+markers", name=legend_name(run),
                                    line={"color": color, "dash": "dot" if run.random_weights else "solid"},
                                    showlegend=True))
    figure.update_layout(xaxis_title="clicks", yaxis_title="mean IoU after k clicks", yaxis_range=[0, 1],
                         xaxis={"dtick": 1, "tick0": 1},  # whole clicks: no tick at 1.5
                         height=380, margin={"l": 50, "r": 10, "t": 20, "b": 40})
    return figure


def noc_rows(results: dict[StoredClicks, ClickResult], targets=(0.85, 0.9), resamples: int = 1000) -> list[dict]:
    """One row per run: NoC@t with its interval, NoF@t, images, defect-free skipped, the random-weights note."""
    rows = []
    for run, result in results.items():
        row = {"model": run.label, "max clicks": run.max_clicks, "mask input": "yes" if run.mask_input else "no",
               "images": len(result.images)}
        for target in targets:
            low, high = result.noc_interval(target, resamples)
            row[f"NoC@{round(target * 100)}"] = f"{result.noc(target):.2f} [{low:.2f}, {high:.2f}]"
            row[f"NoF@{round(target * 100)}"] = result.nof(target)
        row["mIoU@1"] = round(result.miou_at()[0], 3)
        row["defect-free skipped"] = len(result.skipped)
        row["note"] = RANDOM_WEIGHTS_CLICKS_NOTE if run.random_weights else ""
        rows.append(row)
    return rows


def replay_png(image: np.ndarray, run: StoredClicks, image_id: str, k: int, size: int = 360) -> tuple[bytes, float, int]:
    """The image with the mask after click ``k`` (translucent blue) and clicks 1 … k drawn, numbered, in order.

    Returns:
        (PNG bytes, the IoU after click k, the clicks stored for the image).
    """
    stored = read_trace_file(run.folder / f"{image_id}.npz")
    if stored is None or not stored["clicks"]:
        raise ValueError(f"no stored clicks for image {image_id}")
    k = max(1, min(int(k), len(stored["clicks"])))
    rgb = np.asarray(image, np.uint8)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    mask = stored["masks"][k - 1]
    shown = rgb.astype(np.float32)
    if mask.shape == shown.shape[:2]:
        shown[mask] = shown[mask] * 0.55 + np.array([86, 180, 233], np.float32) * 0.45
    picture = Image.fromarray(shown.clip(0, 255).astype(np.uint8))
    scale = size / max(picture.size)
    picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                             Image.NEAREST)
    draw = ImageDraw.Draw(picture)
    radius = max(4, size // 60)
    for number, (x, y, positive) in enumerate(stored["clicks"][:k], start=1):
        cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=POSITIVE if positive else NEGATIVE,
                     outline=(255, 255, 255))
        draw.text((cx + radius + 1, cy - radius - 1), str(number), fill=(255, 255, 255))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue(), float(stored["ious"][k - 1]), len(stored["clicks"])


# ---- box methods -------------------------------------------------------------------------------------
def box_methods(methods: list[str]) -> list[str]:
    """The methods prompted with boxes (ground truth, jittered or from a source), and those sources."""
    boxes = [m for m in methods if describe(m).prompt == "box"]
    sources = [describe(m).prompt_source for m in boxes if describe(m).prompt_source in methods]
    return [*boxes, *[s for s in dict.fromkeys(sources) if s not in boxes]]


def _mean_iou(result) -> float:
    return float(np.mean(result.scalars[:, IMAGE_METRICS.index("IoU")])) if len(result.scalars) else float("nan")


def box_rows(evaluation, methods: list[str]) -> list[dict]:
    """One row per box method (and each prompt source): how its prompts were made, † or not, its mean IoU and maxFm."""
    rows = []
    for method in sorted(methods, key=_box_order):
        if method not in evaluation.methods:
            continue
        info, result = describe(method), evaluation.methods[method]
        if info.prompt_source:
            prompts = f"boxes from {info.prompt_source}'s maps"
        elif info.box_jitter is not None:
            prompts = f"ground-truth boxes, jitter ±{info.box_jitter:g} %, seed {info.jitter_seed}"
        elif info.prompt == "box":
            prompts = "ground-truth boxes"
        else:
            prompts = "(prompt source)"
        rows.append({"method": method + (" †" if info.upper_bound else ""), "prompts": prompts,
                     "ground truth used": "yes (upper bound)" if info.upper_bound else "no",
                     "images": int(len(result.scalars)), "mean IoU": round(_mean_iou(result), 4),
                     "maxFm": round(float(result.scores()["maxFm"]), 4), "note": info.note})
    return rows


def _box_order(method: str) -> tuple:
    """Sources and ground-truth-free rows first, then the plain boxes, then the jitters by P and seed."""
    info = describe(method)
    if info.box_jitter is not None:
        return (2, info.model.label if info.model else "", info.box_jitter, info.jitter_seed or 0, method)
    return (0 if info.prompt != "box" or info.prompt_source else 1, "", 0.0, 0, method)


def random_weight_box_models(methods: list[str]) -> list[str]:
    """The model labels with random weights among the box methods (their rows test the pipeline only)."""
    return sorted({describe(m).model.label for m in methods if describe(m).random_weights and describe(m).model})


def jitter_points(evaluation) -> dict[str, list[tuple[float, float, float, float]]]:
    """Per model label: ``(P, mean IoU over seeds, lowest seed, highest seed)`` sorted by P."""
    by_model: dict[str, dict[float, list[float]]] = {}
    for method, result in evaluation.methods.items():
        info = describe(method)
        if info.box_jitter is None or info.model is None:
            continue
        by_model.setdefault(info.model.label, {}).setdefault(info.box_jitter, []).append(_mean_iou(result))
    return {label: [(p, float(np.mean(v)), min(v), max(v)) for p, v in sorted(steps.items())]
            for label, steps in sorted(by_model.items())}


def jitter_figure(points: dict[str, list[tuple[float, float, float, float]]]) -> go.Figure:
    """Mean IoU against the box jitter P per model; the bars span the seeds' lowest and highest mean IoU."""
    figure = go.Figure()
    colors = method_colors(points)
    for label, rows in points.items():
        model = find_model(label)
        name = label + (" (random weights)" if model and model.random_weights else "") + " †"
        p, mean, low, high = (list(v) for v in zip(*rows))
        figure.add_trace(go.Scatter(x=p, y=mean, mode="lines+markers", name=name,
                                    line={"color": colors[label]}, showlegend=True,
                                    error_y={"type": "data", "symmetric": False,
                                             "array": [h - m for h, m in zip(high, mean)],
                                             "arrayminus": [m - lo for m, lo in zip(mean, low)]}))
    figure.update_layout(xaxis_title="box jitter P (± % of the box's width / height)", yaxis_title="mean IoU",
                         yaxis_range=[0, 1], height=360, margin={"l": 50, "r": 10, "t": 20, "b": 40})
    return figure


# ---- the HTML export -------------------------------------------------------------------------------------
def rows_section(title: str, rows: list[dict], caption: str = ""):
    """A table of plain rows (the page's tables) as a report section."""
    # html_report imports pandas-facing helpers: only when a report is built
    from samis.html_report import HtmlSection, text

    if not rows:
        return HtmlSection(title, f"<p>{text(caption or 'nothing to show')}</p>")
    header = "".join(f"<th>{text(name)}</th>" for name in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{text(value)}</td>" for value in row.values()) + "</tr>" for row in rows)
    note = f"<p>{text(caption)}</p>" if caption else ""
    return HtmlSection(title, f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>{note}")


def replay_section(png: bytes, caption: str):
    """The click replay picture as a report section."""
    # html_report: only when a report is built
    from samis.html_report import HtmlSection, png_data_uri, text

    return HtmlSection("Click replay", f'<figure><img src="{png_data_uri(png)}" alt="{text(caption)}">'
                                       f"<figcaption>{text(caption)}</figcaption></figure>")
