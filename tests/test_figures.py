"""Overlays and qualitative grids (samis.figures)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from samis.datasets import load_dataset, register_dataset
from samis.figures import (OVERLAY_COLORS, GridRow, binarize, compose_grid, error_counts, method_cell,
                           overlay_errors, png_bytes, qualitative_figure)
from samis.store import import_predictions, prediction_files


def test_error_counts_and_iou():
    gt = np.zeros((4, 4), bool)
    gt[:2, :2] = True  # 4 pixels
    pred = np.zeros((4, 4), bool)
    pred[:2, 1:3] = True  # 2 inside, 2 outside
    counts = error_counts(pred, gt)
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (2, 2, 2, 10)
    assert counts.iou == pytest.approx(2 / 6)
    assert error_counts(np.zeros((3, 3), bool), np.zeros((3, 3), bool)).iou == 1.0


def test_binarize_threshold_is_inclusive_and_checked():
    saliency = np.array([[0, 127, 128, 255]], np.uint8)
    assert binarize(saliency, 128).tolist() == [[False, False, True, True]]
    with pytest.raises(ValueError):
        binarize(saliency, 0)


def test_overlay_colours_each_class_and_keeps_true_negatives_grey():
    image = np.full((2, 2), 100, np.uint8)
    gt = np.array([[True, True], [False, False]])
    pred = np.array([[True, False], [True, False]])
    out = overlay_errors(image, pred, gt, alpha=1.0)
    assert tuple(out[0, 0]) == OVERLAY_COLORS["TP"]
    assert tuple(out[0, 1]) == OVERLAY_COLORS["FN"]
    assert tuple(out[1, 0]) == OVERLAY_COLORS["FP"]
    assert tuple(out[1, 1]) == (100, 100, 100)
    half = overlay_errors(image, pred, gt, alpha=0.5)
    assert tuple(half[0, 0]) == tuple(round(0.5 * 100 + 0.5 * c) for c in OVERLAY_COLORS["TP"])
    with pytest.raises(ValueError):
        overlay_errors(np.zeros((3, 3), np.uint8), pred, gt)


def test_method_cell_modes():
    image = np.zeros((8, 8), np.uint8)
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    saliency = (gt * 200).astype(np.uint8)
    cell, caption = method_cell(image, saliency, gt, "maps", 128)
    assert cell.shape == (8, 8, 3) and caption == ""
    cell, caption = method_cell(image, saliency, gt, "binary", 128)
    assert caption == "IoU@128 1.00" and cell[3, 3].tolist() == [255, 255, 255]
    cell, caption = method_cell(image, saliency, gt, "binary", 201)
    assert caption == "IoU@201 0.00"  # the threshold is named (issue 20)
    assert method_cell(image, None, gt, "overlay", 128) == (None, "")
    with pytest.raises(ValueError):
        method_cell(image, saliency, gt, "sparkles", 128)


def test_compose_grid_size_and_cells():
    red = np.zeros((20, 40, 3), np.uint8)
    red[..., 0] = 255
    rows = [GridRow("a", [red, None]), GridRow("b", [red, red], ["", "IoU 0.50"])]
    grid = compose_grid(["image", "method"], rows, cell=64, gap=4, font_size=12)
    assert grid.mode == "RGB"
    assert grid.height > 2 * 64 and grid.width > 2 * 64
    pixels = np.asarray(grid)
    # the wide red image is letterboxed: red in the middle row of its cell, white above and below
    assert (pixels == [255, 0, 0]).all(axis=2).sum() >= 3 * 64 * 32 * 0.9
    with pytest.raises(ValueError):
        compose_grid(["one"], [GridRow("x", [red, red])])
    with pytest.raises(ValueError):
        compose_grid([], [])


def test_qualitative_figure_from_a_workspace(workspace, make_folder_dataset):
    root, predictions = make_folder_dataset(n=4, shape=(30, 40))
    register_dataset(workspace, "toy", root, "folder")
    dataset = load_dataset(workspace, "toy")
    import_predictions(workspace, dataset, "good", predictions["good"])
    paths = {"good": prediction_files(workspace, "toy", "good"), "none": {}}
    figure = qualitative_figure(dataset.samples[:3], paths, ["good", "none"], mode="overlay", threshold=128, cell=50)
    data = png_bytes(figure)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.size == figure.size
    # 3 rows of 50 px cells and 4 columns (image, ground truth, good, none)
    assert figure.height >= 3 * 50 and figure.width >= 4 * 50
    pixels = np.asarray(figure)
    green = (pixels == OVERLAY_COLORS["TP"]).all(axis=2).sum()
    assert green > 0  # the legend's swatch (cells blend the colour with the image)
    tinted = ((pixels[..., 1].astype(int) - pixels[..., 0]) > 60).sum()
    assert tinted > 0  # true positives drawn in green



# Machado et al. (2009) full-severity simulation matrices, on linear sRGB
_CVD = {
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _seen_as(rgb, vision):
    def linear(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def encoded(c):
        c = min(max(c, 0.0), 1.0)
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    values = np.array([linear(c) for c in rgb])
    if vision != "normal":
        values = np.array(_CVD[vision]) @ values
    return "#" + "".join(f"{round(encoded(c) * 255):02X}" for c in values)


def test_default_overlay_is_not_red_green_and_stays_apart_for_colour_blind_readers():
    """Issue 20, item 7: TP / FP / FN at least 20 apart (CIEDE2000) for normal vision and under simulated
    deuteranopia, protanopia and tritanopia (red / green was 11.5 apart under deuteranopia)."""
    import itertools

    from ciede2000 import hex_distance

    from samis.figures import OVERLAY_SCHEMES

    for vision in ("normal", *_CVD):
        seen = {name: _seen_as(rgb, vision) for name, rgb in OVERLAY_COLORS.items()}
        for a, b in itertools.combinations(seen, 2):
            assert hex_distance(seen[a], seen[b]) >= 20, (vision, a, b)
    assert "red-green" in OVERLAY_SCHEMES  # the older scheme stays available
    out = overlay_errors(np.zeros((1, 1), np.uint8), np.ones((1, 1), bool), np.ones((1, 1), bool), alpha=1.0,
                         scheme="red-green")
    assert tuple(out[0, 0]) == OVERLAY_SCHEMES["red-green"]["TP"]


def test_grid_labels_never_show_a_missing_glyph():
    """Good parts' rows read '1?4': the default font has no en dash. Text drawn into a picture keeps to
    the font's glyphs."""
    from samis.figures import caption_font, drawable_text

    font = caption_font(14)
    missing = font.getmask("\uffff")
    missing = (missing.size, bytes(missing))
    for label in ("1–4", "image · 0.25 %", "SAM †", "β² = 0.3", "≥ 128", "Ünïcödé"):
        shown = drawable_text(label, font)
        for char in shown:
            mask = font.getmask(char)
            assert char.isspace() or (mask.size, bytes(mask)) != missing, (label, shown, char)
    assert drawable_text("1–4", font) == "1-4"
    grid = compose_grid(["a"], [GridRow("1–4", [np.zeros((8, 8), np.uint8)])], cell=40)
    reference = compose_grid(["a"], [GridRow("1-4", [np.zeros((8, 8), np.uint8)])], cell=40)
    assert np.array_equal(np.asarray(grid), np.asarray(reference))
