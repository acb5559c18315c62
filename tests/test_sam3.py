"""SAM 3 (the official sam3 package) beside the other families: its install, its test-size model, its checkpoint.

The test-size SAM 3 is the package's own modules at small sizes with seeded random weights (labelled "test-size
SAM 3, random weights (not SAM 3)"); SAM 3's real checkpoint is recognised by the key → shape map of the same
assembly on the meta device, never downloaded.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from samis.errors import SamError
from samis.models import SAM3_FAMILY, get_model

pytest.importorskip("sam3")
pytest.importorskip("open_clip")


# ---- install: CLIP's vocabulary from open_clip is the one SAM 3's tokenizer expects -------------------------------

def test_bpe_vocabulary_from_open_clip_tokenizes_as_clip():
    import open_clip.tokenizer
    from sam3.model.tokenizer_ve import SimpleTokenizer

    from samis.sam.sam3_assembly import bpe_path

    ours = SimpleTokenizer(bpe_path=bpe_path())
    clip = open_clip.tokenizer.SimpleTokenizer()
    # CLIP's published ids of "a photo of a cat" (start 49406, end 49407): an independent reference
    assert ours.encode("a photo of a cat") == [320, 1125, 539, 320, 2368]
    assert (ours.sot_token_id, ours.eot_token_id, ours.vocab_size) == (49406, 49407, 49408)
    for text in ("scratch", "crack", "blowhole", "uneven", "break", "fray", "oil stain", "Punching hole"):
        ids = ours.encode(text)
        assert ids == clip.encode(text) and ours.decode(ids).strip() == text.lower()


# ---- the registry and the test-size model -------------------------------------------------------------------------

def test_sam3_is_declared_like_the_other_families():
    tiny, real = get_model("tiny-sam3"), get_model("sam3")
    assert tiny.code is SAM3_FAMILY and tiny.random_weights and tiny.title == "test-size SAM 3, random weights (not SAM 3)"
    assert tiny.label == "sam3-tiny-random" and "not SAM 3's accuracy" in tiny.random_weights_note
    assert real.checkpoint == "sam3.pt" and real.url == "https://huggingface.co/facebook/sam3/resolve/main/sam3.pt"
    assert SAM3_FAMILY.prompt_modes == ("text", "exemplar", "box", "point")
    with pytest.raises(SamError, match=r"^--prompts: SAM 3 \(tiny-sam3\) has no 'automatic' mode; it has text, "):
        tiny.check_mode("automatic")


def test_declared_size_and_parameters_are_the_assembly_on_meta():
    from samis.sam.sam3_assembly import variant_shapes

    parameters, buffers = variant_shapes("sam3")
    count = sum(math.prod(shape) for shape in parameters.values())
    assert get_model("sam3").approx_bytes == 4 * count and get_model("sam3").params_m == round(count / 1e6, 1)
    assert all(name.startswith(("detector.", "tracker.")) for name in [*parameters, *buffers])
    assert parameters["detector.backbone.vision_backbone.trunk.patch_embed.proj.weight"] == (1024, 3, 14, 14)
    assert sum(name.startswith("detector.backbone.vision_backbone.trunk.blocks.") and name.endswith(".norm1.weight")
               for name in parameters) == 32


@pytest.fixture(scope="module")
def tiny_sam3():
    from samis.sam.sam3_backend import build_tiny_sam3

    return build_tiny_sam3()


def test_tiny_sam3_is_the_packages_modules_seeded(tiny_sam3):
    from sam3.model.sam3_image import Sam3Image

    from samis.sam.sam3_backend import build_tiny_sam3

    assert isinstance(tiny_sam3, Sam3Image) and not tiny_sam3.training
    count = sum(p.numel() for p in tiny_sam3.parameters())
    assert round(count / 1e6, 2) == get_model("tiny-sam3").params_m
    again = build_tiny_sam3()
    assert all(torch.equal(a, b) for a, b in zip(tiny_sam3.state_dict().values(), again.state_dict().values()))
    assert all(torch.isfinite(p).all() for p in tiny_sam3.parameters())


def _image(seed=0, shape=(60, 90)):
    return (np.random.default_rng(seed).random((*shape, 3)) * 255).astype(np.uint8)


def test_the_text_reaches_the_model(tiny_sam3):
    from samis.sam.sam3_backend import Sam3Predictor

    predictor = Sam3Predictor(tiny_sam3)
    predictor.set_image(_image())
    scratch, crack = predictor.text("scratch"), predictor.text("crack")
    assert scratch.masks.shape == (16, 60, 90) and scratch.scores.shape == (16,)
    assert not np.allclose(scratch.scores, crack.scores)
    again = predictor.text("scratch")
    assert np.array_equal(again.scores, scratch.scores) and np.array_equal(again.masks, scratch.masks)
    exemplar = predictor.exemplar([5, 5, 30, 20])
    assert not np.allclose(exemplar.scores, scratch.scores)
    box, point = predictor.instance(box=[5, 5, 30, 20]), predictor.instance(point=[10, 10])
    assert box.shape == point.shape == (60, 90) and box.dtype == bool


# ---- checkpoints ---------------------------------------------------------------------------------------------------

def _file_state(model) -> dict:
    from samis.sam.sam3_assembly import file_keys

    return file_keys(model.state_dict())


def test_a_file_of_no_known_sam3_variant_is_refused_in_one_line(tiny_sam3, tmp_path):
    from samis.sam.checkpoints import load_state_dict

    path = tmp_path / "small.pt"
    torch.save(_file_state(tiny_sam3), path)
    with pytest.raises(SamError) as error:
        load_state_dict(path, "sam3")
    assert str(error.value) == f"{path}: a SAM 3 checkpoint of no variant samis knows, not sam3"


def test_the_real_loader_is_strict_on_parameters(tiny_sam3, tmp_path, monkeypatch):
    """The loader's path with SAM 3's sizes swapped for the test sizes: the file loads whole, or is refused."""
    from samis.sam import sam3_assembly, sam3_backend

    monkeypatch.setattr(sam3_assembly, "SAM3_SIZES", sam3_assembly.TINY_SIZES)
    monkeypatch.setattr(sam3_backend, "SAM3_SIZES", sam3_assembly.TINY_SIZES)
    sam3_assembly.variant_shapes.cache_clear()
    try:
        state = _file_state(tiny_sam3)
        buffers = {name for name in state if name.endswith(("freqs_cis", "attn_mask", "freqs_cos", "freqs_sin",
                                                            "relative_coords"))}
        path = tmp_path / "sam3.pt"
        torch.save({k: v for k, v in state.items() if k not in buffers}, path)  # a file without the buffers loads
        network = sam3_backend.build_sam3_network(get_model("sam3"), path)
        assert all(torch.equal(a, b) for a, b in zip(network.state_dict().values(), tiny_sam3.state_dict().values()))
        del state["detector.transformer.decoder.presence_token.weight"]
        torch.save(state, path)
        with pytest.raises(SamError) as error:
            sam3_backend.build_sam3_network(get_model("sam3"), path)
        assert str(error.value) == f"{path}: a SAM 3 checkpoint of no variant samis knows, not sam3"
    finally:
        sam3_assembly.variant_shapes.cache_clear()


def test_sam3_and_sam_files_refuse_each_other(tiny_sam3, tmp_path):
    from samis.sam.checkpoints import load_state_dict
    from samis.sam.tiny import build_tiny_sam

    sam_file, sam3_file = tmp_path / "sam.pth", tmp_path / "s3.pt"
    torch.save(build_tiny_sam().state_dict(), sam_file)
    torch.save(_file_state(tiny_sam3), sam3_file)
    with pytest.raises(SamError) as error:
        load_state_dict(sam_file, "sam3")
    assert str(error.value) == f"{sam_file}: a SAM checkpoint, not SAM 3 sam3"
    with pytest.raises(SamError) as error:
        load_state_dict(sam3_file, "vit_b")
    assert str(error.value) == f"{sam3_file}: a SAM 3 checkpoint, not SAM vit_b"


def test_the_assembly_has_the_official_builders_key_shape_map(monkeypatch):
    """sam3.model_builder.build_sam3_image_model (interactive) on the meta device has the assembly's state dict.

    The builder precomputes two caches on "cuda" (not in the state dict); here they are left to first use, as the
    assembly does, so the builder runs without a GPU.
    """
    from sam3 import model_builder
    from sam3.model import decoder, position_encoding

    from samis.sam.sam3_assembly import SAM3_SIZES, assemble_sam3, bpe_path, on_meta

    real_init = position_encoding.PositionEmbeddingSine.__init__
    monkeypatch.setattr(position_encoding.PositionEmbeddingSine, "__init__",
                        lambda self, *args, precompute_resolution=None, **kwargs: real_init(self, *args, **kwargs))
    real_coords = decoder.TransformerDecoder._get_coords
    monkeypatch.setattr(decoder.TransformerDecoder, "_get_coords",
                        staticmethod(lambda h, w, device: real_coords(h, w, device="meta")))
    with on_meta():
        official = model_builder.build_sam3_image_model(device="cpu", load_from_HF=False, checkpoint_path=None,
                                                        enable_inst_interactivity=True, bpe_path=bpe_path())
        ours = assemble_sam3(SAM3_SIZES)
    shapes = {k: tuple(v.shape) for k, v in official.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in ours.state_dict().items()}


# ---- checkpoints download sam3: a stand-in hub that refuses as Hugging Face does -----------------------------------

def _hub_refusing(error_name: str | None, calls: list):
    import types

    import httpx
    from huggingface_hub import errors

    response = httpx.Response(401 if error_name != "GatedRepoError" else 403,
                              request=httpx.Request("GET", "https://huggingface.co/facebook/sam3/resolve/main/sam3.pt"))

    def hf_hub_download(**kwargs):
        calls.append(kwargs)
        if error_name is None:
            path = Path(kwargs["local_dir"]) / kwargs["filename"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"weights")
            return str(path)
        kind = getattr(errors, error_name)
        raise kind("refused", response=response) if error_name != "LocalEntryNotFoundError" else kind("offline")

    return types.SimpleNamespace(hf_hub_download=hf_hub_download), errors


@pytest.mark.parametrize("error_name, start", [
    ("GatedRepoError", "huggingface.co/facebook/sam3: SAM 3's weights are gated and this Hugging Face account has no "
                       "access"),
    ("RepositoryNotFoundError", "huggingface.co/facebook/sam3: no valid Hugging Face token with access"),
    ("LocalEntryNotFoundError", "huggingface.co/facebook/sam3: cannot reach Hugging Face"),
])
def test_a_refused_sam3_download_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, error_name, start):
    from samis.sam3_download import download_sam3

    monkeypatch.setenv("HF_TOKEN", "hf_SECRET_sentinel")
    calls: list = []
    with pytest.raises(SamError) as error:
        download_sam3(tmp_path / "checkpoints", hub=_hub_refusing(error_name, calls))
    message = str(error.value)
    assert message.startswith(start) and "\n" not in message
    if error_name != "LocalEntryNotFoundError":
        assert message.endswith("request access at https://huggingface.co/facebook/sam3 (accept the SAM License), "
                                "then log in with `hf auth login` or set HF_TOKEN")
    assert "SECRET" not in message and not (tmp_path / "checkpoints" / "sam3.pt").exists()
    assert calls == [{"repo_id": "facebook/sam3", "filename": "sam3.pt", "local_dir": tmp_path / "checkpoints"}]


def test_sam3_download_uses_the_users_token_and_never_stores_it(tmp_path, monkeypatch, workspace, capsys):
    import samis.sam3_download as download

    monkeypatch.setenv("HF_TOKEN", "hf_SECRET_sentinel")
    calls: list = []
    monkeypatch.setattr(download, "_hub", lambda: _hub_refusing(None, calls))
    from samis.cli import main

    assert main(["--workspace", str(workspace.root), "checkpoints", "download", "sam3"]) == 0
    out = capsys.readouterr().out
    assert "sam3.pt: 7 bytes from huggingface.co/facebook/sam3/sam3.pt" in out
    assert "token" not in calls[0]  # huggingface_hub finds the user's own token; samis passes none
    for path in workspace.root.rglob("*"):
        assert not path.is_file() or b"SECRET" not in path.read_bytes(), path


def test_speed_rows_for_the_test_size_sam3_and_the_untimed_real_one():
    from samis.speed import sam_subjects

    subjects, rows, _ = sam_subjects({"tiny-sam3": None, "sam3": None}, device="cpu")
    (subject,) = subjects
    assert subject.method == "sam3-tiny-random" and "random weights" in subject.label and "text prompts" in subject.note
    assert round(subject.params_m, 2) == get_model("tiny-sam3").params_m
    assert [(r.method, r.params_m) for r in rows] == [("sam3", 860.1)] and "not timed" in rows[0].note
    found = subject.run(_image())
    assert len(found) == 3 and all(f.masks.shape[1:] == (60, 90) for f in found)
