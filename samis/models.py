"""The models samis runs, by the names its callers have always imported: the registry and each family's facts.

The registry itself is :mod:`samis.families.registry` (its docstring says how to add a family); each family is
declared in its own module of :mod:`samis.families`. This module re-exports the lookups (:func:`get_model`,
:func:`find_model`, ``FAMILIES``, ``MODEL_CHOICES``, ``RUNNABLE_MODELS``, :func:`checkpoint_facts`,
:func:`checkpoint_catalogue`) and the named families and models (``SAM_FAMILY``, ``SAM2_MODELS``, ``TINY_MODEL``
…) so code that imported them from here does not change. Nothing here imports torch.
"""

from __future__ import annotations

from samis.families.base import HASH_NOT_PUBLISHED, HASH_PREFIX_ONLY, CheckpointFacts, ModelFamily, ModelSpec
from samis.families.efficientvit_sam import EVIT_DOWNLOAD_BASE, EVIT_FAMILY, EVIT_MODELS, TINY_EVIT_MODEL
from samis.families.hq_sam import HQ_DOWNLOAD_BASE, HQ_FAMILY, HQ_MODELS, TINY_HQ_MODEL
from samis.families.registry import (
    FAMILIES,
    MODEL_CHOICES,
    OFFICIAL_FILES,
    RUNNABLE_MODELS,
    checkpoint_catalogue,
    checkpoint_facts,
    find_model,
    get_model,
)
from samis.families.sam import (
    OFFICIAL_CHECKPOINTS,
    SAM_CHECKPOINTS_HELP,
    SAM_DOWNLOAD_BASE,
    SAM_FAMILY,
    SAM_MODELS,
    SAM_TYPES,
    TINY_MODEL,
)
from samis.families.sam2 import OFFICIAL_SAM2_CHECKPOINTS, SAM2_DOWNLOAD_BASE, SAM2_FAMILY, SAM2_MODELS, TINY_SAM2_MODEL
from samis.families.sam3 import SAM3_FAMILY, SAM3_MODELS, TINY_SAM3_MODEL

__all__ = [
    "EVIT_DOWNLOAD_BASE", "EVIT_FAMILY", "EVIT_MODELS", "FAMILIES", "HASH_NOT_PUBLISHED", "HASH_PREFIX_ONLY",
    "HQ_DOWNLOAD_BASE", "HQ_FAMILY", "HQ_MODELS", "MODEL_CHOICES", "OFFICIAL_CHECKPOINTS", "OFFICIAL_FILES",
    "OFFICIAL_SAM2_CHECKPOINTS", "RUNNABLE_MODELS", "SAM2_DOWNLOAD_BASE", "SAM2_FAMILY", "SAM2_MODELS",
    "SAM3_FAMILY", "SAM3_MODELS", "SAM_CHECKPOINTS_HELP", "SAM_DOWNLOAD_BASE", "SAM_FAMILY", "SAM_MODELS",
    "SAM_TYPES", "TINY_EVIT_MODEL", "TINY_HQ_MODEL", "TINY_MODEL", "TINY_SAM2_MODEL", "TINY_SAM3_MODEL",
    "CheckpointFacts", "ModelFamily", "ModelSpec", "checkpoint_catalogue", "checkpoint_facts", "find_model",
    "get_model",
]
