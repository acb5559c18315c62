"""``review export`` (issue 27): csv / json with tags and notes as text; COCO, Label Studio and CVAT files whose masks
decode — with pycocotools, a brush-RLE decoder written here from Label Studio's documented format, and CVAT's
mask RLE — to the ground truth and to the method's map thresholded as stated."""

from __future__ import annotations

import csv
import io
import json
from xml.etree import ElementTree

import numpy as np
import pytest

from samis.cli import main
from samis.datasets import load_dataset, register_dataset
from samis.imageio import read_map, read_mask
from samis.review import ReviewStore
from samis.store import import_predictions, prediction_files
from samis.workspace import Workspace

NOTE = '<img src=x onerror=alert(1)> **not bold** =1+1'
TAGGED = ("img_000", "img_003", "img_004")  # img_000 has an empty ground truth


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, folder_dataset_writer):
    base = tmp_path_factory.mktemp("export")
    root, preds = folder_dataset_writer(base, n=6, shape=(40, 56), empty_gt=1)
    workspace = Workspace(base / "workspace")
    dataset = register_dataset(workspace, "toy", root)
    for method, folder in preds.items():
        import_predictions(workspace, dataset, method, folder)
    store = ReviewStore(workspace.root)
    for image in TAGGED:
        store.add_tag("toy", image, "gt error", author="ann")
    store.add_tag("toy", "img_003", "<b>boundary</b>", method="good", author="bob")
    store.add_note("toy", "img_003", NOTE, author="bob")
    store.create_set("toy", "to fix", ["img_004", "img_003"], description="ground truth to redraw", author="ann")
    return workspace


def _export(workspace, tmp_path, fmt, *extra) -> str:
    out = tmp_path / f"out.{fmt}"
    assert main(["--workspace", str(workspace.root), "review", "export", "toy", "--format", fmt, "-o", str(out),
                 *extra]) == 0
    return out.read_text(encoding="utf-8")


def _truth(workspace, image, threshold=0.5):
    gt = read_mask(load_dataset(workspace, "toy").by_id()[image].gt_path)[0]
    scores = read_map(prediction_files(workspace, "toy", "good")[image])
    return gt, scores.astype(np.float64) / 255.0 >= threshold


def test_csv_and_json_keep_text_as_text(reviewed, tmp_path):
    rows = list(csv.DictReader(io.StringIO(_export(reviewed, tmp_path, "csv"))))
    assert {r["image"] for r in rows} == set(TAGGED)
    note = next(r for r in rows if r["kind"] == "note")
    assert note["text"] == NOTE
    assert any(r["text"] == "<b>boundary</b>" and r["method"] == "good" for r in rows)
    document = json.loads(_export(reviewed, tmp_path, "json", "--set", "to fix"))
    assert [c["image"] for c in document["cases"]] == ["img_004", "img_003"]  # the set's own order
    assert document["cases"][1]["notes"][0]["text"] == NOTE


def test_coco_loads_with_pycocotools_and_masks_match(reviewed, tmp_path):
    from pycocotools.coco import COCO

    path = tmp_path / "coco.json"
    path.write_text(_export(reviewed, tmp_path, "coco", "--method", "good", "--threshold", "0.4", "--image-root",
                            "https://example.org/img"))
    coco = COCO(str(path))
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == {"defect", "prediction"}
    seen = 0
    for image in coco.loadImgs(coco.getImgIds()):
        gt, predicted = _truth(reviewed, image["samis_image"], 0.4)
        assert image["file_name"].startswith("https://example.org/img/img_")
        for category, expected in ((1, gt), (2, predicted)):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]], catIds=[category]))
            decoded = np.zeros_like(expected) if not anns else coco.annToMask(anns[0]).astype(bool)
            assert len(anns) == (1 if expected.any() else 0)
            assert np.array_equal(decoded, expected), (image["samis_image"], category)
            seen += len(anns)
    assert seen >= 4


def decode_brush_rle(rle: list[int]) -> np.ndarray:
    """Label Studio's brush RLE (thi.ng/rle-pack): 32-bit count, 5-bit word size - 1, four 4-bit RLE sizes - 1,
    then chunks: a flag bit (1 = a run of one value, 0 = literal values), a 2-bit size index, the count - 1 in
    that many bits, then the value (one word) for a run or count words for literals."""
    bits = "".join(format(byte, "08b") for byte in rle)
    position = 0

    def read(n):
        nonlocal position
        value = int(bits[position:position + n], 2)
        position += n
        return value

    total, word = read(32), read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(total, np.uint8)
    x = 0
    while x < total:
        repeat = read(1)
        count = read(sizes[read(2)]) + 1
        if repeat:
            out[x:x + count] = read(word)
        else:
            for k in range(count):
                out[x + k] = read(word)
        x += count
    return out


def test_label_studio_brush_masks_decode_to_the_same_pixels(reviewed, tmp_path):
    tasks = json.loads(_export(reviewed, tmp_path, "label-studio", "--method", "good"))
    assert len(tasks) == 3
    for task in tasks:
        gt, predicted = _truth(reviewed, task["data"]["samis_image"])
        assert task["data"]["image"].endswith(f"{task['data']['samis_image']}.png")
        for results, expected in ((task["annotations"][0]["result"], gt), (task["predictions"][0]["result"], predicted)):
            if not expected.any():
                assert results == []
                continue
            (result,) = results
            assert result["type"] == "brushlabels" and result["value"]["format"] == "rle"
            assert (result["original_height"], result["original_width"]) == expected.shape
            assert result["from_name"] == "tag" and result["to_name"] == "image"
            rgba = decode_brush_rle(result["value"]["rle"]).reshape(*expected.shape, 4)
            assert np.array_equal(rgba[..., 3] > 0, expected) and set(np.unique(rgba)) <= {0, 255}
    assert NOTE in next(t for t in tasks if t["data"]["samis_image"] == "img_003")["data"]["samis_notes"]


def test_brush_rle_long_runs():
    from samis.review_export import brush_rle

    mask = np.zeros((300, 300), bool)
    mask[150:, :] = True  # runs longer than 2**16 bytes
    assert np.array_equal(decode_brush_rle(brush_rle(mask)).reshape(300, 300, 4)[..., 0] > 0, mask)


def decode_cvat_mask(element, width: int, height: int) -> np.ndarray:
    """CVAT's mask RLE: counts alternate background / foreground, starting with background, row-major over the
    box (left, top, width, height)."""
    counts = [int(c) for c in element.get("rle").split(",")]
    left, top, box_w, box_h = (int(element.get(k)) for k in ("left", "top", "width", "height"))
    flat = np.zeros(box_w * box_h, bool)
    cursor, value = 0, False
    for count in counts:
        flat[cursor:cursor + count] = value
        cursor, value = cursor + count, not value
    assert cursor == box_w * box_h
    full = np.zeros((height, width), bool)
    full[top:top + box_h, left:left + box_w] = flat.reshape(box_h, box_w)
    return full


def test_cvat_xml_parses_and_masks_decode(reviewed, tmp_path):
    root = ElementTree.fromstring(_export(reviewed, tmp_path, "cvat", "--method", "good", "--tag", "gt error"))
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    assert [l.findtext("name") for l in root.iter("label")] == ["defect", "prediction"]
    images = root.findall("image")
    assert len(images) == 3
    for image in images:
        width, height = int(image.get("width")), int(image.get("height"))
        stem = image.get("name").rsplit("/", 1)[-1].removesuffix(".png")
        gt, predicted = _truth(reviewed, stem)
        for label, expected in (("defect", gt), ("prediction", predicted)):
            masks = [m for m in image.findall("mask") if m.get("label") == label]
            decoded = decode_cvat_mask(masks[0], width, height) if masks else np.zeros_like(expected)
            assert np.array_equal(decoded, expected), (stem, label)


def test_bad_export_requests_are_one_line(reviewed, tmp_path, capsys):
    for extra, message in ((["--set", "a/b"], "not allowed"), (["--set", "nope"], "no review set"),
                           (["--method", "zz"], "unknown method"), (["--threshold", "2"], "outside")):
        capsys.readouterr()
        code = main(["--workspace", str(reviewed.root), "review", "export", "toy", "--format", "coco", "-o",
                     str(tmp_path / "x.json"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
