"""Reviewed cases out of samis: checks of what a review names, and exports to annotation tools.

:func:`check_target` makes sure an image (and a method) exist before a tag or note is stored on them.
:func:`export_cases` writes the chosen cases (a review set, a tag, or every reviewed image) with their
tags and notes as:

- ``csv`` / ``json``: one row (one object) per case, tags and notes as text;
- ``coco``: COCO instance segmentation: each image's ground truth as one ``defect`` annotation and, with
  ``--method``, the method's map thresholded (``map / 255 >= threshold``) as one ``prediction``
  annotation, both as compressed RLE made by pycocotools; tags and notes ride along as extra image
  fields (``samis_tags``, ``samis_notes``), which COCO readers ignore;
- ``label-studio``: Label Studio tasks (JSON list): ``data.image``, the ground truth as a ``brushlabels``
  annotation and the method's mask as a prediction, both in Label Studio's brush RLE;
- ``cvat``: CVAT for images 1.1 XML with ``<mask>`` shapes (CVAT's RLE over the mask's bounding box); it
  carries masks only (tags and notes are in the csv / json exports), so CVAT imports it as it is.

Empty masks (a defect-free image, a method that finds nothing) produce no shape: the tools have no
empty mask. Image locations are ``--image-root`` joined with the image's file name, or the image's
absolute path.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from samis.datasets import Dataset, Sample
from samis.imageio import read_mask
from samis.review import ReviewError, ReviewStore
from samis.store import prediction_files, read_prediction
from samis.workspace import Workspace

EXPORT_FORMATS = ("csv", "json", "coco", "label-studio", "cvat")
DEFAULT_THRESHOLD = 0.5
GT_LABEL = "defect"
PREDICTION_LABEL = "prediction"


def check_target(workspace: Workspace, dataset: Dataset, image: str, method: str | None) -> None:
    """Refuse a review of an image or method that does not exist (one line).

    Raises:
        ReviewError: no such image in the dataset, or no stored predictions of that method.
    """
    if image not in dataset.by_id():
        raise ReviewError(f"{dataset.id}: no image with id {image!r}")
    if method:
        methods = workspace.prediction_methods(dataset.id)
        if method not in methods:
            raise ReviewError(f"{dataset.id}: unknown method {method!r} (stored: {', '.join(methods) or 'none'})")


def check_threshold(value) -> float:
    """A threshold in [0, 1] (of the map scaled to 0..1). Raises ReviewError otherwise."""
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise ReviewError(f"--threshold {value!r} is not a number (give one in [0, 1])") from None
    if not 0.0 <= threshold <= 1.0:
        raise ReviewError(f"--threshold {threshold} is outside [0, 1]")
    return threshold


@dataclass(frozen=True)
class ExportRequest:
    """What to export: which cases (a set, a tag, else every reviewed image), which method, where images are."""

    format: str
    set_name: str | None = None
    tag: str | None = None
    method: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    image_root: str | None = None


@dataclass
class Case:
    """One exported image with its review."""

    sample: Sample
    tags: list[dict]
    notes: list[dict]


def chosen_cases(workspace: Workspace, dataset: Dataset, store: ReviewStore, request: ExportRequest) -> list[Case]:
    """The cases a request names, in dataset order (a set keeps its own order)."""
    samples = dataset.by_id()
    tags, notes = store.tags(dataset.id), store.notes(dataset.id)
    if request.set_name:
        wanted = list(store.review_set(dataset.id, request.set_name).images)
    elif request.tag:
        wanted = list(dict.fromkeys(t.image for t in tags if t.tag == request.tag.strip()))
    else:
        wanted = list(dict.fromkeys([t.image for t in tags] + [n.image for n in notes]))
    if request.tag and request.set_name:
        tagged = {t.image for t in tags if t.tag == request.tag.strip()}
        wanted = [image for image in wanted if image in tagged]
    order = {s.id: i for i, s in enumerate(dataset.samples)}
    if not request.set_name:
        wanted.sort(key=lambda image: order.get(image, len(order)))
    cases = []
    for image in wanted:
        if image not in samples:
            continue  # an image the dataset no longer has: nothing to export
        cases.append(Case(samples[image],
                          [{"tag": t.tag, "method": t.method, "author": t.author, "time": _stamp(t.created)}
                           for t in tags if t.image == image],
                          [{"text": n.text, "method": n.method, "author": n.author, "time": _stamp(n.created)}
                           for n in notes if n.image == image]))
    return cases


def _stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def image_location(sample: Sample, image_root: str | None) -> str:
    """Where a tool finds the image: ``image_root/<file name>``, else the image's absolute path."""
    if image_root:
        return image_root.rstrip("/") + "/" + sample.image_path.name
    return str(Path(sample.image_path).resolve())


def case_masks(workspace: Workspace, dataset: Dataset, case: Case, request: ExportRequest) -> tuple[np.ndarray, np.ndarray | None]:
    """(ground truth, the method's thresholded map or None) of one case, as bool arrays."""
    gt = read_mask(case.sample.gt_path)[0]
    if not request.method:
        return gt, None
    files = prediction_files(workspace, dataset.id, request.method)
    if case.sample.id not in files:
        return gt, None
    scores = read_prediction(files[case.sample.id], gt.shape)
    return gt, scores.astype(np.float64) / 255.0 >= request.threshold


# ---- csv / json ------------------------------------------------------------------------------------
def _rows(cases: list[Case]) -> list[dict]:
    return [{"image": c.sample.id, "class": c.sample.cls, "image_path": str(c.sample.image_path),
             "tags": c.tags, "notes": c.notes} for c in cases]


def _csv(cases: list[Case]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "class", "kind", "method", "text", "author", "time"])
    for case in cases:
        for tag in case.tags:
            writer.writerow([case.sample.id, case.sample.cls, "tag", tag["method"], _cell(tag["tag"]), tag["author"], tag["time"]])
        for note in case.notes:
            writer.writerow([case.sample.id, case.sample.cls, "note", note["method"], _cell(note["text"]), note["author"],
                             note["time"]])
    return buffer.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would run as a formula, so it gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---- coco --------------------------------------------------------------------------------------------
def _coco(cases: list[Case], masks: list[tuple[np.ndarray, np.ndarray | None]], request: ExportRequest) -> str:
    # lazy: pycocotools is needed by this one export format only
    from pycocotools import mask as coco_mask

    categories = [{"id": 1, "name": GT_LABEL, "supercategory": "ground truth"}]
    if request.method:
        categories.append({"id": 2, "name": PREDICTION_LABEL, "supercategory": request.method})
    images, annotations = [], []
    for image_id, (case, (gt, predicted)) in enumerate(zip(cases, masks), start=1):
        height, width = gt.shape
        images.append({"id": image_id, "file_name": image_location(case.sample, request.image_root),
                       "width": width, "height": height, "samis_image": case.sample.id,
                       "samis_class": case.sample.cls, "samis_tags": case.tags, "samis_notes": case.notes})
        for category, mask in ((1, gt), (2, predicted)):
            if mask is None or not mask.any():
                continue
            rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                                "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")},
                                "area": float(coco_mask.area(rle)), "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                                "iscrowd": 0, **({"score": 1.0} if category == 2 else {})})
    info = {"description": f"samis review export{' with ' + request.method if request.method else ''}",
            "threshold": request.threshold if request.method else None,
            "rule": "prediction = map / 255 >= threshold" if request.method else None}
    return json.dumps({"info": info, "images": images, "annotations": annotations, "categories": categories},
                      ensure_ascii=False, indent=1)


# ---- label studio ------------------------------------------------------------------------------------
def brush_rle(mask: np.ndarray) -> list[int]:
    """A mask in Label Studio's brush RLE (the ``rle`` of a ``brushlabels`` result).

    The format (thi.ng/rle-pack, as Label Studio's converter writes it): the mask as RGBA bytes (each
    pixel 0 or 255 four times, row-major), then a bit stream: 32 bits of byte count, 5 bits word size - 1
    (7), four 4-bit run-length sizes - 1 (3, 4, 8, 16 bits), then runs ``1, size index (2 bits),
    length - 1 (that size), value (8 bits)``; zero bits pad the last byte.
    """
    values = np.repeat(np.where(mask.ravel(), 255, 0).astype(np.uint8), 4)
    bits = [format(values.size, "032b"), format(7, "05b"), "".join(format(s - 1, "04b") for s in (3, 4, 8, 16))]
    change = np.flatnonzero(np.diff(values.astype(np.int16))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [values.size]])
    for start, end in zip(starts.tolist(), ends.tolist()):
        value, length = format(int(values[start]), "08b"), end - start
        while length > 0:
            run = min(length, 1 << 16)
            index, size = next((i, s) for i, s in enumerate((3, 4, 8, 16)) if run <= 1 << s)
            bits.append("1" + format(index, "02b") + format(run - 1, f"0{size}b") + value)
            length -= run
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 8)
    return [int(stream[i:i + 8], 2) for i in range(0, len(stream), 8)]


def _brush_result(mask: np.ndarray, label: str, from_name: str) -> dict:
    height, width = mask.shape
    return {"id": uuid.uuid4().hex[:10], "from_name": from_name, "to_name": "image", "type": "brushlabels",
            "original_width": width, "original_height": height, "image_rotation": 0,
            "value": {"format": "rle", "rle": brush_rle(mask), "brushlabels": [label]}}


def _label_studio(cases: list[Case], masks: list[tuple[np.ndarray, np.ndarray | None]], request: ExportRequest) -> str:
    tasks = []
    for case, (gt, predicted) in zip(cases, masks):
        task = {"data": {"image": image_location(case.sample, request.image_root), "samis_image": case.sample.id,
                         "samis_class": case.sample.cls,
                         "samis_tags": ", ".join(sorted({t["tag"] for t in case.tags})),
                         "samis_notes": "\n".join(f"{n['author']} ({n['time']}): {n['text']}" for n in case.notes)},
                "annotations": [{"result": [_brush_result(gt, GT_LABEL, "tag")] if gt.any() else [],
                                 "ground_truth": True}]}
        if request.method:
            result = [_brush_result(predicted, GT_LABEL, "tag")] if predicted is not None and predicted.any() else []
            task["predictions"] = [{"model_version": f"{request.method}@{request.threshold:g}", "result": result}]
        tasks.append(task)
    return json.dumps(tasks, ensure_ascii=False, indent=1)


#: the labeling configuration the Label Studio export fits (give it to the project)
LABEL_STUDIO_CONFIG = ('<View><Image name="image" value="$image" zoom="true"/>'
                       f'<BrushLabels name="tag" toName="image"><Label value="{GT_LABEL}"/></BrushLabels>'
                       '<Text name="tags" value="$samis_tags"/><Text name="notes" value="$samis_notes"/></View>')


# ---- cvat --------------------------------------------------------------------------------------------
def cvat_rle(mask: np.ndarray) -> tuple[list[int], tuple[int, int, int, int]]:
    """A mask as CVAT's mask RLE: run lengths over its bounding box, row-major, starting with background.

    Returns:
        (counts, (left, top, width, height)); the box is the smallest holding every foreground pixel.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    values = mask[top:bottom + 1, left:right + 1].ravel().astype(np.int8)
    change = np.flatnonzero(np.diff(values)) + 1
    bounds = np.concatenate([[0], change, [values.size]])
    counts = np.diff(bounds).tolist()
    if values[0]:  # the counts start with background, which may be an empty run
        counts = [0] + counts
    return counts, (left, top, right - left + 1, bottom - top + 1)


def _cvat(cases: list[Case], masks: list[tuple[np.ndarray, np.ndarray | None]], request: ExportRequest) -> str:
    root = ElementTree.Element("annotations")
    ElementTree.SubElement(root, "version").text = "1.1"
    meta = ElementTree.SubElement(ElementTree.SubElement(root, "meta"), "task")
    ElementTree.SubElement(meta, "name").text = "samis review export"
    ElementTree.SubElement(meta, "size").text = str(len(cases))
    labels = ElementTree.SubElement(meta, "labels")
    for name in (GT_LABEL, PREDICTION_LABEL) if request.method else (GT_LABEL,):
        label = ElementTree.SubElement(labels, "label")
        ElementTree.SubElement(label, "name").text = name
        ElementTree.SubElement(label, "type").text = "mask"
        ElementTree.SubElement(label, "attributes")
    for image_id, (case, (gt, predicted)) in enumerate(zip(cases, masks)):
        height, width = gt.shape
        image = ElementTree.SubElement(root, "image", id=str(image_id), width=str(width), height=str(height),
                                       name=image_location(case.sample, request.image_root))
        for label, mask, source in ((GT_LABEL, gt, "manual"), (PREDICTION_LABEL, predicted, "auto")):
            if mask is None or not mask.any():
                continue
            counts, (left, top, box_width, box_height) = cvat_rle(mask)
            ElementTree.SubElement(image, "mask", label=label, source=source, occluded="0", z_order="0",
                                   rle=", ".join(map(str, counts)), left=str(left), top=str(top),
                                   width=str(box_width), height=str(box_height))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def export_cases(workspace: Workspace, dataset: Dataset, store: ReviewStore, request: ExportRequest) -> tuple[str, int]:
    """The chosen cases in the requested format: (text, number of cases).

    Raises:
        ReviewError: an unknown format or method, a bad threshold, an unknown review set.
    """
    if request.format not in EXPORT_FORMATS:
        raise ReviewError(f"unknown export format {request.format!r} (choose from {', '.join(EXPORT_FORMATS)})")
    if request.method and dataset.samples:
        check_target(workspace, dataset, dataset.samples[0].id, request.method)
    check_threshold(request.threshold)
    cases = chosen_cases(workspace, dataset, store, request)
    if request.format == "csv":
        return _csv(cases), len(cases)
    if request.format == "json":
        return json.dumps({"dataset": dataset.id, "cases": _rows(cases)}, ensure_ascii=False, indent=1), len(cases)
    masks = [case_masks(workspace, dataset, case, request) for case in cases]
    writer = {"coco": _coco, "label-studio": _label_studio, "cvat": _cvat}[request.format]
    return writer(cases, masks, request), len(cases)
