"""The SAM models samis knows, and the facts of their official checkpoints, in one place.

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
#: every ``--model`` choice
MODEL_CHOICES = ("tiny",) + SAM_TYPES
#: official checkpoint file name → its model
OFFICIAL_CHECKPOINTS = {m.checkpoint: m for m in SAM_MODELS.values() if m.checkpoint}


def sam_model(key: str) -> SamModel | None:
    """The model of a ``--model`` key (``vit_h``, ``tiny``) or of a label (``sam-vit_h``); None if unknown."""
    if key in SAM_MODELS:
        return SAM_MODELS[key]
    return next((m for m in SAM_MODELS.values() if m.label == key), None)
