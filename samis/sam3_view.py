"""What the dashboard shows of SAM 3's runs: its methods with cached instances, one image's instances and scores.

SAM 3 caches each image's instances (mask, score, the prompt that found it) per method
(:mod:`samis.sam.sam3_run`); this reads them, never recomputes. The Masks page shows the table and the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from samis.methods import describe
from samis.models import SAM3_FAMILY
from samis.sam.masks import read_mask_set
from samis.sam.text_prompts import Sam3Request, instances_to_map
from samis.store import read_manifest
from samis.workspace import Workspace


def sam3_methods(workspace: Workspace, dataset_id: str) -> list[str]:
    """SAM 3 method ids with an instance cache on the dataset (deployable text first, then the upper bounds)."""
    base = workspace.root / "cache" / "sam"
    found = [p.name for p in sorted(base.iterdir()) if (p / dataset_id).is_dir()] if base.is_dir() else []
    ours = [m for m in found if describe(m).model is not None and describe(m).model.code is SAM3_FAMILY]
    return sorted(ours, key=lambda m: (describe(m).upper_bound, m))


def sam3_images(workspace: Workspace, dataset_id: str, method: str) -> list[str]:
    folder = workspace.sam_cache_dir(method, dataset_id)
    return sorted(p.stem for p in folder.glob("*.npz") if not p.name.startswith(".")) if folder.is_dir() else []


@dataclass
class Sam3ImageView:
    """One image's SAM 3 instances for a method: the table (prompt, score, area, kept), the map, what made it."""

    method: str
    table: pd.DataFrame
    saliency: np.ndarray
    masks: np.ndarray
    manifest: dict
    note: str


def sam3_image_view(workspace: Workspace, dataset_id: str, method: str, image_id: str) -> Sam3ImageView:
    """Read one image's cached instances and make its map as the method did (threshold, combine from the manifest).

    Raises:
        SamError: the cache file is missing or damaged (one line).
    """
    found, provenance = read_mask_set(workspace.sam_cache_dir(method, dataset_id) / f"{image_id}.npz")
    manifest = read_manifest(workspace, dataset_id, method)
    threshold = float(manifest.get("score_threshold", provenance.get("threshold", 0.5)))
    info = describe(method)
    combine = "union" if info.prompt in ("box", "point") else manifest.get("combine", "max")
    prompts = provenance.get("instance_prompts") or [""] * len(found)
    height, width = found.shape
    table = pd.DataFrame({"instance": np.arange(len(found)), "prompt": prompts,
                          "score": found.predicted_iou.astype(float), "area %": 100.0 * found.area / (height * width),
                          "kept": found.predicted_iou >= threshold})
    saliency = instances_to_map(found.masks, found.predicted_iou, threshold, combine, found.shape)
    request = Sam3Request(info.prompt or "text")
    note = "; ".join(filter(None, [info.note, request.uses(), f"score threshold {threshold:g}, map: {combine}"]))
    return Sam3ImageView(method, table, np.asarray(saliency, np.float32), found.masks, manifest, note)
