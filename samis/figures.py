"""Qualitative figures: error overlays and image grids like the paper's figures 5–9.

Library code (numpy + Pillow, no Streamlit): the dashboard's Gallery and Cases pages show what these
functions draw, and the same PNG can be exported for a paper or a report.

Conventions:

- a saliency map is the stored 8-bit map (0..255); "binarised at threshold t" means ``map >= t``,
  with ``t`` in 1..255 (``t = 0`` would mark every pixel);
- overlay colours (:data:`OVERLAY_SCHEMES`): by default colour-blind safe (Okabe–Ito): true positives
  blue, false positives vermilion, false negatives yellow, which stay apart under deuteranopia,
  protanopia and tritanopia; the older red / green / blue scheme is ``scheme="red-green"``. Blended
  over the grey image so the surface stays visible;
- text drawn into a picture keeps to the glyphs of the font (:func:`drawable_text`): a character the
  font lacks becomes an ASCII stand-in (``–`` → ``-``), never a missing-glyph box;
- a grid has one row per image and one column per kind (image | ground truth | each method); every
  cell is letterboxed into a square of ``cell`` pixels so images of any size line up.
"""

from __future__ import annotations

import functools
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from samis.imageio import read_rgb
from samis.store import read_prediction

#: RGB colour of each overlay class, per scheme; the default keeps the three classes at least 20 apart
#: (CIEDE2000) for normal vision and under simulated deuteranopia, protanopia and tritanopia
#: (tests/test_figures.py); red / green was 11.5 apart under deuteranopia
OVERLAY_SCHEMES = {
    "colour-blind safe": {"TP": (0, 114, 178), "FP": (213, 94, 0), "FN": (240, 228, 66)},
    "red-green": {"TP": (0, 200, 0), "FP": (230, 30, 30), "FN": (40, 110, 255)},
}
DEFAULT_OVERLAY_SCHEME = "colour-blind safe"
#: the default scheme's colours
OVERLAY_COLORS = OVERLAY_SCHEMES[DEFAULT_OVERLAY_SCHEME]
#: the default scheme in words, for captions
OVERLAY_LEGEND = "blue: true positive, vermilion: false positive, yellow: false negative"
#: how much of the overlay colour covers the image where a class is drawn
OVERLAY_ALPHA = 0.6
_BACKGROUND = (255, 255, 255)
_MISSING = (236, 236, 236)
_TEXT = (20, 20, 20)


@dataclass(frozen=True)
class ErrorCounts:
    """Pixel counts of one binarised prediction against its ground truth."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def iou(self) -> float:
        union = self.tp + self.fp + self.fn
        return self.tp / union if union else 1.0


def binarize(saliency: np.ndarray, threshold: int) -> np.ndarray:
    """``saliency >= threshold`` as a boolean mask.

    Args:
        saliency: uint8 map (H, W).
        threshold: 1..255.

    Raises:
        ValueError: threshold outside 1..255.
    """
    if not 1 <= int(threshold) <= 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    return np.asarray(saliency) >= int(threshold)


def error_counts(predicted: np.ndarray, gt: np.ndarray) -> ErrorCounts:
    """True/false positives and negatives of a boolean prediction against a boolean ground truth."""
    predicted, gt = np.asarray(predicted, bool), np.asarray(gt, bool)
    if predicted.shape != gt.shape:
        raise ValueError(f"prediction {predicted.shape} and ground truth {gt.shape} differ in size")
    tp = int(np.count_nonzero(predicted & gt))
    fp = int(np.count_nonzero(predicted & ~gt))
    fn = int(np.count_nonzero(~predicted & gt))
    return ErrorCounts(tp, fp, fn, int(predicted.size) - tp - fp - fn)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2).astype(np.uint8)
    return image[:, :, :3].astype(np.uint8)


def overlay_errors(image: np.ndarray, predicted: np.ndarray, gt: np.ndarray,
                   alpha: float = OVERLAY_ALPHA, scheme: str = DEFAULT_OVERLAY_SCHEME) -> np.ndarray:
    """Colour true positives, false positives and false negatives over an image.

    Args:
        image: uint8 grey (H, W) or RGB (H, W, 3) image of the same size as the masks.
        predicted: boolean prediction (H, W).
        gt: boolean ground truth (H, W).
        alpha: opacity of the colours.
        scheme: a key of :data:`OVERLAY_SCHEMES`.

    Returns:
        uint8 RGB (H, W, 3): the image in grey with TP, FP and FN in the scheme's colours.

    Raises:
        ValueError: sizes differ.
    """
    predicted, gt = np.asarray(predicted, bool), np.asarray(gt, bool)
    image = np.asarray(image)
    if image.shape[:2] != gt.shape or predicted.shape != gt.shape:
        raise ValueError(f"image {image.shape[:2]}, prediction {predicted.shape} and ground truth {gt.shape} differ in size")
    rgb = _as_rgb(image)
    # grey base so the colours read the same on colour and grey datasets
    grey = rgb.astype(np.float32).mean(axis=2, keepdims=True).repeat(3, axis=2)
    out = grey.copy()
    for name, mask in (("TP", predicted & gt), ("FP", predicted & ~gt), ("FN", ~predicted & gt)):
        colour = np.array(OVERLAY_SCHEMES[scheme][name], dtype=np.float32)
        out[mask] = (1 - alpha) * grey[mask] + alpha * colour
    return out.round().clip(0, 255).astype(np.uint8)


def _fit_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize an image to the ground truth's (height, width) when a dataset stores them at different sizes."""
    if image.shape[:2] == tuple(shape):
        return image
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.uint8)


def mask_rgb(mask: np.ndarray) -> np.ndarray:
    """A boolean mask as a black-and-white RGB image."""
    return _as_rgb(np.asarray(mask, bool).astype(np.uint8) * 255)


# ---- grids ---------------------------------------------------------------------------------------
@dataclass
class GridRow:
    """One row of a grid: a label and one cell per column (None draws an empty, grey cell)."""

    label: str
    cells: list[np.ndarray | None]
    captions: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=16)
def caption_font(size: int) -> ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (the fixed bitmap font where Pillow has no FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _letterbox(cell: np.ndarray, size: int) -> Image.Image:
    picture = Image.fromarray(_as_rgb(cell))
    scale = size / max(picture.width, picture.height)
    width, height = max(1, round(picture.width * scale)), max(1, round(picture.height * scale))
    # nearest keeps thin defects and mask edges crisp when enlarging small images
    resample = Image.NEAREST if scale >= 1 else Image.BILINEAR
    picture = picture.resize((width, height), resample)
    canvas = Image.new("RGB", (size, size), _BACKGROUND)
    canvas.paste(picture, ((size - width) // 2, (size - height) // 2))
    return canvas


#: ASCII stand-ins for characters samis writes that Pillow's default font has no glyph for
_STAND_INS = {"–": "-", "—": "-", "−": "-", "†": "+", "½": "1/2", "×": "x", "≥": ">=", "≤": "<=", "µ": "u",
              "…": "...", "·": "|", "‰": "/1000", "★": "*", "→": "->", "β": "b", "²": "2"}


def _glyph(font, char: str) -> tuple:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=4096)
def _has_glyph(font, char: str) -> bool:
    if char.isspace():
        return True
    try:
        return _glyph(font, char) != _glyph(font, "\uffff")
    except (UnicodeError, ValueError, OSError):  # the bitmap font reads Latin-1 only
        return False


def drawable_text(text: str, font) -> str:
    """``text`` with each character ``font`` has no glyph for replaced by an ASCII stand-in (``–`` → ``-``,
    accents dropped), so a picture never shows a missing-glyph box (``1?4`` for ``1–4``)."""
    out = []
    for char in text:
        if _has_glyph(font, char):
            out.append(char)
            continue
        stand_in = _STAND_INS.get(char)
        if stand_in is None:
            stand_in = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii") or "_"
        out.append(stand_in if all(_has_glyph(font, c) for c in stand_in) else "_")
    return "".join(out)


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    text = drawable_text(text, font)
    if draw.textlength(text, font=font) <= width:
        return text
    ellipsis = drawable_text("…", font)
    while text and draw.textlength(text + ellipsis, font=font) > width:
        text = text[:-1]
    return text + ellipsis


def compose_grid(columns: list[str], rows: list[GridRow], cell: int = 160, gap: int = 4,
                 font_size: int = 14, legend: bool = False) -> Image.Image:
    """Draw a grid: column titles on top, row labels on the left, one letterboxed picture per cell.

    Args:
        columns: column titles.
        rows: the rows; each must have one cell per column.
        cell: side of each square cell in pixels.
        gap: pixels between cells.
        font_size: size of titles and labels.
        legend: add a line explaining the overlay colours under the grid.

    Returns:
        an RGB :class:`PIL.Image.Image`.

    Raises:
        ValueError: no rows or columns, or a row with the wrong number of cells.
    """
    if not columns or not rows:
        raise ValueError("a grid needs at least one column and one row")
    for row in rows:
        if len(row.cells) != len(columns):
            raise ValueError(f"row {row.label!r} has {len(row.cells)} cells for {len(columns)} columns")
    font = caption_font(font_size)
    small = caption_font(max(9, font_size - 3))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = min(220, max(int(measure.textlength(drawable_text(r.label, font), font=font)) for r in rows) + 2 * gap)
    has_captions = any(any(r.captions) for r in rows)
    caption_height = (font_size + 2) if has_captions else 0
    header_height = font_size + 2 * gap + 2
    legend_height = font_size + 2 * gap if legend else 0
    width = label_width + len(columns) * (cell + gap) + gap
    row_height = cell + caption_height + gap
    height = header_height + len(rows) * row_height + gap + legend_height
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(columns):
        x = label_width + j * (cell + gap)
        text = _fit_text(draw, title, font, cell)
        draw.text((x + (cell - draw.textlength(text, font=font)) / 2, gap), text, fill=_TEXT, font=font)
    for i, row in enumerate(rows):
        y = header_height + i * row_height
        label = _fit_text(draw, row.label, font, label_width - 2 * gap)
        draw.text((gap, y + cell / 2 - font_size / 2), label, fill=_TEXT, font=font)
        for j, picture in enumerate(row.cells):
            x = label_width + j * (cell + gap)
            if picture is None:
                draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=_MISSING)
                draw.text((x + gap, y + cell / 2 - font_size / 2), "no map", fill=(120, 120, 120), font=small)
            else:
                canvas.paste(_letterbox(picture, cell), (x, y))
            caption = row.captions[j] if j < len(row.captions) else ""
            if caption:
                text = _fit_text(draw, caption, small, cell)
                draw.text((x + (cell - draw.textlength(text, font=small)) / 2, y + cell + 1), text,
                          fill=_TEXT, font=small)
    if legend:
        y = height - legend_height + gap
        x = label_width
        for name, words in (("TP", "true positive"), ("FP", "false positive"), ("FN", "false negative")):
            draw.rectangle([x, y + 2, x + font_size - 2, y + font_size], fill=OVERLAY_COLORS[name])
            x += font_size + 4
            draw.text((x, y), words, fill=_TEXT, font=font)
            x += int(draw.textlength(words, font=font)) + 3 * gap
    return canvas


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    """Encode an image as PNG bytes."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


# ---- the qualitative figure of a dataset -------------------------------------------------------
MODES = ("maps", "binary", "overlay")


def method_cell(image: np.ndarray, saliency: np.ndarray | None, gt: np.ndarray, mode: str,
                threshold: int) -> tuple[np.ndarray | None, str]:
    """One method's cell and caption for a grid.

    Args:
        image: the input image (grey or RGB, uint8).
        saliency: the stored uint8 map, or None when the method has no map for this image.
        gt: boolean ground truth.
        mode: ``maps`` (the soft map), ``binary`` (map >= threshold) or ``overlay`` (TP/FP/FN colours).
        threshold: 1..255, used by ``binary`` and ``overlay``.

    Returns:
        (RGB cell or None, caption: the IoU at the threshold for ``binary``/``overlay``).

    Raises:
        ValueError: unknown mode, bad threshold or sizes.
    """
    if mode not in MODES:
        raise ValueError(f"unknown grid mode {mode!r} (choose from {', '.join(MODES)})")
    if saliency is None:
        return None, ""
    if mode == "maps":
        return _as_rgb(saliency), ""
    predicted = binarize(saliency, threshold)
    counts = error_counts(predicted, gt)
    caption = f"IoU@{threshold} {counts.iou:.2f}"  # the threshold is named: tables give IoU@adaptive
    if mode == "binary":
        return mask_rgb(predicted), caption
    return overlay_errors(image, predicted, gt), caption


def image_cells(sample, predictions: dict[str, dict[str, Path]], methods: list[str], mode: str = "maps",
                threshold: int = 128) -> list[tuple[str, np.ndarray | None, str]]:
    """The cells of one grid row, separately: [(title, RGB picture or None, caption)].

    Same content as one row of :func:`qualitative_figure` (image, ground truth, then each method),
    for pages that lay the pictures out themselves.

    Raises:
        ImageReadError, StoreError: a file cannot be read; ValueError: bad mode or threshold.
    """
    gt = sample.read_gt()
    image = _fit_to(read_rgb(sample.image_path), gt.shape)
    gray = image.mean(axis=2).round().astype(np.uint8)
    cells: list[tuple[str, np.ndarray | None, str]] = [("image", image, ""), ("ground truth", mask_rgb(gt), "")]
    for method in methods:
        path = predictions.get(method, {}).get(sample.id)
        saliency = read_prediction(path, gt.shape) if path is not None else None
        picture, caption = method_cell(gray if mode == "overlay" else image, saliency, gt, mode, threshold)
        cells.append((method, picture, caption))
    return cells


def qualitative_figure(samples, predictions: dict[str, dict[str, Path]], methods: list[str],
                       mode: str = "maps", threshold: int = 128, cell: int = 160,
                       labels: dict[str, str] | None = None) -> Image.Image:
    """The paper-style grid: rows of images, columns image | ground truth | each method.

    Args:
        samples: :class:`samis.datasets.Sample` objects, one per row, in order.
        predictions: method → {image id → stored map path} (see :func:`samis.store.prediction_files`).
        methods: the method columns, in order.
        mode: ``maps``, ``binary`` or ``overlay`` (see :func:`method_cell`).
        threshold: binarisation threshold for ``binary`` and ``overlay``.
        cell: cell size in pixels.
        labels: method → column title (default: the method name).

    Returns:
        the grid as an RGB :class:`PIL.Image.Image` (a method without a map for an image gets a grey
        "no map" cell).

    Raises:
        ImageReadError: an image, ground truth or map cannot be read (names the file).
        ValueError: bad mode or threshold, no samples.
    """
    labels = labels or {}
    rows = []
    for sample in samples:
        gt = sample.read_gt()
        image = _fit_to(read_rgb(sample.image_path), gt.shape)
        gray = image.mean(axis=2).round().astype(np.uint8) if mode == "overlay" else None
        cells: list[np.ndarray | None] = [image, mask_rgb(gt)]
        captions = ["", ""]
        for method in methods:
            path = predictions.get(method, {}).get(sample.id)
            saliency = read_prediction(path, gt.shape) if path is not None else None
            picture, caption = method_cell(gray if gray is not None else image, saliency, gt, mode, threshold)
            cells.append(picture)
            captions.append(caption)
        rows.append(GridRow(f"{sample.id}" + (f" ({sample.cls})" if sample.cls and sample.cls != "all" else ""),
                            cells, captions))
    if not rows:
        raise ValueError("no images to draw")
    columns = ["image", "ground truth", *[labels.get(m, m) for m in methods]]
    return compose_grid(columns, rows, cell=cell, legend=(mode == "overlay"))


# ---- good parts: the worst false alarms ----------------------------------------------------------
#: colour of the regions a method flags on a defect-free image
FLAG_COLOR = (230, 30, 30)


def draw_flagged_regions(image: np.ndarray, flagged: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The image in grey with the flagged regions filled in red and outlined, so small ones stay visible.

    Args:
        image: uint8 grey or RGB image of the mask's size.
        flagged: (H, W) bool, the kept regions (:func:`samis.image_level.flagged_regions`).

    Raises:
        ValueError: sizes differ.
    """
    flagged = np.asarray(flagged, bool)
    rgb = _as_rgb(image)
    if rgb.shape[:2] != flagged.shape:
        raise ValueError(f"image {rgb.shape[:2]} and regions {flagged.shape} differ in size")
    grey = rgb.astype(np.float32).mean(axis=2, keepdims=True).repeat(3, axis=2)
    colour = np.array(FLAG_COLOR, np.float32)
    out = grey.copy()
    out[flagged] = (1 - alpha) * grey[flagged] + alpha * colour
    # outline: flagged pixels with an unflagged 4-neighbour
    padded = np.pad(flagged, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    out[flagged & ~inner] = colour
    return out.round().clip(0, 255).astype(np.uint8)


def false_alarm_figure(samples, predictions: dict[str, Path], method: str, min_area: int | None = None,
                       cell: int = 160, per_row: int = 4, areas: dict[str, float] | None = None) -> Image.Image:
    """A grid of defect-free images with the regions one method flags on them drawn in red.

    Args:
        samples: the images (:class:`samis.datasets.Sample`), in the order to show.
        predictions: image id → the method's stored map.
        method: the method's name (the grid's title).
        min_area: smallest region kept (None: ``ceil(0.001 × H × W)``), as in :mod:`samis.image_level`.
        cell: side of each cell in pixels.
        per_row: cells per row.
        areas: image id → flagged share of the image, for the captions (computed when missing).

    Raises:
        ValueError: no samples; ImageReadError, StoreError: a file cannot be read.
    """
    # lazy: image_level imports pandas and the runner; only the false-alarm grid needs it
    from samis.image_level import flagged_regions

    samples = list(samples)
    if not samples:
        raise ValueError("no defect-free image to show")
    pictures, captions = [], []
    for sample in samples:
        gt = sample.read_gt()
        image = _fit_to(read_rgb(sample.image_path), gt.shape)
        saliency = read_prediction(predictions[sample.id], gt.shape)
        flagged = flagged_regions(saliency, min_area)
        pictures.append(draw_flagged_regions(image, flagged))
        share = (areas or {}).get(sample.id, flagged.mean())
        captions.append(f"{sample.id} · {100 * share:.2f} %")
    columns = min(per_row, len(pictures))
    rows = []
    for start in range(0, len(pictures), columns):
        cells = pictures[start:start + columns]
        texts = captions[start:start + columns]
        missing = columns - len(cells)
        label = f"{start + 1}–{start + len(cells)}" if len(cells) > 1 else f"{start + 1}"
        rows.append(GridRow(label, cells + [np.full((8, 8, 3), 255, np.uint8)] * missing, texts + [""] * missing))
    return compose_grid([f"{method}: largest area first" if j == 0 else "" for j in range(columns)], rows, cell=cell)


# ---- inspection: the worst missed regions ----------------------------------------------------------
#: outline of a ground-truth region and fill of a method's flagged pixels (Okabe-Ito orange and blue:
#: told apart with any colour-vision deficiency)
REGION_OUTLINE = (230, 159, 0)
FLAGGED_FILL = (0, 114, 178)


def region_mask(gt: np.ndarray, region: int) -> np.ndarray:
    """The ``region``-th 8-connected region of a ground truth (OpenCV's label order, as the inspection
    histograms of :func:`samis.pixel_level.image_histograms` count them).

    Raises:
        ValueError: the ground truth has no such region.
    """
    import cv2  # OpenCV only where regions are labelled

    count, labels = cv2.connectedComponents(np.asarray(gt, dtype=np.uint8), connectivity=8)
    if not 0 <= int(region) < count - 1:
        raise ValueError(f"the ground truth has {count - 1} regions, not a region {region}")
    return labels == int(region) + 1


def missed_region_crop(image: np.ndarray, gt: np.ndarray, saliency: np.ndarray, region: int, threshold: int,
                       side: int = 200, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """A crop around one ground-truth region: the image in grey, the method's flagged pixels (``saliency ≥
    threshold``) filled in blue, the region outlined in orange.

    Args:
        image: uint8 grey or RGB image of the ground truth's size.
        gt: (H, W) bool ground truth.
        saliency: the method's stored uint8 map (H, W).
        region: the region's index (see :func:`region_mask`).
        threshold: the operating threshold, 0…256 (256 flags nothing).
        side: the crop is enlarged (nearest neighbour) until its longer side is at least this many pixels.

    Raises:
        ValueError: sizes differ, or no such region.
    """
    mask = region_mask(gt, region)
    rgb = _as_rgb(image)
    if rgb.shape[:2] != mask.shape or np.shape(saliency) != mask.shape:
        raise ValueError(f"image {rgb.shape[:2]}, map {np.shape(saliency)} and ground truth {mask.shape} differ in size")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    pad = max(8, (max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) // 2)
    top, bottom = max(0, rows[0] - pad), min(mask.shape[0], rows[-1] + pad + 1)
    left, right = max(0, cols[0] - pad), min(mask.shape[1], cols[-1] + pad + 1)
    scale = max(1, -(-side // max(bottom - top, right - left)))
    def grow(a):  # noqa: E306 - nearest-neighbour enlargement keeps pixels and edges crisp
        return np.repeat(np.repeat(a[top:bottom, left:right], scale, axis=0), scale, axis=1)
    grey = grow(rgb).astype(np.float32).mean(axis=2, keepdims=True).repeat(3, axis=2)
    flagged, inside = grow(np.asarray(saliency) >= int(threshold)), grow(mask)
    out = grey.copy()
    out[flagged] = (1 - alpha) * grey[flagged] + alpha * np.array(FLAGGED_FILL, np.float32)
    padded = np.pad(inside, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    edge = inside & ~interior
    edge = edge | np.pad(edge, ((1, 0), (1, 0)))[:-1, :-1]  # two pixels wide
    out[edge] = REGION_OUTLINE
    return out.round().clip(0, 255).astype(np.uint8)


def missed_region_picture(sample, prediction: Path, region: int, threshold: int, side: int = 200) -> np.ndarray:
    """:func:`missed_region_crop` of one region of a dataset image, read from its files.

    Raises:
        ImageReadError, StoreError: a file cannot be read; ValueError: no such region.
    """
    gt = sample.read_gt()
    image = _fit_to(read_rgb(sample.image_path), gt.shape)
    return missed_region_crop(image, gt, read_prediction(prediction, gt.shape), region, threshold, side=side)
