"""Checkpoint checks: missing, unreadable, truncated, wrong type, wrong size, hashing once."""

from __future__ import annotations

import hashlib

import pytest
import torch

from samis.errors import SamError
from samis.sam.checkpoints import (
    check_checkpoint_file,
    check_official_hash,
    checkpoint_md5,
    detect_model_type,
    load_state_dict,
)
from samis.sam.engine import load_sam


def _fake_state(width: int, depth: int) -> dict:
    """A small state dict shaped like a SAM image encoder of the given width and depth."""
    state = {"image_encoder.pos_embed": torch.zeros(1, 2, 2, width),
             "image_encoder.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}
    for block in range(depth):
        state[f"image_encoder.blocks.{block}.norm1.weight"] = torch.zeros(1)
    return state


def test_missing_and_folder(tmp_path):
    with pytest.raises(SamError, match="not found.*sam_vit_h_4b8939.pth"):
        check_checkpoint_file(tmp_path / "nope.pth", "vit_h")
    with pytest.raises(SamError, match="is a folder"):
        check_checkpoint_file(tmp_path, "vit_b")
    with pytest.raises(SamError, match="unknown SAM model type"):
        check_checkpoint_file(tmp_path / "x.pth", "vit_q")


def test_official_name_with_wrong_size_or_type(tmp_path):
    truncated = tmp_path / "sam_vit_b_01ec64.pth"
    truncated.write_bytes(b"\0" * 1000)
    with pytest.raises(SamError, match="1,000 bytes but the official sam_vit_b_01ec64.pth has 375,042,383"):
        check_checkpoint_file(truncated, "vit_b")
    with pytest.raises(SamError, match="official vit_b checkpoint.*use --model vit_b"):
        check_checkpoint_file(truncated, "vit_h")
    with pytest.raises(SamError, match="does not match the official"):
        check_official_hash(truncated, hashlib.md5(b"x").hexdigest())


def test_unreadable_files(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("this is not a checkpoint\n")
    with pytest.raises(SamError, match="not a readable PyTorch checkpoint") as caught:
        load_state_dict(text, "vit_b")
    # one short line about this file, not PyTorch's long weights_only explanation
    assert "a text file" in str(caught.value) and "weights_only" not in str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < len(str(text)) + 80
    good = tmp_path / "whole.pth"
    torch.save(_fake_state(768, 12), good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SamError, match="truncated, damaged"):
        load_state_dict(cut, "vit_b")
    other = tmp_path / "other.pth"
    torch.save({"backbone.weight": torch.zeros(3)}, other)
    with pytest.raises(SamError, match="not a SAM checkpoint"):
        load_state_dict(other, "vit_b")
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(SamError, match="does not hold a SAM state dict"):
        load_state_dict(listing, "vit_b")


@pytest.mark.parametrize("width, depth, expected", [(1280, 32, "vit_h"), (1024, 24, "vit_l"), (768, 12, "vit_b")])
def test_wrong_type_names_the_right_one(tmp_path, width, depth, expected):
    assert detect_model_type(_fake_state(width, depth)) == expected
    path = tmp_path / "custom.pth"
    torch.save(_fake_state(width, depth), path)
    wrong = "vit_b" if expected != "vit_b" else "vit_h"
    with pytest.raises(SamError, match=f"holds a SAM {expected} model, not {wrong}; use --model {expected}"):
        load_sam(wrong, path, "cpu")


def test_incomplete_weights_of_the_right_type(tmp_path):
    path = tmp_path / "partial_vit_b.pth"
    torch.save(_fake_state(768, 12), path)
    with pytest.raises(SamError, match="weights do not fit SAM vit_b"):
        load_sam("vit_b", path, "cpu", hash_cache=tmp_path / "hashes.json")


def test_md5_is_computed_once_per_file_version(tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"abc" * 1000)
    cache = tmp_path / "hashes.json"
    expected = hashlib.md5(b"abc" * 1000).hexdigest()
    assert checkpoint_md5(path, cache) == expected
    calls = []
    real_md5 = hashlib.md5
    monkeypatch.setattr(hashlib, "md5", lambda *a: calls.append(1) or real_md5(*a))
    assert checkpoint_md5(path, cache) == expected
    assert calls == []  # remembered by path, size and mtime
    path.write_bytes(b"abcd" * 1000)
    assert checkpoint_md5(path, cache) == real_md5(b"abcd" * 1000).hexdigest()
    assert calls == [1]
