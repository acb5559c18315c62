"""EfficientViT-SAM's variants as the ``efficientsam`` package builds them, on the meta device (no weights, no
download): what :mod:`samis.sam.checkpoints` compares a file's key → shape map with before anything loads.

Apart from :mod:`samis.sam.evit_backend` so that the checkpoint checks (which the backend's loader calls) can ask
for these shapes without an import cycle.
"""

from __future__ import annotations

import functools
import warnings

import torch

from samis.errors import SamError
from samis.models import EVIT_MODELS, ModelSpec


@functools.lru_cache(maxsize=1)
def import_package():
    """The ``efficientsam`` modules samis uses (imported once): the model zoo, backbones, SAM parts, nn layers."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timm's deprecated import paths, inside the package
            # efficientsam is optional: imported when an EfficientViT-SAM model is built, a one-line error when missing
            from efficientsam import sam_model_zoo
            from efficientsam.models import nn as evit_nn
            from efficientsam.models.efficientvit import backbone, sam
            from efficientsam.segment_anything import modeling
    except ImportError as error:
        raise SamError(f"EfficientViT-SAM needs the efficientsam package (pip install efficientsam==1.0.0): "
                       f"{error}") from None
    return sam_model_zoo, backbone, sam, modeling, evit_nn


def evit_network_on_meta(spec: ModelSpec):
    """A real EfficientViT-SAM variant built by the package's own constructor on the meta device (no weights)."""
    sam_model_zoo, _, _, _, _ = import_package()
    with torch.device("meta"):
        return sam_model_zoo.create_efficientvit_sam_model(spec.config, pretrained=False)


@functools.lru_cache(maxsize=None)
def variant_shapes(key: str) -> dict[str, tuple[int, ...]]:
    """The key → shape map of a real variant's state dict, from the package's constructor on the meta device."""
    return {name: tuple(t.shape) for name, t in evit_network_on_meta(EVIT_MODELS[key]).state_dict().items()}


def detect_evit_variant(state: dict) -> str | None:
    """The EfficientViT-SAM variant whose key → shape map a state dict has exactly (None if none)."""
    shapes = {name: tuple(value.shape) for name, value in state.items()}
    return next((key for key in EVIT_MODELS if variant_shapes(key) == shapes), None)
