"""The SAM and SAM 2.1 models samis runs, and the facts of their official checkpoints, in one place.

Nothing here imports torch: the CLI, the tables and the dashboard ask these facts without loading a
model. :mod:`samis.sam.checkpoints` checks files against them, :mod:`samis.sam.engine` builds the
models, :mod:`samis.methods` names the methods they produce.

Official files (``../shared/README.md``): the 6 hex digits in each SAM file name are the start of the
file's MD5.
"""

from __future__ import annotations

from dataclasses import dataclass

SAM_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
SAM_CHECKPOINTS_HELP = "https://github.com/facebookresearch/segment-anything#model-checkpoints"
SAM2_DOWNLOAD_BASE = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"
#: what the catalogue says where the hash of an official file is not known here
HASH_NOT_PUBLISHED = "not published"


@dataclass(frozen=True)
class SamModel:
    """One SAM model samis can run.

    Attributes:
        key: what ``--model`` takes (``vit_h`` …, ``tiny``).
        label: the name its masks and methods carry (``sam-vit_h`` …, ``sam-tiny-random``).
        title: a human name (``SAM ViT-H``).
        random_weights: True for the test-size model: its output says nothing about SAM's accuracy.
        checkpoint: official checkpoint file name (None: the model takes no checkpoint).
        checkpoint_bytes: the official file's size.
        encoder_shape: (width, depth) of the image encoder, to tell a checkpoint's type.
    """

    key: str
    label: str
    title: str
    random_weights: bool = False
    checkpoint: str | None = None
    checkpoint_bytes: int | None = None
    encoder_shape: tuple[int, int] | None = None
    #: the model family: ``sam`` (segment_anything); SAM 2.1 models are :class:`Sam2Model`
    family = "sam"

    @property
    def md5_prefix(self) -> str | None:
        """The start of the official file's MD5, as written in its name (``4b8939``)."""
        return self.checkpoint.rsplit("_", 1)[1].split(".")[0] if self.checkpoint else None

    @property
    def url(self) -> str | None:
        return SAM_DOWNLOAD_BASE + self.checkpoint if self.checkpoint else None


TINY_MODEL = SamModel(key="tiny", label="sam-tiny-random", title="test-size SAM, random weights (not SAM)",
                      random_weights=True)
SAM_MODELS: dict[str, SamModel] = {
    "vit_h": SamModel("vit_h", "sam-vit_h", "SAM ViT-H", checkpoint="sam_vit_h_4b8939.pth",
                      checkpoint_bytes=2_564_550_879, encoder_shape=(1280, 32)),
    "vit_l": SamModel("vit_l", "sam-vit_l", "SAM ViT-L", checkpoint="sam_vit_l_0b3195.pth",
                      checkpoint_bytes=1_249_524_607, encoder_shape=(1024, 24)),
    "vit_b": SamModel("vit_b", "sam-vit_b", "SAM ViT-B", checkpoint="sam_vit_b_01ec64.pth",
                      checkpoint_bytes=375_042_383, encoder_shape=(768, 12)),
    "tiny": TINY_MODEL,
}
#: the real SAM types (each with an official checkpoint), largest first
SAM_TYPES = tuple(key for key, model in SAM_MODELS.items() if not model.random_weights)
#: official checkpoint file name → its model
OFFICIAL_CHECKPOINTS = {m.checkpoint: m for m in SAM_MODELS.values() if m.checkpoint}


@dataclass(frozen=True)
class Sam2Model:
    """One SAM 2.1 model, run through the official ``sam2`` package.

    Exact byte sizes and hashes of these files were not found in public sources here, so only the
    approximate size is known: a download is checked for completeness (Content-Length) and for
    loadable weights of the right model type instead.

    Attributes:
        key: what ``--model`` takes (``hiera_l`` …, ``tiny-sam2``).
        label: the name its masks and methods carry (``sam2.1-hiera_l``, ``sam2-tiny-random``).
        title: a human name (``SAM 2.1 Hiera-L``).
        checkpoint: official file name (``sam2.1_hiera_large.pt``; None: the model takes no checkpoint).
        approx_bytes: the file's size, roughly (the official README gives MB, not bytes).
        config: the model config inside the ``sam2`` package (hydra name).
        encoder_shape: (embedding width, number of Hiera blocks) of the image encoder's trunk.
        random_weights: True for the test-size model: its output says nothing about SAM 2.1's accuracy.
    """

    key: str
    label: str
    title: str
    checkpoint: str | None
    approx_bytes: int | None
    config: str
    encoder_shape: tuple[int, int] | None
    random_weights: bool = False

    @property
    def family(self) -> str:
        """``sam2.1`` (official weights) or ``sam2`` (the test-size model: SAM 2 code, no SAM 2.1 weights)."""
        return "sam2" if self.random_weights else "sam2.1"

    @property
    def url(self) -> str | None:
        return SAM2_DOWNLOAD_BASE + self.checkpoint if self.checkpoint else None


SAM2_MODELS: dict[str, Sam2Model] = {
    # width and blocks: embed_dim and sum(stages) of the sam2 package's configs/sam2.1/sam2.1_hiera_*.yaml
    # (checked against sam2 1.1.0: t 96/[1,2,7,2], s 96/[1,2,11,2], b+ 112/Hiera's default [2,3,16,3],
    # l 144/[2,6,36,4])
    "hiera_t": Sam2Model("hiera_t", "sam2.1-hiera_t", "SAM 2.1 Hiera-T", "sam2.1_hiera_tiny.pt", 149_000_000,
                         "configs/sam2.1/sam2.1_hiera_t.yaml", (96, 12)),
    "hiera_s": Sam2Model("hiera_s", "sam2.1-hiera_s", "SAM 2.1 Hiera-S", "sam2.1_hiera_small.pt", 176_000_000,
                         "configs/sam2.1/sam2.1_hiera_s.yaml", (96, 16)),
    "hiera_b+": Sam2Model("hiera_b+", "sam2.1-hiera_b+", "SAM 2.1 Hiera-B+", "sam2.1_hiera_base_plus.pt",
                          309_000_000, "configs/sam2.1/sam2.1_hiera_b+.yaml", (112, 24)),
    "hiera_l": Sam2Model("hiera_l", "sam2.1-hiera_l", "SAM 2.1 Hiera-L", "sam2.1_hiera_large.pt", 857_000_000,
                         "configs/sam2.1/sam2.1_hiera_l.yaml", (144, 48)),
}
#: the test-size SAM 2 (random weights): hiera_t's config with every size shrunk (see samis.sam.sam2_backend)
TINY_SAM2_MODEL = Sam2Model("tiny-sam2", "sam2-tiny-random", "test-size SAM 2, random weights (not SAM 2.1)",
                            None, None, "configs/sam2.1/sam2.1_hiera_t.yaml", None, random_weights=True)
#: SAM 2.1 official file name → its model
OFFICIAL_SAM2_CHECKPOINTS = {m.checkpoint: m for m in SAM2_MODELS.values()}

#: every model ``--model`` runs, by key: SAM (largest first, test-size), then SAM 2 (test-size, smallest first)
RUNNABLE_MODELS: dict[str, SamModel | Sam2Model] = {**SAM_MODELS, TINY_SAM2_MODEL.key: TINY_SAM2_MODEL, **SAM2_MODELS}
#: every ``--model`` choice
MODEL_CHOICES = ("tiny",) + SAM_TYPES + (TINY_SAM2_MODEL.key,) + tuple(SAM2_MODELS)


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
        md5_prefix: the start of the file's MD5, or None where no hash is published.
        config: the model config (SAM 2.1), or None.
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
        return f"md5 {self.md5_prefix}…" if self.md5_prefix else HASH_NOT_PUBLISHED


def checkpoint_catalogue() -> dict[str, CheckpointFacts]:
    """Every official checkpoint samis knows, by model name (SAM largest first, then SAM 2.1 smallest first)."""
    catalogue = {m.key: CheckpointFacts(m.key, "sam", m.title, m.checkpoint, SAM_DOWNLOAD_BASE, m.checkpoint_bytes,
                                        m.checkpoint_bytes, m.md5_prefix)
                 for m in SAM_MODELS.values() if m.checkpoint}
    catalogue.update({m.key: CheckpointFacts(m.key, "sam2.1", m.title, m.checkpoint, SAM2_DOWNLOAD_BASE, None,
                                             m.approx_bytes, None, m.config)
                      for m in SAM2_MODELS.values()})
    return catalogue


def sam_model(key: str) -> SamModel | Sam2Model | None:
    """The model of a ``--model`` key (``vit_h``, ``tiny``, ``hiera_l``, ``tiny-sam2``) or of a label
    (``sam-vit_h``, ``sam2.1-hiera_l``); None if unknown."""
    if key in RUNNABLE_MODELS:
        return RUNNABLE_MODELS[key]
    return next((m for m in RUNNABLE_MODELS.values() if m.label == key), None)


def is_sam2(key: str) -> bool:
    """Whether a ``--model`` key or label names a SAM 2 model (run through the ``sam2`` package)."""
    return isinstance(sam_model(key), Sam2Model)


def family_title(key: str) -> str:
    """``SAM 2.1`` or ``SAM``: the family a ``--model`` key or label belongs to, as messages name it."""
    return "SAM 2.1" if is_sam2(key) else "SAM"
