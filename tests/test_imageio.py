"""The one mask rule and the one map channel rule of samis.imageio, and the pixel limit of every reader.

Each case here was read silently wrong (or crashed) before the rules existed: 0/1, 16-bit and coloured
masks were read as empty, an RGBA map with its saliency in the alpha channel was read as all zeros,
and a decompression bomb gave a traceback.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from PIL import Image
from py_sod_metrics.utils import prepare_data

from samis.errors import DatasetError, StoreError
from samis.imageio import ImageReadError, MaskReadError, image_size, read_gray, read_map, read_mask, read_rgb
from samis.metrics import score_image

SHAPE = (30, 40)


def _defect() -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[5:15, 10:30] = True
    return mask


def _save(path, array, mode=None):
    image = Image.fromarray(array) if mode is None else Image.fromarray(array, mode)
    image.save(path)
    return path


@pytest.mark.parametrize("encoding, how", [
    ("0/255", "0/255"), ("0/1", "0/1"), ("0/100", "0/k (k=100)"), ("16-bit 0/65535", "0/65535"),
    ("16-bit 0/1000", "16-bit 0/1000"), ("16-bit 0/1", "0/1"), ("16-bit grey", "16-bit grey > 32896"),
    ("8-bit grey", "8-bit grey > 128"), ("jpeg", "8-bit grey > 128"), ("colour", "colour, non-black"),
    ("rgb grey", "0/255"), ("alpha", "alpha: 0/255"), ("palette", "colour, non-black"), ("1-bit", "1-bit"),
])
def test_every_mask_encoding_is_read_as_the_same_defect(tmp_path, encoding, how):
    defect = _defect()
    path = tmp_path / "mask.png"
    if encoding == "0/255":
        _save(path, defect.astype(np.uint8) * 255)
    elif encoding == "0/1":
        _save(path, defect.astype(np.uint8))
    elif encoding == "0/100":
        _save(path, defect.astype(np.uint8) * 100)
    elif encoding.startswith("16-bit 0/"):
        k = int(encoding.split("/")[1])
        _save(path, defect.astype(np.uint16) * k)
    elif encoding == "16-bit grey":
        values = np.where(defect, 60000, 200).astype(np.uint16)
        values[0, 0] = 30000  # a third level at or below the threshold: background
        _save(path, values)
    elif encoding == "8-bit grey":
        values = np.where(defect, 250, 3).astype(np.uint8)
        values[0, :5] = [0, 50, 100, 127, 128]
        _save(path, values)
    elif encoding == "jpeg":
        path = tmp_path / "mask.jpg"
        Image.fromarray(defect.astype(np.uint8) * 255).save(path, quality=90)
    elif encoding == "colour":
        rgb = np.zeros((*SHAPE, 3), np.uint8)
        rgb[defect] = (255, 0, 0)
        rgb[5:8, 10:12] = (0, 0, 40)  # another, dark, class colour is defect too
        _save(path, rgb)
    elif encoding == "rgb grey":
        _save(path, np.repeat((defect.astype(np.uint8) * 255)[:, :, None], 3, axis=2))
    elif encoding == "alpha":
        rgba = np.zeros((*SHAPE, 4), np.uint8)
        rgba[:, :, 3] = defect * 255
        _save(path, rgba, "RGBA")
    elif encoding == "palette":
        image = Image.fromarray(defect.astype(np.uint8), "L").convert("P")
        image.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
        image.save(path)
    elif encoding == "1-bit":
        Image.fromarray(defect).convert("1").save(path)
    mask, rule = read_mask(path)
    assert rule == how
    assert mask.dtype == bool and mask.shape == SHAPE
    if encoding == "jpeg":
        assert (mask == defect).mean() > 0.99
    else:
        np.testing.assert_array_equal(mask, defect)


def test_the_published_0_255_rule_is_pysodmetrics_own(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, SHAPE).astype(np.uint8)  # many levels, like a JPEG mask
    gt[0, 0] = 255
    mask, how = read_mask(_save(tmp_path / "m.png", gt))
    assert how == "8-bit grey > 128"
    np.testing.assert_array_equal(mask, prepare_data(np.zeros(SHAPE, np.uint8), gt)[1])


@pytest.mark.parametrize("encoding, message", [
    ("low levels", "none above 128"),
    ("16-bit low levels", "none above 32896"),
    ("float", "not a mask encoding"),
    ("colour no black", "without any black pixel"),
    ("alpha and colour", "colour and transparency both vary"),
    ("truncated", "unreadable or truncated"),
])
def test_masks_the_rule_cannot_read_are_refused_naming_the_file(tmp_path, encoding, message):
    path = tmp_path / "bad_mask.png"
    defect = _defect()
    if encoding == "low levels":
        _save(path, np.where(defect, 90, 30).astype(np.uint8) + np.eye(*SHAPE, dtype=np.uint8))
    elif encoding == "16-bit low levels":
        _save(path, (np.where(defect, 9000, 300) + np.eye(*SHAPE)).astype(np.uint16))
    elif encoding == "float":
        path = tmp_path / "bad_mask.tif"
        Image.fromarray(defect.astype(np.float32)).save(path)
    elif encoding == "colour no black":
        rgb = np.full((*SHAPE, 3), 255, np.uint8)
        rgb[defect] = (255, 0, 0)
        _save(path, rgb)
    elif encoding == "alpha and colour":
        rgba = np.zeros((*SHAPE, 4), np.uint8)
        rgba[:, :, 3] = defect * 255
        rgba[:, :20, 0] = 80
        _save(path, rgba, "RGBA")
    elif encoding == "truncated":
        _save(path, defect.astype(np.uint8) * 255)
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(MaskReadError, match=message) as caught:
        read_mask(path)
    assert isinstance(caught.value, DatasetError) and isinstance(caught.value, ImageReadError)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_empty_masks_are_empty(tmp_path):
    for name, array in (("e8.png", np.zeros(SHAPE, np.uint8)), ("e16.png", np.zeros(SHAPE, np.uint16)),
                        ("rgb.png", np.zeros((*SHAPE, 3), np.uint8))):
        mask, how = read_mask(_save(tmp_path / name, array))
        assert how == "empty" and not mask.any()


def test_zero_one_mask_scores_as_its_0_255_twin(tmp_path):
    rng = np.random.default_rng(1)
    defect = _defect()
    pred = rng.integers(0, 256, SHAPE).astype(np.uint8)
    twin = score_image(pred, defect.astype(np.uint8) * 255)
    zero_one = score_image(pred, read_mask(_save(tmp_path / "m.png", defect.astype(np.uint8)))[0])
    np.testing.assert_array_equal(zero_one.scalars, twin.scalars)
    np.testing.assert_array_equal(zero_one.curves, twin.curves)
    assert twin.scalars[0] > 0  # not the empty-mask score


# ---- maps ------------------------------------------------------------------------------------------
def test_rgba_map_with_saliency_in_alpha_over_black_is_the_alpha_channel(tmp_path):
    rng = np.random.default_rng(2)
    saliency = rng.integers(0, 256, SHAPE).astype(np.uint8)
    rgba = np.zeros((*SHAPE, 4), np.uint8)
    rgba[:, :, 3] = saliency
    path = _save(tmp_path / "map.png", rgba, "RGBA")
    assert read_gray(path).max() == 0  # what compositing over black gives (images keep that rule)
    np.testing.assert_array_equal(read_map(path), saliency)
    # opaque RGBA and grey maps: the colour's luminance, as before
    opaque = np.dstack([saliency, saliency, saliency, np.full(SHAPE, 255, np.uint8)])
    np.testing.assert_array_equal(read_map(_save(tmp_path / "opaque.png", opaque, "RGBA")), saliency)
    np.testing.assert_array_equal(read_map(_save(tmp_path / "grey.png", saliency)), saliency)
    both = rgba.copy()
    both[:, :, 0] = saliency[::-1]
    with pytest.raises(ImageReadError, match="colour and transparency both vary"):
        read_map(_save(tmp_path / "both.png", both, "RGBA"))


def test_constant_maps_keep_their_value_as_the_readme_says():
    """docs/metrics.md (moved there from the README): a constant map is not min-max scaled: all-0 stays 0,
    all-255 stays 1.0, all-100 stays 100/255."""
    readme = (__import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert "an all-255 map stays 1.0" in readme and "becomes all zeros" not in readme
    gt = np.zeros(SHAPE, np.uint8)
    for value, expected in ((0, 0.0), (255, 1.0), (100, 100 / 255)):
        pred, _ = prepare_data(np.full(SHAPE, value, np.uint8), gt)
        np.testing.assert_array_equal(pred, np.full(SHAPE, expected))
    # and samis scores exactly what pysodmetrics sees: MAE of an all-255 map on empty ground truth is 1
    assert score_image(np.full(SHAPE, 255, np.uint8), gt).scalars[1] == 1.0


# ---- the pixel limit ---------------------------------------------------------------------------------
def _bomb_png(path, size=20000) -> None:
    """A size x size 8-bit grey PNG of zeros, written by hand (a few hundred KB, 400 megapixels decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = size.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    compressor = zlib.compressobj(9)
    row = bytes(size + 1)
    data = b"".join(compressor.compress(row) for _ in range(size)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "img_001.png"
    _bomb_png(path)
    assert path.stat().st_size < 1_000_000
    return path


def test_a_decompression_bomb_is_one_line_from_every_reader(bomb):
    for reader in (read_gray, read_rgb, read_map, read_mask):
        with pytest.raises(ImageReadError, match=r"20000x20000 = 400 megapixels, above the limit of 100 megapixels") as caught:
            reader(bomb)
        assert "\n" not in str(caught.value) and "SAMIS_MAX_IMAGE_PIXELS" in str(caught.value)
    assert image_size(bomb) == (20000, 20000)  # the header alone is fine


def test_the_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = _save(tmp_path / "small.png", np.zeros((100, 100), np.uint8))
    monkeypatch.setenv("SAMIS_MAX_IMAGE_PIXELS", "5000")
    with pytest.raises(ImageReadError, match="above the limit"):
        read_gray(path)
    monkeypatch.setenv("SAMIS_MAX_IMAGE_PIXELS", "10000")
    assert read_gray(path).shape == (100, 100)
    monkeypatch.setenv("SAMIS_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(Exception, match="positive number of pixels"):
        read_gray(path)


def test_a_bomb_in_an_import_is_one_line_and_skipped_when_asked(workspace, make_folder_dataset, bomb, tmp_path):
    from samis.datasets import register_dataset
    from samis.store import import_predictions

    root, preds = make_folder_dataset(n=3)
    dataset = register_dataset(workspace, "toy", root)
    folder = tmp_path / "maps"
    folder.mkdir()
    for src in preds["good"].iterdir():
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "img_001.png").write_bytes(bomb.read_bytes())
    with pytest.raises(StoreError, match="img_001.png: image is 20000x20000"):
        import_predictions(workspace, dataset, "good", folder)
    report = import_predictions(workspace, dataset, "good", folder, skip_unreadable=True)
    assert report.matched == 2 and [name for name, _ in report.unreadable] == ["img_001.png"]


# ---- through the CLI: datasets add, import, evaluate ------------------------------------------------
def _cli(*args, workspace):
    from samis.cli import main

    return main(["--workspace", str(workspace.root), *[str(a) for a in args]])


def test_datasets_add_says_how_masks_were_read_and_0_1_masks_score_as_0_255(workspace, make_folder_dataset,
                                                                               tmp_path, capsys):
    root, preds = make_folder_dataset(n=6, empty_gt=1)
    twin = tmp_path / "twin"
    import shutil

    shutil.copytree(root, twin)
    for path in sorted((twin / "masks").iterdir())[:4]:  # four masks re-encoded as 0/1, two kept 0/255
        _save(path, (np.asarray(Image.open(path)) > 128).astype(np.uint8))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(twin / "masks" / "img_005.png")  # another size
    assert _cli("datasets", "add", "orig", root, workspace=workspace) == 0
    assert _cli("datasets", "add", "twin", twin, workspace=workspace) == 0
    out = capsys.readouterr().out
    assert "masks: 5 as 0/255, 1 as empty" in out
    assert "masks: 3 as 0/1, 2 as empty, 1 as 0/255" in out
    assert "masks of another size than their image: 1, e.g. img_005 (image 64x48, mask 10x10)" in out
    (twin / "masks" / "img_005.png").write_bytes((root / "masks" / "img_005.png").read_bytes())
    scores = {}
    for dataset in ("orig", "twin"):
        assert _cli("predictions", "import", dataset, "good", preds["good"], workspace=workspace) == 0
        capsys.readouterr()
        assert _cli("evaluate", dataset, "--format", "json", workspace=workspace) == 0
        scores[dataset] = json.loads(capsys.readouterr().out)["methods"]["good"]
    assert scores["twin"] == scores["orig"]


def test_datasets_add_refuses_a_mask_the_rule_cannot_read_and_registers_nothing(workspace, make_folder_dataset,
                                                                              capsys):
    root, _ = make_folder_dataset(n=3)
    _save(root / "masks" / "img_001.png", (np.eye(48, 64) * 40 + 20).astype(np.uint8))
    assert _cli("datasets", "add", "toy", root, workspace=workspace) == 2
    err = capsys.readouterr().err.strip()
    assert "img_001.png" in err and "none above 128" in err and len(err.splitlines()) == 1
    assert "toy" not in workspace.registered_datasets()


def test_import_refuses_two_files_of_one_name_unless_an_extension_is_preferred(workspace, make_folder_dataset,
                                                                              tmp_path, capsys):
    root, preds = make_folder_dataset(n=3)
    assert _cli("datasets", "add", "toy", root, workspace=workspace) == 0
    folder = tmp_path / "maps"
    folder.mkdir()
    for src in preds["good"].iterdir():
        (folder / src.name).write_bytes(src.read_bytes())
    weak = np.asarray(Image.open(preds["weak"] / "img_001.png"))
    Image.fromarray(weak).save(folder / "img_001.jpg")
    Image.fromarray(weak).save(folder / "img_002.bmp")
    (folder / "img_000.json").write_text("{}")  # a side file of another kind is no clash
    capsys.readouterr()
    assert _cli("predictions", "import", "toy", "good", folder, workspace=workspace) == 2
    err = capsys.readouterr().err
    assert "2 names have several image files: img_001 (.jpg/.png), img_002 (.bmp/.png)" in err
    assert "--prefer-ext" in err and not workspace.method_dir("toy", "good").exists()
    assert _cli("predictions", "import", "toy", "good", folder, "--prefer-ext", "png", workspace=workspace) == 0
    stored = workspace.method_dir("toy", "good")
    assert (stored / "img_001.png").read_bytes() != b""
    np.testing.assert_array_equal(np.asarray(Image.open(stored / "img_001.png")),
                                  np.asarray(Image.open(preds["good"] / "img_001.png")))
    assert _cli("predictions", "import", "toy", "weak", folder, "--prefer-ext", "jpg,bmp", workspace=workspace) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(workspace.method_dir("toy", "weak") / "img_002.png")), weak)
