"""The models samis runs (SAM, SAM 2.1 and the test-size ones), one :class:`ModelSpec` each, in one registry.

A model travels through samis as its :class:`ModelSpec`: the CLI and the dashboard turn the string a user
typed into one with :func:`get_model` at the boundary, and code below asks the spec (its family, its
checkpoint facts, its loader, its parameter schema) instead of comparing names.

Nothing here imports torch: the CLI, the tables and the dashboard ask these facts without loading a
model. :mod:`samis.sam.checkpoints` checks files against them, :mod:`samis.sam.engine` builds the
models through each spec's loader, :mod:`samis.methods` names the methods they produce.

Checkpoint hashes (``../shared/README.md``): the 6 hex digits in each SAM file name are the start of
the file's MD5; no full hash of the SAM or SAM 2.1 files is published by their authors (the
segment-anything and sam2 READMEs give URLs only), so samis records "prefix only" for SAM and "not
published" for SAM 2.1, and never calls a prefix match verified.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from samis.errors import SamError
from samis.sam import sam3_family
from samis.sam.params import AmgParams, HqAmgParams, Sam2AmgParams, params_for_model

SAM_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
SAM_CHECKPOINTS_HELP = "https://github.com/facebookresearch/segment-anything#model-checkpoints"
SAM2_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
# segment-anything-hq 0.3 lists no URLs; the SysCV/sam-hq README links its files on this Hugging Face repository
HQ_DOWNLOAD_BASE = "https://huggingface.co/lkeab/hq-sam/resolve/main/"
# efficientsam 1.0.0's own list (efficientsam/cached_sam_model.py SAM_MODEL_REGISTRY)
EVIT_DOWNLOAD_BASE = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main/"
#: what the catalogue says where the hash of an official file is not known here
HASH_NOT_PUBLISHED = "not published"
#: what the catalogue says where only the MD5 prefix in the file name is known
HASH_PREFIX_ONLY = "prefix only"


@dataclass(frozen=True)
class ModelFamily:
    """What every model of one code family shares (declared once, not branched on by name).

    Attributes:
        name: ``sam`` (``segment_anything``) or ``sam2`` (the official ``sam2`` package).
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
        key_marker: a state-dict key only this family's checkpoints have (the family check before loading).
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
    hash_status: str = "not published"
    key_marker: str = ""


SAM_FAMILY = ModelFamily("sam", "SAM", "segment_anything", "samis.sam.engine:build_sam_network", AmgParams,
                         "samis engine", SAM_DOWNLOAD_BASE, (".pth",), licence="Apache-2.0",
                         source="https://github.com/facebookresearch/segment-anything", hash_status="prefix only",
                         key_marker="image_encoder.pos_embed")
SAM2_FAMILY = ModelFamily("sam2", "SAM 2.1", "sam2", "samis.sam.sam2_backend:build_sam2_network", Sam2AmgParams,
                          "sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator", SAM2_DOWNLOAD_BASE,
                          (".pt", ".pth"), backend="samis.sam.sam2_backend", licence="Apache-2.0",
                          source="https://github.com/facebookresearch/sam2",
                          key_marker="image_encoder.trunk.patch_embed.proj.weight")
HQ_FAMILY = ModelFamily("hq-sam", "HQ-SAM", "segment_anything_hq", "samis.sam.hq_backend:build_hq_network",
                        HqAmgParams, "segment_anything_hq.SamAutomaticMaskGenerator", HQ_DOWNLOAD_BASE, (".pth",),
                        backend="samis.sam.hq_backend", licence="Apache-2.0 (the SysCV/sam-hq repository); the "
                        "segment-anything-hq 0.3 wheel's metadata says MIT", source="https://github.com/SysCV/sam-hq",
                        key_marker="mask_decoder.hf_token.weight")
EVIT_FAMILY = ModelFamily("efficientvit-sam", "EfficientViT-SAM", "efficientsam",
                          "samis.sam.evit_backend:build_evit_network", AmgParams,
                          "efficientsam EfficientViTSamAutomaticMaskGenerator", EVIT_DOWNLOAD_BASE, (".pt",),
                          backend="samis.sam.evit_backend", licence="Apache-2.0",
                          source="https://github.com/mit-han-lab/efficientvit",
                          key_marker="image_encoder.backbone.")
SAM3_FAMILY = ModelFamily(params_class=AmgParams, **sam3_family.FAMILY)  # declared in samis.sam.sam3_family


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
        return get_model, (self.key,)

    @property
    def family(self) -> str:
        """``sam``, ``sam2.1`` (official SAM 2.1 weights) or ``sam2`` (the test-size model: SAM 2 code, no
        SAM 2.1 weights); the name methods and the checkpoint catalogue carry."""
        if self.code is not SAM2_FAMILY:
            return self.code.name
        return "sam2" if self.random_weights else "sam2.1"

    @property
    def family_title(self) -> str:
        """``SAM`` or ``SAM 2.1``: the family as messages name it."""
        return self.code.title

    @property
    def runs_on_sam2(self) -> bool:
        """The model runs through the official ``sam2`` package (its predictor and generator)."""
        return self.code is SAM2_FAMILY

    @property
    def supports_embedding_cache(self) -> bool:
        """samis's own generator can keep image embeddings (``--cache-embeddings``); sam2's cannot."""
        return self.code is SAM_FAMILY

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
        short = "SAM 2" if self.code is SAM2_FAMILY else self.code.title
        return f"test-size {short} with random weights: not {self.code.title}'s accuracy"

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
        if self.code is SAM_FAMILY and self.checkpoint:
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
        return tuple(m.key for m in RUNNABLE_MODELS.values() if m.code is self.code and not m.random_weights)


def _sam(key: str, title: str, checkpoint: str, size: int, shape: tuple[int, int], params_m: float) -> ModelSpec:
    return ModelSpec(key, f"sam-{key}", title, SAM_FAMILY, checkpoint=checkpoint, checkpoint_bytes=size,
                     approx_bytes=size, encoder_shape=shape, params_m=params_m)


def _sam2(key: str, title: str, checkpoint: str, approx: int, config: str, shape: tuple[int, int],
          params_m: float) -> ModelSpec:
    return ModelSpec(key, f"sam2.1-{key}", title, SAM2_FAMILY, checkpoint=checkpoint, approx_bytes=approx,
                     encoder_shape=shape, config=config, params_m=params_m)


# parameter counts: SAM's from segment_anything's builders on the meta device; SAM 2.1's from sam2's README;
# the test-size models' counted on their seeded builds (tests/test_model_families.py checks each)
TINY_MODEL = ModelSpec("tiny", "sam-tiny-random", "test-size SAM, random weights (not SAM)", SAM_FAMILY,
                       random_weights=True, params_m=0.34)
SAM_MODELS: dict[str, ModelSpec] = {
    "vit_h": _sam("vit_h", "SAM ViT-H", "sam_vit_h_4b8939.pth", 2_564_550_879, (1280, 32), 641.1),
    "vit_l": _sam("vit_l", "SAM ViT-L", "sam_vit_l_0b3195.pth", 1_249_524_607, (1024, 24), 312.3),
    "vit_b": _sam("vit_b", "SAM ViT-B", "sam_vit_b_01ec64.pth", 375_042_383, (768, 12), 93.7),
    "tiny": TINY_MODEL,
}
#: the real SAM types (each with an official checkpoint), largest first
SAM_TYPES = tuple(key for key, model in SAM_MODELS.items() if not model.random_weights)
#: official checkpoint file name → its model
OFFICIAL_CHECKPOINTS = {m.checkpoint: m for m in SAM_MODELS.values() if m.checkpoint}

# SAM 2.1: exact byte sizes and hashes were not found in public sources, so only the approximate size is
# known: a download is checked for completeness (Content-Length) and for loadable weights of the right type.
# Width and blocks: embed_dim and sum(stages) of the sam2 package's configs/sam2.1/sam2.1_hiera_*.yaml
# (checked against sam2 1.1.0: t 96/[1,2,7,2], s 96/[1,2,11,2], b+ 112/Hiera's default [2,3,16,3], l 144/[2,6,36,4])
SAM2_MODELS: dict[str, ModelSpec] = {
    "hiera_t": _sam2("hiera_t", "SAM 2.1 Hiera-T", "sam2.1_hiera_tiny.pt", 149_000_000,
                     "configs/sam2.1/sam2.1_hiera_t.yaml", (96, 12), 38.9),
    "hiera_s": _sam2("hiera_s", "SAM 2.1 Hiera-S", "sam2.1_hiera_small.pt", 176_000_000,
                     "configs/sam2.1/sam2.1_hiera_s.yaml", (96, 16), 46.0),
    "hiera_b+": _sam2("hiera_b+", "SAM 2.1 Hiera-B+", "sam2.1_hiera_base_plus.pt", 309_000_000,
                      "configs/sam2.1/sam2.1_hiera_b+.yaml", (112, 24), 80.8),
    "hiera_l": _sam2("hiera_l", "SAM 2.1 Hiera-L", "sam2.1_hiera_large.pt", 857_000_000,
                     "configs/sam2.1/sam2.1_hiera_l.yaml", (144, 48), 224.4),
}
#: the test-size SAM 2 (random weights): hiera_t's config with every size shrunk (see samis.sam.sam2_backend)
TINY_SAM2_MODEL = ModelSpec("tiny-sam2", "sam2-tiny-random", "test-size SAM 2, random weights (not SAM 2.1)",
                            SAM2_FAMILY, random_weights=True, config="configs/sam2.1/sam2.1_hiera_t.yaml",
                            params_m=1.33)
#: SAM 2.1 official file name → its model
OFFICIAL_SAM2_CHECKPOINTS = {m.checkpoint: m for m in SAM2_MODELS.values()}



def _hq(size: str, approx: int, shape: tuple[int, int], params_m: float) -> ModelSpec:
    return ModelSpec(f"hq_vit_{size}", f"hq-sam-vit_{size}", f"HQ-SAM ViT-{size.upper()}", HQ_FAMILY,
                     checkpoint=f"sam_hq_vit_{size}.pth", approx_bytes=approx, encoder_shape=shape,
                     config=f"vit_{size}", params_m=params_m)


def _evit(name: str, approx: int, params_m: float) -> ModelSpec:
    return ModelSpec(f"evit_{name}", f"efficientvit-sam-{name}", f"EfficientViT-SAM-{name.upper()}", EVIT_FAMILY,
                     checkpoint=f"efficientvit_sam_{name}.pt", approx_bytes=approx,
                     config=f"efficientvit-sam-{name}", params_m=params_m)


# HQ-SAM: SAM's ViT encoders with the HQ decoder; sizes are the float32 state dicts built from the package's own
# builders on the meta device (tests/test_model_families.py recomputes them), not published file sizes
HQ_MODELS: dict[str, ModelSpec] = {m.key: m for m in (
    _hq("h", 2_570_745_024, (1280, 32), 642.7), _hq("l", 1_254_705_344, (1024, 24), 313.7),
    _hq("b", 379_227_328, (768, 12), 94.8))}
#: the test-size HQ-SAM (random weights): segment_anything_hq's modules at tiny sizes (samis.sam.hq_backend)
TINY_HQ_MODEL = ModelSpec("tiny-hq", "hq-sam-tiny-random", "test-size HQ-SAM, random weights (not HQ-SAM)",
                          HQ_FAMILY, random_weights=True, params_m=0.37)
# EfficientViT-SAM: efficientsam 1.0.0's create_efficientvit_sam_model names; sizes and parameter counts from the
# package's constructors on the meta device (float32), as for HQ-SAM
EVIT_MODELS: dict[str, ModelSpec] = {m.key: m for m in (
    _evit("l0", 139_264_208, 34.8), _evit("l1", 190_730_504, 47.7), _evit("l2", 245_488_976, 61.3),
    _evit("xl0", 468_047_088, 117.0), _evit("xl1", 813_763_960, 203.3))}
#: the test-size EfficientViT-SAM (random weights): efficientsam's modules at tiny sizes (samis.sam.evit_backend)
TINY_EVIT_MODEL = ModelSpec("tiny-evit", "efficientvit-sam-tiny-random",
                            "test-size EfficientViT-SAM, random weights (not EfficientViT-SAM)", EVIT_FAMILY,
                            random_weights=True, params_m=0.27)
# SAM 3: declared in samis.sam.sam3_family (its facts; the specs are built here)
_key, _label, _title, _file, _approx, _params = sam3_family.REAL
SAM3_MODELS: dict[str, ModelSpec] = {_key: ModelSpec(_key, _label, _title, SAM3_FAMILY, checkpoint=_file,
                                                     approx_bytes=_approx, params_m=_params)}
TINY_SAM3_MODEL = ModelSpec(*sam3_family.TINY[:3], SAM3_FAMILY, random_weights=True, params_m=sam3_family.TINY[3])

#: every model ``--model`` runs, by key: SAM (largest first, test-size), then SAM 2 (test-size, smallest first),
#: then HQ-SAM and EfficientViT-SAM (test-size first)
RUNNABLE_MODELS: dict[str, ModelSpec] = {**SAM_MODELS, TINY_SAM2_MODEL.key: TINY_SAM2_MODEL, **SAM2_MODELS,
                                         TINY_HQ_MODEL.key: TINY_HQ_MODEL, **HQ_MODELS,
                                         TINY_EVIT_MODEL.key: TINY_EVIT_MODEL, **EVIT_MODELS,
                                         TINY_SAM3_MODEL.key: TINY_SAM3_MODEL, **SAM3_MODELS}
#: every ``--model`` choice
MODEL_CHOICES = (("tiny",) + SAM_TYPES + (TINY_SAM2_MODEL.key,) + tuple(SAM2_MODELS) + (TINY_HQ_MODEL.key,)
                 + tuple(HQ_MODELS) + (TINY_EVIT_MODEL.key,) + tuple(EVIT_MODELS) + (TINY_SAM3_MODEL.key,)
                 + tuple(SAM3_MODELS))
#: every family samis runs, in the registry's order
FAMILIES = (SAM_FAMILY, SAM2_FAMILY, HQ_FAMILY, EVIT_FAMILY, SAM3_FAMILY)
#: official file name → its model, every family
OFFICIAL_FILES = {m.checkpoint: m for m in RUNNABLE_MODELS.values() if m.checkpoint}


@dataclass(frozen=True)
class CheckpointFacts:
    """What samis knows of one official checkpoint file, for every model family alike.

    Attributes:
        model: the catalogue name (``vit_h``, ``hiera_l``).
        family: ``sam`` or ``sam2.1``.
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


def checkpoint_facts(model: ModelSpec) -> CheckpointFacts:
    """The catalogue entry of a model with an official checkpoint."""
    return CheckpointFacts(model.key, model.family, model.title, model.checkpoint, model.code.download_base,
                           model.checkpoint_bytes, model.approx_bytes, model.md5_prefix, model.config, model.md5)


def checkpoint_catalogue() -> dict[str, CheckpointFacts]:
    """Every official checkpoint samis knows, by model name (SAM largest first, then SAM 2.1 smallest first)."""
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
