"""The test-size SAM: a tiny :class:`segment_anything.modeling.Sam` with random weights.

It is assembled from the same ``segment_anything.modeling`` classes as SAM ViT-B/L/H (image
encoder ViT with windowed + global attention, prompt encoder, two-way transformer mask decoder),
only much smaller, so tests and the demo exercise exactly the code paths a real checkpoint uses.
Its weights are random (fixed seed): its masks say nothing about SAM's accuracy, which is why it
is always labelled :data:`TINY_LABEL` and never presented as SAM.
"""

from __future__ import annotations

from functools import partial

import torch
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from samis.models import TINY_MODEL

TINY_LABEL = TINY_MODEL.label
TINY_SEED = 20240501
TINY_IMAGE_SIZE = 256  # input long side (SAM: 1024); 16x16 embedding, 64x64 low-res masks
TINY_PROMPT_DIM = 64   # SAM: 256


def build_tiny_sam(seed: int = TINY_SEED) -> Sam:
    """Build the test-size SAM with random weights drawn from ``seed`` (deterministic on CPU).

    Returns:
        an eval-mode :class:`Sam` on the CPU, about 0.4 M parameters.
    """
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        patch = 16
        embedding = TINY_IMAGE_SIZE // patch
        sam = Sam(
            image_encoder=ImageEncoderViT(
                img_size=TINY_IMAGE_SIZE,
                patch_size=patch,
                embed_dim=64,
                depth=2,
                num_heads=2,
                mlp_ratio=2,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                qkv_bias=True,
                use_rel_pos=True,
                global_attn_indexes=(1,),
                window_size=4,
                out_chans=TINY_PROMPT_DIM,
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=TINY_PROMPT_DIM,
                image_embedding_size=(embedding, embedding),
                input_image_size=(TINY_IMAGE_SIZE, TINY_IMAGE_SIZE),
                mask_in_chans=8,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=3,
                transformer=TwoWayTransformer(depth=2, embedding_dim=TINY_PROMPT_DIM, mlp_dim=128, num_heads=4),
                transformer_dim=TINY_PROMPT_DIM,
                iou_head_depth=3,
                iou_head_hidden_dim=64,
            ),
        )
        # Random init leaves relative position tables at zero and the iou head near 0.5; give
        # them spread so masks and predicted IoUs vary like a real model's (still random).
        with torch.no_grad():
            for name, parameter in sam.named_parameters():
                if "rel_pos" in name:
                    parameter.normal_(0.0, 0.5)
    finally:
        torch.random.set_rng_state(generator_state)
    return sam.eval()
