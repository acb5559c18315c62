"""What a model family declares (:class:`ModelFamily`, :class:`ModelSpec`) and where it registers itself.

A family module (``samis/families/sam.py`` …) builds one :class:`ModelFamily` and its :class:`ModelSpec` s and
calls :func:`register`; :mod:`samis.families.registry` imports every such module and offers the lookups
(:func:`~samis.families.registry.get_model` …). Nothing here imports torch: the CLI, the tables and the dashboard
ask these facts without loading a model.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from samis.errors import SamError
from samis.sam.params import AmgParams, params_for_model

#: what the catalogue says where the hash of an official file is not known here
HASH_NOT_PUBLISHED = "not published"
#: what the catalogue says where only the MD5 prefix in the file name is known
HASH_PREFIX_ONLY = "prefix only"
#: modules of this package that declare no family
NOT_FAMILIES = frozenset({"base", "registry"})


@dataclass(frozen=True)
class ModelFamily:
    """What every model of one code family shares (declared once, not branched on by name).

    Attributes:
        name: the family's id (``sam``, ``sam2``, ``hq-sam``, ``efficientvit-sam``).
        title: what messages call the family (``SAM``, ``SAM 2.1``).
        package: the Python package that runs it.
        loader: ``module:function`` building the network from a spec and a checkpoint path (None: random
            weights); imported only when a model loads (torch).
        params_class: the automatic mask generator's parameter schema.
        generator: the generator that makes its automatic masks, for provenance and speed notes.
        download_base: the official folder URL of its checkpoints.
        checkpoint_suffixes: file extensions of its checkpoints.
        backend: ``module`` with ``mask_generator(model, params, notify)`` and ``image_predictor(model)`` for a
            family that runs through its own package's generator and predictor (None: samis's SAM engine).
        prompt_modes: what it can be prompted with (``automatic``, ``box``, ``point``).
        licence: the licence of its code and weights, as its authors state it.
        source: where the family comes from (repository).
        hash_status: what is known of its files' hashes: "prefix only" or "not published".
        key_marker: the start of a state-dict key only this family's checkpoints have (the family check before
            loading); a family that ``refines`` another wins where both markers are present.
        marker_text: what the marker is, for the message refusing a file without it.
        detector: ``module:function`` giving the variant key of a state dict (or key → shape map) of this family,
            None where no variant fits; imported only when a checkpoint is checked (torch).
        refines: the name of the family whose checkpoints this one's contain (HQ-SAM holds SAM's keys and more).
        order: where the family stands in every list (lower first).
        release_name: the name methods and the catalogue carry for models with official weights (``sam2.1``);
            the family's ``name`` where empty.
        code_title: the code's name for a test-size model's note (``SAM 2``); the ``title`` where empty.
        embedding_cache: samis's own generator can keep its image embeddings (``--cache-embeddings``).
    """

    name: str
    title: str
    package: str
    loader: str
    params_class: type[AmgParams]
    generator: str
    download_base: str
    checkpoint_suffixes: tuple[str, ...]
    backend: str | None = None
    prompt_modes: tuple[str, ...] = ("automatic", "box", "point")
    licence: str = ""
    source: str = ""
    hash_status: str = HASH_NOT_PUBLISHED
    key_marker: str = ""
    marker_text: str = ""
    detector: str = ""
    refines: str | None = None
    order: int = 100
    release_name: str = ""
    code_title: str = ""
    embedding_cache: bool = False

    def has_marker(self, state) -> bool:
        """A state dict (or key → shape map) holds a key starting with this family's marker."""
        return any(key.startswith(self.key_marker) for key in state)

    def detect_variant(self, state) -> str | None:
        """The model key of this family's state dict, or None where no variant fits (imports the detector)."""
        module, _, name = self.detector.partition(":")
        return getattr(importlib.import_module(module), name)(state)


@dataclass(frozen=True)
class ModelSpec:
    """One model samis can run: what it is, where its weights come from, how it loads, what it takes.

    Attributes:
        key: what ``--model`` takes (``vit_h``, ``tiny``, ``hiera_l``, ``tiny-sam2``).
        label: the name its masks and methods carry (``sam-vit_h``, ``sam-tiny-random``, ``sam2.1-hiera_l``).
        title: a human name (``SAM ViT-H``).
        code: the :class:`ModelFamily` whose code runs it (loader, parameter schema, generator).
        random_weights: a test-size model with seeded random weights: its output says nothing about accuracy.
        checkpoint: official checkpoint file name (None: the model takes no checkpoint).
        checkpoint_bytes: the official file's exact size, where published.
        approx_bytes: the official file's size, roughly (equal to ``checkpoint_bytes`` where that is known).
        md5: the official file's full MD5, where its authors publish one (none do today).
        encoder_shape: (width, depth) of the image encoder, to tell a checkpoint's type.
        config: the model config inside the ``sam2`` package (hydra name), for SAM 2 models; the package's
            constructor name for other families (``efficientvit-sam-l0``).
        params_m: the parameter count in millions, as its authors publish it (None where not known).
    """

    key: str
    label: str
    title: str
    code: ModelFamily
    random_weights: bool = False
    checkpoint: str | None = None
    checkpoint_bytes: int | None = None
    approx_bytes: int | None = None
    md5: str | None = None
    encoder_shape: tuple[int, int] | None = None
    config: str | None = None
    params_m: float | None = None

    def __reduce__(self):
        # sent to another process (a pool, a Ray worker) as its key: it arrives as the registry's own spec, so
        # the family checks (``code is SAM2_FAMILY``) hold there too
        return registered_model, (self.key,)

    @property
    def family(self) -> str:
        """``sam``, ``sam2.1`` (official SAM 2.1 weights) or ``sam2`` (the test-size model: SAM 2 code, no
        SAM 2.1 weights); the name methods and the checkpoint catalogue carry."""
        if self.random_weights:
            return self.code.name
        return self.code.release_name or self.code.name

    @property
    def family_title(self) -> str:
        """``SAM`` or ``SAM 2.1``: the family as messages name it."""
        return self.code.title

    @property
    def runs_on_sam2(self) -> bool:
        """The model runs through the official ``sam2`` package (its predictor and generator)."""
        return self.code.package == "sam2"

    @property
    def supports_embedding_cache(self) -> bool:
        """samis's own generator can keep image embeddings (``--cache-embeddings``); sam2's cannot."""
        return self.code.embedding_cache

    @property
    def prompt_modes(self) -> tuple[str, ...]:
        """What this model can be prompted with (``automatic``, ``box``, ``point``)."""
        return self.code.prompt_modes

    def check_mode(self, mode: str, where: str = "--prompts") -> None:
        """Raises SamError (one line) for a prompt mode this model's family does not have."""
        if mode not in self.code.prompt_modes:
            raise SamError(f"{where}: {self.code.title} ({self.key}) has no {mode!r} mode; it has "
                           f"{', '.join(self.code.prompt_modes)}")

    @property
    def random_weights_note(self) -> str:
        """What a table says beside this test-size model's numbers."""
        return f"test-size {self.code.code_title or self.code.title} with random weights: not {self.code.title}'s accuracy"

    @property
    def needs_checkpoint(self) -> bool:
        return not self.random_weights

    @property
    def params_class(self) -> type[AmgParams]:
        """The generator parameter schema of this model (:class:`AmgParams` or :class:`Sam2AmgParams`)."""
        return self.code.params_class

    @property
    def md5_prefix(self) -> str | None:
        """The start of the official file's MD5 as written in a SAM file name (``4b8939``); None for SAM 2.1."""
        if self.code.hash_status == HASH_PREFIX_ONLY and self.checkpoint:
            return self.checkpoint.rsplit("_", 1)[1].split(".")[0]
        return None

    @property
    def url(self) -> str | None:
        return self.code.download_base + self.checkpoint if self.checkpoint else None

    @property
    def size_text(self) -> str | None:
        """The official file's size for people: ``2.56 GB`` (exact) or ``about 0.86 GB``."""
        if self.checkpoint_bytes:
            return f"{self.checkpoint_bytes / 1e9:.2f} GB"
        return f"about {self.approx_bytes / 1e9:.2f} GB" if self.approx_bytes else None

    def loader(self):
        """The function building this model's network: ``loader()(spec, checkpoint_path_or_None)`` (imports torch)."""
        module, _, name = self.code.loader.partition(":")
        return getattr(importlib.import_module(module), name)

    def params(self, values: dict | None = None) -> AmgParams:
        """This model's generator parameters: ``values`` over its family's defaults (see
        :func:`samis.sam.params.params_for_model`)."""
        return params_for_model(self, values)

    def real_keys(self) -> tuple[str, ...]:
        """The keys of this family's models with official weights (``vit_h``, ``vit_l``, ``vit_b``)."""
        return tuple(m.key for m in registered_models() if m.code is self.code and not m.random_weights)


@dataclass(frozen=True)
class CheckpointFacts:
    """What samis knows of one official checkpoint file, for every model family alike.

    Attributes:
        model: the catalogue name (``vit_h``, ``hiera_l``).
        family: the name methods carry (``sam``, ``sam2.1``, ``hq-sam`` …).
        title: a human name.
        file: the official file name.
        base_url: the official folder URL (the file name is appended).
        size: exact size in bytes, or None where it is not known.
        approx_size: size in bytes, roughly (equal to ``size`` where that is known).
        md5_prefix: the start of the file's MD5 as its name gives it, or None.
        config: the model config (SAM 2.1), or None.
        md5: the file's full published MD5, or None where none is published (every file today).
    """

    model: str
    family: str
    title: str
    file: str
    base_url: str
    size: int | None
    approx_size: int
    md5_prefix: str | None = None
    config: str | None = None
    md5: str | None = None

    @property
    def url(self) -> str:
        return self.base_url + self.file

    def url_from(self, base_url: str | None) -> str:
        """The file's URL under another base (a mirror); the official one for None."""
        if not base_url:
            return self.url
        return base_url if base_url.endswith(self.file) else base_url.rstrip("/") + "/" + self.file

    @property
    def hash_text(self) -> str:
        """What is known of the file's hash: the full MD5, its published prefix ("prefix only"), or "not published"."""
        if self.md5:
            return f"md5 {self.md5}"
        if self.md5_prefix:
            return f"md5 {self.md5_prefix}… ({HASH_PREFIX_ONLY})"
        return HASH_NOT_PUBLISHED


# ---- the registrations --------------------------------------------------------------------------------------

_FAMILIES: dict[str, ModelFamily] = {}
_MODELS: dict[str, tuple[ModelSpec, ...]] = {}
_LOADED: list[bool] = []


def register(family: ModelFamily, models) -> None:
    """Declare a family and its models (the family module's last line).

    Args:
        family: the family's facts.
        models: its models in the order lists show them (a test-size one with random weights among them).

    Raises:
        SamError: a family, model key or label that another registration already took, a model of another
            family, or a family without a test-size random-weights model.
    """
    models = tuple(models)
    taken = {m.key for ms in _MODELS.values() for m in ms} | {m.label for ms in _MODELS.values() for m in ms}
    if family.name in _FAMILIES and _FAMILIES[family.name] != family:
        raise SamError(f"model registry: family {family.name!r} is registered twice")
    if family.name in _FAMILIES:
        return  # the same module imported again (a reload): nothing changes
    clash = sorted({m.key for m in models} & taken | {m.label for m in models} & taken)
    if clash:
        raise SamError(f"model registry: {family.title} declares {', '.join(clash)}, which another family has")
    if any(m.code is not family for m in models):
        raise SamError(f"model registry: {family.title} declares a model of another family")
    if not any(m.random_weights for m in models):
        raise SamError(f"model registry: {family.title} declares no test-size model with random weights")
    _FAMILIES[family.name] = family
    _MODELS[family.name] = models


def load_families() -> None:
    """Import every family module of :mod:`samis.families` (each registers itself); again, a no-op."""
    if _LOADED:
        return
    _LOADED.append(True)
    package = importlib.import_module(__package__)
    for found in pkgutil.iter_modules(package.__path__):
        if found.name not in NOT_FAMILIES and not found.name.startswith("_"):
            importlib.import_module(f"{__package__}.{found.name}")


def registered_families() -> tuple[ModelFamily, ...]:
    """Every registered family, in their declared order (then by name)."""
    load_families()
    return tuple(sorted(_FAMILIES.values(), key=lambda f: (f.order, f.name)))


def registered_models() -> tuple[ModelSpec, ...]:
    """Every registered model, family by family, each family's in its declared order."""
    return tuple(m for family in registered_families() for m in _MODELS[family.name])


def registered_model(key: str) -> ModelSpec:
    """The registered model of a key (how a spec arrives in another process)."""
    model = next((m for m in registered_models() if m.key == key), None)
    if model is None:
        raise SamError(f"unknown SAM model {key!r}")
    return model
