"""`torch_adamw`: fairseq's `adam` options, stepped by torch.optim.AdamW.

fairseq's `adam` is AdamW (decoupled weight decay) written as a Python loop over
parameters, a dozen small kernels each (apex's fused Adam, which fairseq would prefer,
is rarely installed). torch.optim.AdamW updates all parameters in one fused CUDA
kernel (foreach kernels on the CPU). Same update rule, with one difference: torch
adds eps to the bias-corrected second moment's root, fairseq to the uncorrected one,
so fairseq's effective eps is eps / sqrt(1 - beta2^step), larger in the first few
thousand updates (with eps 1e-6 it matters only where gradients are ~1e-6 or smaller).

Not for --memory-efficient-fp16, which needs an optimizer that keeps fp32 state for
fp16 weights; fairseq refuses that combination with a clear message.
"""
from __future__ import annotations

import torch
from fairseq.optim import register_optimizer
from fairseq.optim.adam import FairseqAdam, FairseqAdamConfig

from lmvsmt.pretrain import objectives


@register_optimizer(objectives.TORCH_ADAMW, dataclass=FairseqAdamConfig)
class TorchAdamW(FairseqAdam):
    """torch.optim.AdamW with fairseq's `adam` options (--adam-betas, --adam-eps, --weight-decay)."""

    def __init__(self, cfg: FairseqAdamConfig, params):
        super(FairseqAdam, self).__init__(cfg)  # FairseqOptimizer: FairseqAdam's would pick its own Adam
        params = list(params)
        tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
        on_gpu = bool(tensors) and all(p.is_cuda for p in tensors)
        self._optimizer = torch.optim.AdamW(params, **self.optimizer_config, fused=on_gpu or None,
                                            foreach=None if on_gpu else True)

    @property
    def supports_memory_efficient_fp16(self):
        return False

    @property
    def supports_flat_params(self):
        return True  # fp16's FP16Optimizer hands it one flat fp32 tensor
