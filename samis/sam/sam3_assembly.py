"""SAM 3's network assembled from the official ``sam3`` package's modules (0.1.4), and its checkpoint's key → shape map.

:func:`assemble_sam3` builds ``sam3.model.sam3_image.Sam3Image`` (ViT + dual ViTDet neck, the VE text encoder with
CLIP's tokenizer, the fusion encoder, the DAC decoder with a presence token, dot-product scoring, the segmentation
head, the geometry encoder, and the SAM-style interactive instance predictor on the tracker) with the sizes of
``sam3.model_builder`` (:data:`SAM3_SIZES`) or the test-size ones (:data:`TINY_SIZES`). ``model_builder`` itself
cannot run without CUDA in 0.1.4 (its position encoding and decoder precompute caches on ``"cuda"``); here the
caches are filled on first use instead, which gives the same values. :func:`variant_shapes` is the assembly on the
meta device: what :mod:`samis.sam.checkpoints` recognises a ``sam3.pt`` by. The tokenizer's BPE vocabulary is
missing from the 0.1.4 wheel; :func:`bpe_path` is open_clip's copy of CLIP's file.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass

import torch

from samis.errors import SamError
from samis.models import SAM3_MODELS

@dataclass(frozen=True)
class Sam3Sizes:
    """The sizes :func:`assemble_sam3` builds with (SAM 3's are ``sam3.model_builder``'s)."""

    image: int
    vit_dim: int
    vit_depth: int
    vit_heads: int
    vit_mlp: float
    window: int
    global_blocks: tuple[int, ...]
    pretrain_image: int
    d_model: int
    ffn: int
    heads: int
    encoder_layers: int
    decoder_layers: int
    queries: int
    text_width: int
    text_heads: int
    text_layers: int
    geometry_layers: int
    tracker_layers: int
    mem_dim: int
    dropout: float
    checkpointing: bool

    @property
    def grid(self) -> int:
        """Tokens per side of the image encoder (patch 14)."""
        return self.image // 14


#: ``sam3.model_builder.build_sam3_image_model``'s sizes (1024-wide, 32-deep ViT at 1008 pixels)
SAM3_SIZES = Sam3Sizes(1008, 1024, 32, 16, 4.625, 24, (7, 15, 23, 31), 336, 256, 2048, 8, 6, 6, 200, 1024, 16, 24, 3,
                       4, 64, 0.1, True)
#: the test-size SAM 3: the same modules, 112 pixels, 64 wide, 2 deep
TINY_SIZES = Sam3Sizes(112, 64, 2, 2, 2.0, 4, (1,), 112, 64, 128, 4, 2, 2, 16, 64, 2, 2, 1, 1, 32, 0.0, False)


def bpe_path() -> str:
    """CLIP's BPE vocabulary as open_clip ships it (the sam3 0.1.4 wheel lacks its own copy).

    Raises:
        SamError: open-clip-torch is not installed (one line).
    """
    try:
        # open_clip is needed only for this one file: imported when a SAM 3 model is built
        import open_clip
    except ImportError as error:
        raise SamError(f"SAM 3's tokenizer needs CLIP's BPE vocabulary from open-clip-torch "
                       f"(pip install open-clip-torch): {error}") from None
    path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    if not os.path.isfile(path):
        raise SamError(f"{path}: CLIP's BPE vocabulary is missing from open-clip-torch; reinstall it")
    return path


@functools.lru_cache(maxsize=1)
def package_modules():
    """The ``sam3`` modules samis assembles (imported once); without CUDA, pinning host memory is skipped.

    sam3 0.1.4 calls ``Tensor.pin_memory()`` on every box it encodes, which raises where no CUDA driver is. Pinning
    only speeds up copies to a GPU, so with no CUDA samis makes it return the tensor itself (it would raise otherwise).
    """
    try:
        # sam3 is optional: imported when a SAM 3 model is built, a one-line error when missing
        from sam3.model import decoder, encoder, geometry_encoders, maskformer_segmentation, memory, model_misc
        from sam3.model import (necks, position_encoding, sam1_task_predictor, sam3_image, sam3_image_processor,
                                sam3_tracking_predictor, text_encoder_ve, tokenizer_ve, vitdet, vl_combiner)
        from sam3.sam import transformer as sam_transformer  # (the same reason)
    except ImportError as error:
        raise SamError(f"SAM 3 needs the sam3 package (pip install sam3==0.1.4): {error}") from None
    if not torch.cuda.is_available() and not getattr(torch.Tensor.pin_memory, "_samis_no_cuda", False):
        def pin_memory(self, *args, **kwargs):
            return self
        pin_memory._samis_no_cuda = True
        torch.Tensor.pin_memory = pin_memory
    return dict(decoder=decoder, encoder=encoder, geometry=geometry_encoders, seg=maskformer_segmentation,
                memory=memory, misc=model_misc, necks=necks, pos=position_encoding, inst=sam1_task_predictor,
                image=sam3_image, processor=sam3_image_processor, tracking=sam3_tracking_predictor,
                text=text_encoder_ve, tokenizer=tokenizer_ve, vit=vitdet, vl=vl_combiner, rope=sam_transformer)


def _attention(s: Sam3Sizes, batch_first: bool = True, dropout: float | None = None):
    misc = package_modules()["misc"]
    return misc.MultiheadAttentionWrapper(num_heads=s.heads, dropout=s.dropout if dropout is None else dropout,
                                          embed_dim=s.d_model, batch_first=batch_first)


def _position(features: int):
    return package_modules()["pos"].PositionEmbeddingSine(num_pos_feats=features, normalize=True, scale=None,
                                                   temperature=10000, precompute_resolution=None)


def _vision(s: Sam3Sizes):
    """The ViT trunk and the dual ViTDet neck (the SAM 2-style second neck feeds the instance predictor)."""
    p = package_modules()
    vit = p["vit"].ViT(
        img_size=s.image, pretrain_img_size=s.pretrain_image, patch_size=14, embed_dim=s.vit_dim, depth=s.vit_depth,
        num_heads=s.vit_heads, mlp_ratio=s.vit_mlp, norm_layer="LayerNorm", drop_path_rate=s.dropout, qkv_bias=True,
        use_abs_pos=True, tile_abs_pos=True, global_att_blocks=s.global_blocks, rel_pos_blocks=(), use_rope=True,
        use_interp_rope=True, window_size=s.window, pretrain_use_cls_token=True, retain_cls_token=False, ln_pre=True,
        ln_post=False, return_interm_layers=False, bias_patch_embed=False)
    return p["necks"].Sam3DualViTDetNeck(position_encoding=_position(s.d_model), d_model=s.d_model,
                                         scale_factors=[4.0, 2.0, 1.0, 0.5], trunk=vit, add_sam2_neck=True)


def _text(s: Sam3Sizes):
    p = package_modules()
    tokenizer = p["tokenizer"].SimpleTokenizer(bpe_path=bpe_path())
    return p["text"].VETextEncoder(tokenizer=tokenizer, d_model=s.d_model, width=s.text_width, heads=s.text_heads,
                                   layers=s.text_layers)


def _encoder_layer(s: Sam3Sizes, batch_first: bool, at_attn: bool, at_keys: bool):
    return package_modules()["encoder"].TransformerEncoderLayer(
        activation="relu", d_model=s.d_model, dim_feedforward=s.ffn, dropout=s.dropout, pos_enc_at_attn=at_attn,
        pos_enc_at_cross_attn_keys=at_keys, pos_enc_at_cross_attn_queries=False, pre_norm=True,
        self_attention=_attention(s, batch_first), cross_attention=_attention(s, batch_first))


def _transformer(s: Sam3Sizes):
    """The fusion encoder and the DAC decoder with its presence token (``_create_sam3_transformer``)."""
    p = package_modules()
    encoder = p["encoder"].TransformerEncoderFusion(
        layer=_encoder_layer(s, True, True, False), num_layers=s.encoder_layers, d_model=s.d_model,
        num_feature_levels=1, frozen=False, use_act_checkpoint=s.checkpointing, add_pooled_text_to_img_feat=False,
        pool_text_with_mask=True)
    layer = p["decoder"].TransformerDecoderLayer(
        activation="relu", d_model=s.d_model, dim_feedforward=s.ffn, dropout=s.dropout,
        cross_attention=p["misc"].MultiheadAttentionWrapper(num_heads=s.heads, dropout=s.dropout, embed_dim=s.d_model),
        n_heads=s.heads, use_text_cross_attention=True)
    # resolution/stride None: the box-bias coordinates are computed on first use, not precomputed on "cuda"
    decoder = p["decoder"].TransformerDecoder(
        layer=layer, num_layers=s.decoder_layers, num_queries=s.queries, return_intermediate=True, box_refine=True,
        num_o2m_queries=0, dac=True, boxRPB="log", d_model=s.d_model, frozen=False, interaction_layer=None,
        dac_use_selfatt_ln=True, resolution=None, stride=None, use_act_checkpoint=s.checkpointing,
        presence_token=True)
    return p["misc"].TransformerWrapper(encoder=encoder, decoder=decoder, d_model=s.d_model)


def _heads(s: Sam3Sizes):
    """(dot-product scoring, segmentation head, geometry encoder) as ``model_builder`` makes them."""
    p = package_modules()
    misc = p["misc"]
    scoring = misc.DotProductScoring(d_model=s.d_model, d_proj=s.d_model, prompt_mlp=misc.MLP(
        input_dim=s.d_model, hidden_dim=s.ffn, output_dim=s.d_model, num_layers=2, dropout=s.dropout, residual=True,
        out_norm=torch.nn.LayerNorm(s.d_model)))
    segmentation = p["seg"].UniversalSegmentationHead(
        hidden_dim=s.d_model, upsampling_stages=3, aux_masks=False, presence_head=False, dot_product_scorer=None,
        act_ckpt=s.checkpointing, cross_attend_prompt=_attention(s, False, 0.0),
        pixel_decoder=p["seg"].PixelDecoder(num_upsampling_stages=3, interpolation_mode="nearest",
                                            hidden_dim=s.d_model))
    geometry = p["geometry"].SequenceGeometryEncoder(
        pos_enc=_position(s.d_model), encode_boxes_as_points=False, points_direct_project=True, points_pool=True,
        points_pos_enc=True, boxes_direct_project=True, boxes_pool=True, boxes_pos_enc=True, d_model=s.d_model,
        num_layers=s.geometry_layers, layer=_encoder_layer(s, False, False, True), use_act_ckpt=s.checkpointing,
        add_cls=True, add_post_encode_proj=True)
    return scoring, segmentation, geometry


def _tracker_transformer(s: Sam3Sizes):
    p = package_modules()
    rope = dict(embedding_dim=s.d_model, num_heads=1, downsample_rate=1, dropout=s.dropout, rope_theta=10000.0,
                feat_sizes=[s.grid, s.grid], use_fa3=False, use_rope_real=False)
    layer = p["decoder"].TransformerDecoderLayerv2(
        cross_attention_first=False, activation="relu", dim_feedforward=s.ffn, dropout=s.dropout,
        pos_enc_at_attn=False, pre_norm=True, self_attention=p["rope"].RoPEAttention(**rope), d_model=s.d_model,
        pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False,
        cross_attention=p["rope"].RoPEAttention(**rope, kv_in_dim=s.mem_dim, rope_k_repeat=True))
    encoder = p["decoder"].TransformerEncoderCrossAttention(
        remove_cross_attention_layers=[], batch_first=True, d_model=s.d_model, frozen=False, pos_enc_at_input=True,
        layer=layer, num_layers=s.tracker_layers, use_act_checkpoint=False)
    return p["misc"].TransformerWrapper(encoder=encoder, decoder=None, d_model=s.d_model)


def _instance_predictor(s: Sam3Sizes):
    """The interactive instance predictor (``enable_inst_interactivity=True``): the tracker's SAM heads."""
    p = package_modules()
    memory = p["memory"]
    block = memory.CXBlock(dim=s.d_model, kernel_size=7, padding=3, layer_scale_init_value=1.0e-06, use_dwconv=True)
    size = s.image * 8 // 7  # model_builder: 1152 for 1008
    maskmem = memory.SimpleMaskEncoder(
        out_dim=s.mem_dim, position_encoding=_position(s.mem_dim),
        mask_downsampler=memory.SimpleMaskDownSampler(kernel_size=3, stride=2, padding=1, interpol_size=[size, size]),
        fuser=memory.SimpleFuser(layer=block, num_layers=2))
    tracker = p["tracking"].Sam3TrackerPredictor(
        image_size=s.image, num_maskmem=7, backbone=None, backbone_stride=14, transformer=_tracker_transformer(s),
        maskmem_backbone=maskmem, multimask_output_in_sam=True, forward_backbone_per_frame_for_eval=True,
        trim_past_non_cond_mem_for_eval=False, multimask_output_for_tracking=True, multimask_min_pt_num=0,
        multimask_max_pt_num=1, always_start_from_first_ann_frame=False, non_overlap_masks_for_mem_enc=False,
        non_overlap_masks_for_output=False, max_cond_frames_in_attn=4, offload_output_to_cpu_for_eval=False,
        sam_mask_decoder_extra_args={"dynamic_multimask_via_stability": True,
                                     "dynamic_multimask_stability_delta": 0.05,
                                     "dynamic_multimask_stability_thresh": 0.98},
        clear_non_cond_mem_around_input=True, fill_hole_area=0, use_memory_selection=False)
    predictor = p["inst"].SAM3InteractiveImagePredictor(tracker)
    predictor._bb_feat_sizes = [(s.grid * 4, s.grid * 4), (s.grid * 2, s.grid * 2), (s.grid, s.grid)]
    return predictor


def assemble_sam3(s: Sam3Sizes):
    """SAM 3's image model with its interactive instance predictor, from the package's modules at sizes ``s``."""
    p = package_modules()
    backbone = p["vl"].SAM3VLBackbone(visual=_vision(s), text=_text(s), scalp=1)
    scoring, segmentation, geometry = _heads(s)
    return p["image"].Sam3Image(
        backbone=backbone, transformer=_transformer(s), input_geometry_encoder=geometry,
        segmentation_head=segmentation, num_feature_levels=1, o2m_mask_predict=True, dot_prod_scoring=scoring,
        use_instance_query=False, multimask_output=True, inst_interactive_predictor=_instance_predictor(s),
        matcher=None)


def file_keys(model_state: dict) -> dict:
    """The checkpoint's names of a ``Sam3Image`` state: ``detector.<name>``, the instance predictor's
    ``tracker.<name>`` (the layout of ``sam3.pt``, which ``model_builder._load_checkpoint`` maps back)."""
    prefix = "inst_interactive_predictor.model."
    return {("tracker." + k[len(prefix):] if k.startswith(prefix) else "detector." + k): v
            for k, v in model_state.items()}


def model_keys(file_state: dict) -> dict:
    """The inverse of :func:`file_keys`."""
    return {("inst_interactive_predictor.model." + k[len("tracker."):] if k.startswith("tracker.")
             else k[len("detector."):]): v for k, v in file_state.items()}


@contextlib.contextmanager
def on_meta():
    """Build on the meta device (shapes, no memory). sam3's ViT reads its drop-path rates with
    ``torch.linspace(...).item()``, which a meta tensor cannot answer, so ``linspace`` makes CPU tensors meanwhile."""
    linspace = torch.linspace

    def cpu_linspace(*args, **kwargs):
        return linspace(*args, **{**kwargs, "device": "cpu"})

    torch.linspace = cpu_linspace
    try:
        with torch.device("meta"):
            yield
    finally:
        torch.linspace = linspace


@functools.lru_cache(maxsize=None)
def variant_shapes(key: str) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """(parameters, buffers): the key → shape maps of a real SAM 3 file (``sam3.pt``'s names), from the assembly on
    the meta device. Buffers (rotary tables, causal masks) are computed by the constructors, so a file may or may not
    hold them; the parameters it must hold, every one, with these shapes."""
    if key not in SAM3_MODELS:
        raise SamError(f"unknown SAM 3 variant {key!r}; choose {', '.join(SAM3_MODELS)}")
    with on_meta():
        model = assemble_sam3(SAM3_SIZES)
    buffers = set(file_keys(dict(model.named_buffers())))
    shapes = file_keys({name: tuple(t.shape) for name, t in model.state_dict().items()})
    return ({n: s for n, s in shapes.items() if n not in buffers}, {n: s for n, s in shapes.items() if n in buffers})


def fits_variant(state: dict, key: str) -> bool:
    """A state dict (in the file's layout) holds every parameter of SAM 3 ``key`` with its shape, and nothing
    else than its buffers."""
    parameters, buffers = variant_shapes(key)
    shapes = {name: tuple(value.shape) for name, value in state.items()}
    if any(shapes.get(name) != shape for name, shape in parameters.items()):
        return False
    return all(name in parameters or buffers.get(name) == shape for name, shape in shapes.items())


def detect_sam3_variant(state: dict) -> str | None:
    """The SAM 3 variant a state dict (in the file's layout) fits (None if none)."""
    return next((key for key in SAM3_MODELS if fits_variant(state, key)), None)


