"""lmvsmt's fairseq plugin: faster kernels, loaded with `fairseq-train --user-dir <this directory>`.

It registers, without changing fairseq:
  - `<arch>_sdpa` for the architectures in lmvsmt.pretrain.objectives.SDPA_ARCHS (transformer_lm,
    masked_lm, roberta, bart_base, ...): the same model, parameters and state dict, with
    attention computed by torch.nn.functional.scaled_dot_product_attention
    (lmvsmt.pretrain.fairseq_plugin.attention);
  - the optimizer `torch_adamw`: torch.optim.AdamW (one fused CUDA kernel, or foreach
    on the CPU) with the options of fairseq's `adam`, which is AdamW as well
    (lmvsmt.pretrain.fairseq_plugin.optimizer).

A trained checkpoint names these registrations; `plain_checkpoint` maps them back to
fairseq's own names, so the exported model loads with plain fairseq (no --user-dir).

fairseq imports a --user-dir under its directory name (`fairseq_plugin`), we import it
as `lmvsmt.pretrain.fairseq_plugin`: the registrations live in submodules imported by their full
name, so they happen once either way.
"""
from lmvsmt.pretrain.fairseq_plugin import architectures, optimizer  # noqa: F401  (registrations)
from lmvsmt.pretrain.fairseq_plugin.architectures import plain_checkpoint  # noqa: F401
