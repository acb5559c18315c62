"""Raw SAM masks of one image, and their cache file ``<stem>.npz``.

A cache file holds the masks bit-packed (``np.packbits``, then zip-compressed by ``savez_compressed``)
with, per mask, the predicted IoU, stability score, area, box (XYWH), prompt point and crop box,
plus a JSON provenance record (model, checkpoint hash, generator parameters, samis version).
Files are written atomically, so a killed run leaves whole files only.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samis.errors import SamError
from samis.imageio import write_bytes_atomic
from samis.recovery import move_aside

CACHE_FORMAT = 1


@dataclass
class MaskSet:
    """SAM's masks for one image, in the generator's order (best predicted IoU first).

    Attributes:
        masks: (n, H, W) bool.
        predicted_iou, stability_score: (n,) float32.
        area: (n,) int64 pixels.
        bbox: (n, 4) int64 XYWH (x, y of the top-left pixel, width and height as SAM reports them).
        point_coords: (n, 2) float64 prompt point (x, y) in image pixels.
        crop_box: (n, 4) int64 XYWH crop the mask came from.
    """

    masks: np.ndarray
    predicted_iou: np.ndarray
    stability_score: np.ndarray
    area: np.ndarray
    bbox: np.ndarray
    point_coords: np.ndarray
    crop_box: np.ndarray

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> "MaskSet":
        h, w = shape
        return cls(np.zeros((0, h, w), bool), np.zeros(0, np.float32), np.zeros(0, np.float32),
                   np.zeros(0, np.int64), np.zeros((0, 4), np.int64), np.zeros((0, 2), np.float64),
                   np.zeros((0, 4), np.int64))

    @classmethod
    def from_stock(cls, records: list[dict], shape: tuple[int, int]) -> "MaskSet":
        """From ``SamAutomaticMaskGenerator.generate`` output (``output_mode='binary_mask'``)."""
        if not records:
            return cls.empty(shape)
        return cls(
            masks=np.stack([r["segmentation"] for r in records]).astype(bool),
            predicted_iou=np.array([r["predicted_iou"] for r in records], np.float32),
            stability_score=np.array([r["stability_score"] for r in records], np.float32),
            area=np.array([r["area"] for r in records], np.int64),
            bbox=np.array([r["bbox"] for r in records], np.int64).reshape(-1, 4),
            point_coords=np.array([r["point_coords"][0] for r in records], np.float64).reshape(-1, 2),
            crop_box=np.array([r["crop_box"] for r in records], np.int64).reshape(-1, 4),
        )

    def subset(self, keep) -> "MaskSet":
        return MaskSet(self.masks[keep], self.predicted_iou[keep], self.stability_score[keep], self.area[keep],
                       self.bbox[keep], self.point_coords[keep], self.crop_box[keep])


def encode_mask_set(mask_set: MaskSet, provenance: dict) -> bytes:
    """The ``.npz`` bytes of a mask set with its provenance."""
    n, h, w = mask_set.masks.shape
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        format=np.array(CACHE_FORMAT),
        shape=np.array([n, h, w], np.int64),
        packed=np.packbits(mask_set.masks.reshape(n, h * w), axis=1),
        predicted_iou=mask_set.predicted_iou.astype(np.float32),
        stability_score=mask_set.stability_score.astype(np.float32),
        area=mask_set.area.astype(np.int64),
        bbox=mask_set.bbox.astype(np.int64),
        point_coords=mask_set.point_coords.astype(np.float64),
        crop_box=mask_set.crop_box.astype(np.int64),
        provenance=np.array(json.dumps(provenance, sort_keys=True, default=str)),
    )
    return buffer.getvalue()


def write_mask_set(path: str | Path, mask_set: MaskSet, provenance: dict) -> None:
    """Write a cache file atomically (temp file in the same folder, then rename)."""
    write_bytes_atomic(path, encode_mask_set(mask_set, provenance))


class _DamagedMaskFile(ValueError):
    """A mask cache file opens but does not hold what samis wrote."""


_ARRAYS = ("format", "shape", "packed", "predicted_iou", "stability_score", "area", "bbox", "point_coords",
           "crop_box", "provenance")


def _whole_provenance(path: Path) -> dict | None:
    """The provenance of a cache file that is whole; None for another format. Raises ValueError when damaged."""
    with zipfile.ZipFile(path) as archive:
        bad = archive.testzip()  # checks every member's CRC, so a flipped byte in the masks is found now
        if bad is not None:
            raise _DamagedMaskFile(f"member {bad} fails its checksum")
    with np.load(path, allow_pickle=False) as data:
        absent = [name for name in _ARRAYS if name not in data.files]
        if absent:
            raise _DamagedMaskFile(f"no '{absent[0]}' array")
        if int(data["format"]) != CACHE_FORMAT:
            return None
        n, h, w = (int(v) for v in data["shape"])
        if data["packed"].shape != (n, (h * w + 7) // 8) or any(len(data[k]) != n for k in _ARRAYS[3:9]):
            raise _DamagedMaskFile("array sizes disagree")
        provenance = json.loads(str(data["provenance"]))
    if not isinstance(provenance, dict):
        raise _DamagedMaskFile("provenance is not a JSON object")
    return provenance


def read_resumable_provenance(path: str | Path) -> dict | None:
    """The provenance of a whole cache file, for deciding whether a resumed run may skip the image.

    The whole file is checked (every array present, sizes agreeing,
    checksums right); a damaged file is moved aside with a warning
    (:func:`samis.recovery.move_aside`), so the run computes it again instead of selection failing later.

    Returns:
        the provenance, or None when the file is missing, damaged (moved aside) or of another format.
    """
    path = Path(path)
    try:
        return _whole_provenance(path)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise  # not damage: the caller names the file that cannot be read
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile, EOFError) as error:
        move_aside(path, str(error) if isinstance(error, _DamagedMaskFile) else error.__class__.__name__,
                   then="computed again")
        return None


def read_mask_set(path: str | Path) -> tuple[MaskSet, dict]:
    """Read a cache file.

    Returns:
        (mask set, provenance).

    Raises:
        SamError: the file is missing, damaged or of another format.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT:
                raise SamError(f"{path}: mask cache format {int(data['format'])}, expected {CACHE_FORMAT}; run sam again")
            n, h, w = (int(v) for v in data["shape"])
            masks = np.unpackbits(data["packed"], axis=1, count=h * w).reshape(n, h, w).astype(bool)
            mask_set = MaskSet(masks, data["predicted_iou"], data["stability_score"], data["area"], data["bbox"],
                               data["point_coords"], data["crop_box"])
            provenance = json.loads(str(data["provenance"]))
    except FileNotFoundError:
        raise SamError(f"{path}: mask cache file missing; run `python -m samis sam` first") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError, zlib.error) as error:
        # zlib.error: a flipped byte inside a compressed member; it is no OSError or ValueError
        raise SamError(f"{path}: damaged mask cache file ({error.__class__.__name__}); delete it and run sam again") from None
    return mask_set, provenance
