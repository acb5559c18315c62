"""The SAM engine gives the stock generator's masks (faster), on any image, on the chosen device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from segment_anything import SamAutomaticMaskGenerator, SamPredictor

from samis.errors import SamError
from samis.imageio import read_rgb
from samis.sam.amg import FastMaskGenerator, _axis_matrix, _resize
from samis.sam.params import AmgParams
from samis.sam.decoder import PointPromptDecoder
from samis.models import get_model
from samis.sam.engine import SamEngine, load_sam, model_label, resolve_device
from samis.sam.masks import MaskSet
from samis.sam.tiny import TINY_LABEL, build_tiny_sam

PERMISSIVE = dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_sam()


def _image(shape=(60, 90), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(80, 140, (*shape, 3), dtype=np.uint8)
    image[shape[0] // 4: shape[0] // 2, shape[1] // 3: shape[1] // 2] = 230
    return image


def _mask_iou(a, b) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def test_tiny_sam_is_deterministic_and_small(tiny):
    again = build_tiny_sam()
    for (name, p), (_, q) in zip(tiny.state_dict().items(), again.state_dict().items()):
        assert torch.equal(p, q), name
    assert sum(p.numel() for p in tiny.parameters()) < 1_000_000
    assert model_label("tiny") == TINY_LABEL == "sam-tiny-random"
    assert model_label("vit_h") == "sam-vit_h"
    with pytest.raises(SamError, match="unknown SAM model"):
        model_label("vit_x")


def test_point_decoder_equals_stock_mask_decoder(tiny):
    predictor = SamPredictor(tiny)
    predictor.set_image(_image())
    coords = torch.rand(40, 1, 2, dtype=torch.float64) * 256
    labels = torch.ones(40, 1, dtype=torch.int)
    with torch.inference_mode():
        sparse, dense = tiny.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        stock_logits, stock_iou = tiny.mask_decoder(image_embeddings=predictor.features,
                                                    image_pe=tiny.prompt_encoder.get_dense_pe(),
                                                    sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                                    multimask_output=True)
        decoder = PointPromptDecoder(tiny, predictor.features)
        hidden, keys = decoder.transform(sparse)
        iou = decoder.predicted_iou(hidden)[:, 1:]
        logits = decoder.low_res_logits(hidden, keys, [1, 2, 3])
    assert torch.allclose(iou, stock_iou, atol=1e-5)
    assert torch.allclose(logits, stock_logits, atol=1e-4)
    assert stock_logits.abs().max() > 0.01  # not trivially zero


@pytest.mark.parametrize("orig", [(200, 200), (37, 90), (245, 600), (8, 8)])
def test_composed_resize_equals_postprocess_masks(tiny, orig):
    from segment_anything.utils.transforms import ResizeLongestSide

    size = tiny.image_encoder.img_size
    input_size = ResizeLongestSide(size).get_preprocess_shape(orig[0], orig[1], size)
    low = torch.randn(5, 3, 64, 64)
    stock = tiny.postprocess_masks(low, input_size, orig)
    rows = _axis_matrix(64, size, input_size[0], orig[0], torch.device("cpu"))
    cols = _axis_matrix(64, size, input_size[1], orig[1], torch.device("cpu"))
    ours = _resize(low.flatten(0, 1), rows, cols).view_as(stock)
    assert torch.allclose(ours, stock, atol=1e-4)  # float32 rounding of the two-step resize


@pytest.mark.parametrize("params", [
    PERMISSIVE,
    # random weights: logits stay within +-1 and boxes span the image, so the filters are set
    # where they cut some candidates but not all
    dict(points_per_side=8, pred_iou_thresh=0.045, stability_score_thresh=0.0, box_nms_thresh=1.0),
    dict(points_per_side=8, pred_iou_thresh=0.0, stability_score_offset=0.05, stability_score_thresh=0.1,
         box_nms_thresh=1.0),
    # crops: random-weight masks span their crop, so any NMS below 1 leaves one mask to compare
    dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0,
         crop_nms_thresh=1.0, crop_n_layers=1, min_mask_region_area=30),
    # more points, SAM's stability offset; SAM's thresholds would leave no mask of random weights
    dict(points_per_side=12, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0),
])
def test_engine_gives_the_stock_generators_masks(tiny, params):
    image = _image((70, 110))
    amg = AmgParams(**params)
    stock = MaskSet.from_stock(SamAutomaticMaskGenerator(tiny, **amg.stock_kwargs()).generate(image), image.shape[:2])
    ours = FastMaskGenerator(tiny, amg).generate(image)
    assert len(ours) == len(stock)
    for a, b in zip(ours.masks, stock.masks):
        assert _mask_iou(a, b) >= 0.99
    np.testing.assert_allclose(ours.predicted_iou, stock.predicted_iou, atol=1e-5)
    np.testing.assert_allclose(ours.stability_score, stock.stability_score, atol=1e-3)
    # float rounding may flip a pixel on a mask's edge: boxes and areas agree to a pixel
    np.testing.assert_allclose(ours.bbox, stock.bbox, atol=1)
    np.testing.assert_array_equal(ours.crop_box, stock.crop_box)
    np.testing.assert_allclose(ours.point_coords, stock.point_coords)
    np.testing.assert_allclose(ours.area, stock.area, rtol=0.01)
    np.testing.assert_array_equal(ours.area, ours.masks.sum(axis=(1, 2)))
    assert len(ours) >= 20  # every case compares masks (a case with none would pass whatever the engine did)
    if params is PERMISSIVE:
        assert len(ours) == 3 * 36  # nothing filtered: every candidate of the 6x6 grid kept


@pytest.mark.parametrize("points_per_batch", [64, 5])
def test_masks_made_in_small_chunks_are_the_same_masks(tiny, monkeypatch, points_per_batch):
    """The memory bound (a few full-size masks at a time, logits kept until NMS) changes no pixel."""
    import samis.sam.amg as amg

    image = _image((70, 110), seed=4)
    params = AmgParams(points_per_side=8, pred_iou_thresh=0.0, stability_score_offset=0.05,
                       stability_score_thresh=0.1, box_nms_thresh=1.0, points_per_batch=points_per_batch)
    whole = FastMaskGenerator(tiny, params).generate(image)
    monkeypatch.setattr(amg, "MASK_CHUNK_BYTES", 3 * 4 * 70 * 110)  # three masks at a time
    assert FastMaskGenerator(tiny, params)._chunk_size(70 * 110) == 3
    chunked = FastMaskGenerator(tiny, params).generate(image)
    assert len(whole) >= 20
    np.testing.assert_array_equal(chunked.masks, whole.masks)
    for name in ("predicted_iou", "stability_score", "area", "bbox", "point_coords", "crop_box"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))


def test_odd_images_run(tiny, tmp_path):
    engine = SamEngine(load_sam("tiny"), AmgParams(**PERMISSIVE))
    rng = np.random.default_rng(3)
    gray16 = (rng.integers(0, 65535, (50, 40))).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    Image.fromarray(rng.integers(0, 255, (30, 45, 4), dtype=np.uint8), "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "tiny.png")
    for name, shape in (("g16.png", (50, 40)), ("rgba.png", (30, 45)), ("tiny.png", (8, 8))):
        masks = engine.generate(read_rgb(tmp_path / name))
        assert masks.shape == shape
        assert len(masks) > 0
    with pytest.raises(SamError, match="RGB uint8"):
        engine.generate(np.zeros((10, 10), np.uint8))


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(SamError, match="unknown device"):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(SamError, match="CUDA is not available"):
            resolve_device("cuda")


def test_one_shared_model_per_key_inside_a_cache_and_fresh_ones_outside():
    from samis.sam.model_cache import ModelCache

    cache = ModelCache()
    with cache.using():
        first = load_sam("tiny", device="cpu")
        assert load_sam("tiny", device="cpu") is first
        assert first.lock is load_sam("tiny", device="cpu").lock
    assert cache.keys() == [("tiny", "None", "cpu")] and cache.held_bytes == first.nbytes > 0
    with cache.using():
        assert load_sam(get_model("tiny"), device="cpu") is first  # a spec or its key: the same model
    assert load_sam("tiny", device="cpu") is not first  # no cache active: loaded afresh, held by no one
    with pytest.raises(SamError, match="takes no checkpoint"):
        load_sam("tiny", "x.pth")
    with pytest.raises(SamError, match="needs --checkpoint"):
        load_sam("vit_b", None)


def test_out_of_memory_retries_with_smaller_batches(monkeypatch):
    notices = []
    engine = SamEngine(load_sam("tiny"), AmgParams(points_per_side=4, points_per_batch=16), notify=notices.append)
    calls = {"n": 0}
    original = FastMaskGenerator.generate

    def flaky(self, image, embeddings=None, on_embedding=None):
        calls["n"] += 1
        if self.params.points_per_batch > 4:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, image, embeddings, on_embedding)

    monkeypatch.setattr(FastMaskGenerator, "generate", flaky)
    result = engine.generate(_image((40, 40)))
    assert isinstance(result, MaskSet)
    assert engine.params.points_per_batch == 4
    assert len(notices) == 2 and "retrying with points_per_batch=8" in notices[0]


def test_speed_subject_for_tiny():
    speed = pytest.importorskip("samis.speed")
    from samis.sam.engine import sam_speed_subject

    subject = sam_speed_subject("tiny", None, "cpu")
    assert isinstance(subject, speed.SpeedSubject)
    assert subject.method == "sam-tiny-random" and "random weights" in subject.note
    assert "not SAM" in subject.label
    assert 0.1 < subject.params_m < 1.0 and subject.size_mb is None
    assert subject.device == speed.cpu_name()  # the same CPU description as the baselines' rows
    assert isinstance(subject.run(_image((32, 32))), MaskSet)


def test_fast_boxes_equal_stock_boxes():
    from segment_anything.utils.amg import batched_mask_to_box

    from samis.sam.amg import masks_to_boxes_xyxy

    rng = np.random.default_rng(1)
    masks = torch.as_tensor(rng.random((50, 23, 31)) < rng.uniform(0, 0.02, (50, 1, 1)))
    masks[0] = False  # empty mask -> [0, 0, 0, 0]
    masks[1] = False
    masks[1, 22, 30] = True  # a single corner pixel
    assert torch.equal(masks_to_boxes_xyxy(masks), batched_mask_to_box(masks))
