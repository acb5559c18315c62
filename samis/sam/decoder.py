"""SAM's mask decoder for many point prompts on one image, with the shared work done once.

``MaskDecoder`` (segment_anything) repeats the image embedding once per prompt and runs every
projection of the two-way transformer on each copy: for the automatic generator's 1024 points
that is ~1.7 GMAC per prompt on SAM, almost all of it on image tokens that are the same for every
prompt. This module computes the same function from the same weights, but

* projects the image tokens of the first layer (keys, values, image-side queries) once per image;
* moves the per-prompt projections of later layers onto the few prompt tokens, using
  ``(X W^T) k = X (W^T k)`` and ``softmax(s) (X W^T) = (softmax(s) X) W^T`` (rows of a softmax sum
  to 1, so biases pass through), which turns N x C x C products into N x C x (heads x tokens) ones;
* returns the predicted IoUs before upscaling, so prompts whose masks all fall below
  ``pred_iou_thresh`` skip the upscaling network entirely (it is half of what remains);
* runs the upscaling as two channels-last matrix products (``ConvTranspose2d`` with kernel = stride
  = 2 has no overlap, so it is a per-pixel linear map).

Results equal the stock decoder up to float rounding (checked in tests/test_sam_engine.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., T, D) -> (..., heads, T, D / heads)."""
    *lead, tokens, dim = x.shape
    return x.reshape(*lead, tokens, heads, dim // heads).transpose(-3, -2)


class PointPromptDecoder:
    """Decode batches of single-point prompts against one image embedding.

    Args:
        model: the SAM model (any size) whose mask decoder is used.
        features: the image embedding, (1, C, h, w), from ``model.image_encoder``.
    """

    def __init__(self, model: Sam, features: torch.Tensor):
        self.model = model
        decoder = model.mask_decoder
        transformer = decoder.transformer
        self.decoder = decoder
        self.transformer = transformer
        _, channels, height, width = features.shape
        self.embedding_hw = (height, width)
        dense = model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        # same element-wise sum the stock decoder makes on each repeated copy
        self.src = (features + dense)[0].flatten(1).transpose(0, 1)  # (N, C)
        self.pos = model.prompt_encoder.get_dense_pe()[0].flatten(1).transpose(0, 1)  # (N, C)
        first = transformer.layers[0]
        heads = first.cross_attn_token_to_image.num_heads
        src_pos = self.src + self.pos
        self.first_keys = _split_heads(first.cross_attn_token_to_image.k_proj(src_pos), heads)  # (H, N, d)
        self.first_values = _split_heads(first.cross_attn_token_to_image.v_proj(self.src), heads)
        self.first_image_queries = _split_heads(first.cross_attn_image_to_token.q_proj(src_pos), first.cross_attn_image_to_token.num_heads)
        self.output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)

    # ---- attention pieces --------------------------------------------------------------------
    @staticmethod
    def _tokens_to_shared_image(attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Tokens attend to the (shared, pre-projected) image tokens of the first layer."""
        q = _split_heads(attention.q_proj(queries), attention.num_heads)  # (B, H, T, d)
        scores = torch.matmul(q, keys.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        out = torch.matmul(torch.softmax(scores, dim=-1), values)  # (B, H, T, d)
        batch, heads, tokens, head_dim = out.shape
        return attention.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * head_dim))

    @staticmethod
    def _tokens_to_image(attention, queries: torch.Tensor, keys_pos: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Tokens attend to per-prompt image tokens, the projections moved onto the tokens."""
        heads = attention.num_heads
        channels = keys.shape[-1]
        q = _split_heads(attention.q_proj(queries), heads)  # (B, H, T, d)
        batch, _, tokens, head_dim = q.shape
        k_weight = attention.k_proj.weight.view(heads, head_dim, channels)
        k_bias = attention.k_proj.bias.view(heads, head_dim)
        folded = torch.einsum("bhtd,hdc->bhtc", q, k_weight).reshape(batch, heads * tokens, channels)
        bias = (q * k_bias[None, :, None, :]).sum(-1)  # (B, H, T)
        scores = torch.matmul(folded, keys_pos.transpose(1, 2)).view(batch, heads, tokens, -1) + bias[..., None]
        weights = torch.softmax(scores / math.sqrt(head_dim), dim=-1)
        mixed = torch.matmul(weights.view(batch, heads * tokens, -1), keys).view(batch, heads, tokens, channels)
        v_weight = attention.v_proj.weight.view(heads, head_dim, channels)
        out = torch.einsum("bhtc,hdc->bhtd", mixed, v_weight) + attention.v_proj.bias.view(heads, head_dim)[None, :, None, :]
        return attention.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * head_dim))

    @staticmethod
    def _image_to_tokens(attention, token_keys: torch.Tensor, token_values: torch.Tensor,
                         image_queries: torch.Tensor | None = None, keys_pos: torch.Tensor | None = None) -> torch.Tensor:
        """Image tokens attend to the prompt tokens; returns the (B, N, C) update of the image tokens.

        ``image_queries`` are the projected shared queries of the first layer (H, N, d); later
        layers pass ``keys_pos`` (B, N, C) and the query projection is folded into the tokens.
        """
        heads = attention.num_heads
        k = _split_heads(attention.k_proj(token_keys), heads)  # (B, H, T, d)
        v = _split_heads(attention.v_proj(token_values), heads)
        batch, _, tokens, head_dim = k.shape
        if image_queries is not None:
            # (H, N, d) @ (H, d, B*T) as one batched product, without expanding the queries over B
            flat = torch.matmul(image_queries, k.permute(1, 3, 0, 2).reshape(heads, head_dim, batch * tokens))
            scores = flat.view(heads, -1, batch, tokens).permute(2, 1, 0, 3)
        else:
            channels = keys_pos.shape[-1]
            q_weight = attention.q_proj.weight.view(heads, head_dim, channels)
            q_bias = attention.q_proj.bias.view(heads, head_dim)
            folded = torch.einsum("bhtd,hdc->bhtc", k, q_weight).reshape(batch, heads * tokens, channels)
            bias = (k * q_bias[None, :, None, :]).sum(-1).reshape(batch, 1, heads * tokens)
            scores = (torch.matmul(keys_pos, folded.transpose(1, 2)) + bias).view(batch, -1, heads, tokens)
        weights = torch.softmax(scores / math.sqrt(head_dim), dim=-1)  # (B, N, H, T)
        out_weight = attention.out_proj.weight  # (C, H * d)
        channels = out_weight.shape[0]
        projected_values = torch.einsum("bhtd,chd->bhtc", v, out_weight.view(channels, heads, head_dim))
        update = torch.matmul(weights.reshape(batch, -1, heads * tokens), projected_values.reshape(batch, heads * tokens, channels))
        return update + attention.out_proj.bias

    # ---- the decoder ---------------------------------------------------------------------------
    def transform(self, sparse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the two-way transformer; returns (tokens (B, T, C), image tokens (B, N, C))."""
        batch = sparse.shape[0]
        tokens = torch.cat([self.output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse], dim=1)
        queries, keys = tokens, None
        for index, layer in enumerate(self.transformer.layers):
            if layer.skip_first_layer_pe:
                queries = layer.self_attn(q=queries, k=queries, v=queries)
            else:
                q = queries + tokens
                queries = queries + layer.self_attn(q=q, k=q, v=queries)
            queries = layer.norm1(queries)
            if keys is None:
                attn_out = self._tokens_to_shared_image(layer.cross_attn_token_to_image, queries + tokens,
                                                        self.first_keys, self.first_values)
            else:
                keys_pos = keys + self.pos
                attn_out = self._tokens_to_image(layer.cross_attn_token_to_image, queries + tokens, keys_pos, keys)
            queries = layer.norm2(queries + attn_out)
            queries = layer.norm3(queries + layer.mlp(queries))
            if keys is None:
                update = self._image_to_tokens(layer.cross_attn_image_to_token, queries + tokens, queries,
                                               image_queries=self.first_image_queries)
                keys = layer.norm4(self.src + update)
            else:
                update = self._image_to_tokens(layer.cross_attn_image_to_token, queries + tokens, queries,
                                               keys_pos=keys_pos)
                keys = layer.norm4(keys + update)
        attn_out = self._tokens_to_image(self.transformer.final_attn_token_to_image, queries + tokens, keys + self.pos, keys)
        queries = self.transformer.norm_final_attn(queries + attn_out)
        return queries, keys

    def predicted_iou(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, num_mask_tokens) predicted IoU from the transformer's IoU token."""
        return self.decoder.iou_prediction_head(hidden[:, 0, :])

    def low_res_logits(self, hidden: torch.Tensor, keys: torch.Tensor, mask_indices: list[int]) -> torch.Tensor:
        """Low-resolution mask logits (B, len(mask_indices), 4h, 4w) for the given mask tokens."""
        decoder = self.decoder
        conv1, norm, act1, conv2, act2 = decoder.output_upscaling
        batch, tokens_n, channels = keys.shape
        height, width = self.embedding_hw
        mid, out = conv1.out_channels, conv2.out_channels
        # ConvTranspose2d(kernel 2, stride 2): weight (in, out, 2, 2) -> per-pixel (in, 2*2*out)
        # biases ride inside the matrix products (addmm) instead of a separate pass over the output
        weight1 = conv1.weight.permute(0, 2, 3, 1).reshape(channels, 4 * mid).t()
        up = F.linear(keys, weight1, conv1.bias.repeat(4)).view(batch, tokens_n, 4, mid)
        up = act1(F.layer_norm(up, (mid,), norm.weight, norm.bias, norm.eps))
        weight2 = conv2.weight.permute(0, 2, 3, 1).reshape(mid, 4 * out).t()
        up = act2(F.linear(up, weight2, conv2.bias.repeat(4)).view(batch, tokens_n, 4, 4, out))
        hyper = torch.stack([decoder.output_hypernetworks_mlps[i](hidden[:, 1 + i, :]) for i in mask_indices], dim=1)
        logits = torch.matmul(up.view(batch, tokens_n * 16, out), hyper.transpose(1, 2))  # (B, N*16, M)
        # pixel (i, j) of the embedding, sub-pixel (a1, b1) of conv1 and (a2, b2) of conv2 land at
        # row 4i + 2a1 + a2, column 4j + 2b1 + b2
        logits = logits.view(batch, height, width, 2, 2, 2, 2, len(mask_indices))
        logits = logits.permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(batch, len(mask_indices), 4 * height, 4 * width)
        return logits
