"""fairseq's MultiheadAttention computed by torch.nn.functional.scaled_dot_product_attention.

fairseq 0.12 runs self-attention through torch's multi_head_attention_forward with its
causal mask and padding mask merged into one additive float mask of batch x heads x
length x length, and encoder-decoder attention as plain matrix products. Both keep the
fast kernels out: the flash kernel takes no mask at all, the memory-efficient one reads
the merged mask from memory. SDPAMultiheadAttention computes the same thing with
  - is_causal for a decoder's self-attention (no mask tensor; the flash kernel runs),
  - a boolean key-padding mask of batch x 1 x 1 x keys, broadcast, elsewhere,
  - attention dropout inside the kernel.
Parameters, their names and the state dict are fairseq's, so a model converted with
`convert` loads and saves exactly as before. Anything this path does not cover
(incremental decoding, attention weights asked for, bias_kv, zero attention, ONNX/XLA)
goes to fairseq's own forward.

Causal self-attention with a key-padding mask: with padding on the right, a real
token's keys (itself and the tokens before it) are never padding, so is_causal alone
gives the real tokens exactly fairseq's result (padded positions differ, and no loss
reads them). fairseq's language-model, denoising and translation collaters pad targets
on the right; a batch padded on the left is recognised by its first column and gets
the explicit mask.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fairseq.modules import MultiheadAttention
from fairseq.modules.transformer_layer import TransformerDecoderLayerBase


class SDPAMultiheadAttention(MultiheadAttention):
    """fairseq's MultiheadAttention, computed by scaled_dot_product_attention."""

    causal: bool = False  # a decoder's self-attention: its attn_mask is fairseq's future mask

    @classmethod
    def from_fairseq(cls, module: MultiheadAttention, causal: bool = False) -> "SDPAMultiheadAttention":
        """The same module (same parameter tensors, buffers and settings) as this class,
        like torch.nn.SyncBatchNorm.convert_sync_batchnorm does for batch norms."""
        new = cls.__new__(cls)
        new.__dict__.update(module.__dict__)
        new.causal = causal
        return new

    def _fairseq_path(self, query: Tensor, incremental_state, need_weights: bool, before_softmax: bool,
                      need_head_weights: bool, attn_mask: Optional[Tensor]) -> bool:
        return (need_weights or need_head_weights or before_softmax or incremental_state is not None
                or self.bias_k is not None or self.add_zero_attn or self.onnx_trace or self.skip_embed_dim_check
                or self.use_xformers or query.device.type == "xla" or torch.jit.is_scripting()
                or (attn_mask is not None and not self.causal))

    def forward(
        self,
        query: Tensor,
        key: Optional[Tensor],
        value: Optional[Tensor],
        key_padding_mask: Optional[Tensor] = None,
        incremental_state: Optional[Dict[str, Dict[str, Optional[Tensor]]]] = None,
        need_weights: bool = True,
        static_kv: bool = False,
        attn_mask: Optional[Tensor] = None,
        before_softmax: bool = False,
        need_head_weights: bool = False,
    ) -> Tuple[Tensor, Optional[Tensor]]:
        if self._fairseq_path(query, incremental_state, need_weights, before_softmax, need_head_weights, attn_mask):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask,
                                   incremental_state=incremental_state, need_weights=need_weights,
                                   static_kv=static_kv, attn_mask=attn_mask, before_softmax=before_softmax,
                                   need_head_weights=need_head_weights)
        tgt_len, bsz, embed_dim = query.size()
        if self.self_attention:
            key = value = query
        heads, head_dim = self.num_heads, self.head_dim
        # Time x Batch x Channel -> Batch x Heads x Time x head_dim
        q = self.q_proj(query).view(tgt_len, bsz, heads, head_dim).permute(1, 2, 0, 3)
        k = self.k_proj(key).view(-1, bsz, heads, head_dim).permute(1, 2, 0, 3)
        v = self.v_proj(value).view(-1, bsz, heads, head_dim).permute(1, 2, 0, 3)

        mask, is_causal = None, False
        if self.causal and attn_mask is not None:
            if key_padding_mask is not None and bool(key_padding_mask[:, 0].any()):
                # padded on the left: the causal mask and the padding mask, explicitly
                future = torch.ones(tgt_len, k.size(2), dtype=torch.bool, device=q.device).triu(1)
                mask = ~(future[None, None] | key_padding_mask.bool()[:, None, None, :])
            else:
                is_causal = True
        elif key_padding_mask is not None:
            mask = ~key_padding_mask.bool()[:, None, None, :]  # True = attend
        dropout = self.dropout_module.p if (self.training or self.dropout_module.apply_during_inference) else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=is_causal)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
        return self.out_proj(out), None


def convert(model: nn.Module) -> nn.Module:
    """Replace every fairseq MultiheadAttention in `model` by SDPAMultiheadAttention (in
    place; returns `model`). A decoder layer's self-attention becomes causal."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is MultiheadAttention:
                causal = (isinstance(parent, TransformerDecoderLayerBase) and name == "self_attn"
                          and child.self_attention)
                setattr(parent, name, SDPAMultiheadAttention.from_fairseq(child, causal=causal))
    return model
