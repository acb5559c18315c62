"""One image's click trace on disk (``results/…/clicks/<run>/<image>.npz``): its key, clicks, IoUs and bit-packed
masks. Apart from :mod:`samis.prompts.click_run` so that views read traces without importing SAM (and torch)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from samis.prompts.clicks import ClickTrace


def trace_bytes(key, trace: ClickTrace | None) -> bytes:
    """One image's cache file: its key, its clicks, IoUs and bit-packed masks (none for a defect-free image)."""
    buffer = io.BytesIO()
    if trace is None:
        clicks, ious, packed, shape = np.zeros((0, 3), np.int64), np.zeros(0), np.zeros((0, 0), np.uint8), (0, 0)
    else:
        clicks = np.array([c.as_list() for c in trace.clicks], np.int64).reshape(-1, 3)
        ious, shape = np.asarray(trace.ious, np.float64), trace.masks.shape[1:]
        packed = np.packbits(trace.masks.reshape(len(trace.masks), -1), axis=1)
    np.savez(buffer, key=np.array(json.dumps(key, sort_keys=True)), clicks=clicks, ious=ious, masks=packed,
             shape=np.array(shape, np.int64))
    return buffer.getvalue()


def read_trace_file(path: Path) -> dict | None:
    """A cache file as ``{"key", "clicks", "ious", "masks" (k, H, W) bool}``; None when missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            shape = tuple(int(v) for v in data["shape"])
            packed = data["masks"]
            count = shape[0] * shape[1]
            masks = (np.unpackbits(packed, axis=1, count=count).reshape(len(packed), *shape).astype(bool)
                     if len(packed) else np.zeros((0, *shape), bool))
            return {"key": json.loads(str(data["key"])), "clicks": data["clicks"].tolist(),
                    "ious": data["ious"].tolist(), "masks": masks}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def key_of_file(path: Path):
    """The key a cache file was made for; None when missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["key"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing or damaged: computed again, and the file replaced atomically
