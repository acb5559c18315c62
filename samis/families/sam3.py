"""SAM 3 (Meta, November 2025; the official ``sam3`` package, pinned at 0.1.4): text, exemplar, box and point prompts.

SAM 3 segments every instance of a *concept* given a short text or an image exemplar; it has no automatic mask
generator. :mod:`samis.sam.sam3_backend` runs it, :mod:`samis.sam.sam3_assembly` builds its network from the
package's own modules (at the official sizes or the test size).

Checkpoint facts: the weights are gated on Hugging Face (``facebook/sam3``, file ``sam3.pt``; access is
granted per account after accepting the SAM License there). No size or hash is published with the file, so
samis records "not published" and the float32 size of the network's state dict as the package's own
constructors build it on the meta device (``tests/test_sam3.py`` recomputes it), and recognises the file by
its key → shape map.
"""

from __future__ import annotations

from samis.families.base import HASH_NOT_PUBLISHED, ModelFamily, ModelSpec, register
from samis.sam.params import AmgParams

#: the Hugging Face repository and file of the official weights (gated: a token with access is needed)
HF_REPO = "facebook/sam3"
HF_FILE = "sam3.pt"
DOWNLOAD_BASE = f"https://huggingface.co/{HF_REPO}/resolve/main/"
ACCESS_HELP = (f"request access at https://huggingface.co/{HF_REPO} (accept the SAM License), then log in with "
               "`hf auth login` or set HF_TOKEN")

#: what a SAM 3 model can be prompted with: a text (deployable, or own-class †), an exemplar box (†), and
#: box / point prompts through its interactive instance predictor (†); it has no automatic mask generator
PROMPT_MODES = ("text", "exemplar", "box", "point")

SAM3_FAMILY = ModelFamily(
    params_class=AmgParams,
    name="sam3", title="SAM 3", package="sam3", loader="samis.sam.sam3_backend:build_sam3_network",
    generator="sam3.model.sam3_image_processor.Sam3Processor (concept prompts)", download_base=DOWNLOAD_BASE,
    checkpoint_suffixes=(".pt",), backend="samis.sam.sam3_backend", prompt_modes=PROMPT_MODES,
    licence="SAM License (Meta; the weights are gated on Hugging Face)", source="https://github.com/facebookresearch/sam3",
    hash_status=HASH_NOT_PUBLISHED, key_marker="detector.", marker_text="detector.* weights of a SAM 3 image model",
    detector="samis.sam.sam3_assembly:detect_sam3_variant", order=50,
)

#: the real model. The count is the image model's parameters (detector + interactive tracker) from the package's
#: constructors on the meta device, the size their float32 bytes.
SAM3_MODELS: dict[str, ModelSpec] = {"sam3": ModelSpec("sam3", "sam3", "SAM 3", SAM3_FAMILY, checkpoint=HF_FILE,
                                                       approx_bytes=3_440_220_896, params_m=860.1)}
#: the test-size SAM 3 (random weights): the package's modules at tiny sizes (samis.sam.sam3_assembly)
TINY_SAM3_MODEL = ModelSpec("tiny-sam3", "sam3-tiny-random", "test-size SAM 3, random weights (not SAM 3)", SAM3_FAMILY,
                            random_weights=True, params_m=5.64)

register(SAM3_FAMILY, [TINY_SAM3_MODEL, *SAM3_MODELS.values()])
