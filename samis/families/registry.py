"""The model registry: every family module of :mod:`samis.families`, imported and looked up in one place.

A model travels through samis as its :class:`~samis.families.base.ModelSpec`: the CLI and the dashboard turn the
string a user typed into one with :func:`get_model` at the boundary, and code below asks the spec (its family,
its checkpoint facts, its loader, its parameter schema) instead of comparing names. :mod:`samis.models` offers
the same names to its callers.

How to add a family
-------------------

Write one module ``samis/families/<name>.py`` (``samis/families/hq_sam.py`` is a short example) that:

1. builds a :class:`~samis.families.base.ModelFamily`: package, ``loader`` (``module:function(spec, checkpoint)``
   returning the network), ``params_class`` (its generator's parameter schema, :mod:`samis.sam.params`),
   ``backend`` (a module with ``mask_generator(model, params, notify)`` and ``image_predictor(model)`` running
   the package's own generator and predictor), ``prompt_modes``, licence, source, ``hash_status`` ("prefix
   only" or "not published"), ``download_base``, the checkpoint ``key_marker`` / ``marker_text`` /
   ``detector`` (``module:function(state) -> variant key or None``; ``refines`` where its files hold another
   family's keys too) and an ``order`` in lists;
2. declares a :class:`~samis.families.base.ModelSpec` per variant (key, label, title, checkpoint file, size,
   full ``md5`` where published, ``params_m``) and a test-size one with ``random_weights=True``, labelled
   "random weights" in its title;
3. ends with ``register(FAMILY, models)``.

Nothing else changes: ``--model`` choices, ``checkpoints list|download|verify``, the Run page's model picker,
method ids, the family table and the speed rows all read this registry (tests/test_models.py drops a toy family
module into the package and finds it in each). The loader, backend and detector are imported only when a model
runs or a checkpoint is checked, so this module and the family modules import no torch.
"""

from __future__ import annotations

from samis.errors import SamError
from samis.families.base import (
    HASH_NOT_PUBLISHED,
    HASH_PREFIX_ONLY,
    CheckpointFacts,
    ModelFamily,
    ModelSpec,
    registered_families,
    registered_models,
)

__all__ = ["FAMILIES", "HASH_NOT_PUBLISHED", "HASH_PREFIX_ONLY", "MODEL_CHOICES", "OFFICIAL_FILES", "RUNNABLE_MODELS",
           "CheckpointFacts", "ModelFamily", "ModelSpec", "checkpoint_catalogue", "checkpoint_facts", "find_model",
           "get_model"]

#: every family samis runs, in the registry's order (SAM, SAM 2.1, HQ-SAM, EfficientViT-SAM, then any other)
FAMILIES: tuple[ModelFamily, ...] = registered_families()
#: every model ``--model`` runs, by key, family by family in each family's declared order
RUNNABLE_MODELS: dict[str, ModelSpec] = {m.key: m for m in registered_models()}
#: every ``--model`` choice: each family's test-size model first, then its real ones
MODEL_CHOICES: tuple[str, ...] = tuple(
    m.key for family in FAMILIES
    for m in sorted((m for m in RUNNABLE_MODELS.values() if m.code is family), key=lambda m: not m.random_weights))
#: official file name → its model, every family
OFFICIAL_FILES: dict[str, ModelSpec] = {m.checkpoint: m for m in RUNNABLE_MODELS.values() if m.checkpoint}


def checkpoint_facts(model: ModelSpec) -> CheckpointFacts:
    """The catalogue entry of a model with an official checkpoint."""
    return CheckpointFacts(model.key, model.family, model.title, model.checkpoint, model.code.download_base,
                           model.checkpoint_bytes, model.approx_bytes, model.md5_prefix, model.config, model.md5)


def checkpoint_catalogue() -> dict[str, CheckpointFacts]:
    """Every official checkpoint samis knows, by model name, in the registry's order."""
    return {m.key: checkpoint_facts(m) for m in RUNNABLE_MODELS.values() if m.checkpoint}


def find_model(name: str) -> ModelSpec | None:
    """The model of a ``--model`` key (``vit_h``, ``tiny``, ``hiera_l``, ``tiny-sam2``) or of a label
    (``sam-vit_h``, ``sam2.1-hiera_l``); None if unknown (:func:`get_model` raises instead)."""
    if isinstance(name, ModelSpec):
        return name
    if name in RUNNABLE_MODELS:
        return RUNNABLE_MODELS[name]
    return next((m for m in RUNNABLE_MODELS.values() if m.label == name), None)


def get_model(key: str | ModelSpec) -> ModelSpec:
    """The model a ``--model`` key names (a spec is returned as it is): the one lookup at a boundary.

    Raises:
        SamError: unknown model (one line listing the choices).
    """
    model = key if isinstance(key, ModelSpec) else RUNNABLE_MODELS.get(key)
    if model is None:
        raise SamError(f"unknown SAM model {key!r}; choose one of {', '.join(MODEL_CHOICES)}")
    return model
