"""The pretrained models as evaluation sees them: `load_model(objective, model_dir)`
returns a torch module with `.dictionary`, `.hidden_size` and `.encode(tokens, lang)`.
(Separate from lmvsmt.pretrain so that planning a training run needs no torch.)"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from lmvsmt import fairseq_compat
from lmvsmt.objectives import DOUBLE_STACK


def load_model(objective: str, model_dir) -> "PretrainedModel":
    """The pretrained model of `objective` in `model_dir` (checkpoint_best.pt + dict.txt),
    in eval mode."""
    fairseq_compat.check_numpy()
    from fairseq import checkpoint_utils

    model_dir = Path(model_dir)
    # The dictionary comes from model_dir (the training data directory may be gone);
    # 2-MT reads one dictionary per language unless given a fixed one.
    overrides = {"data": str(model_dir)}
    if objective == "2-MT":
        overrides["fixed_dictionary"] = str(model_dir / "dict.txt")
    quiet = logging.getLogger("fairseq.models.masked_lm")  # it logs its whole config at INFO
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with fairseq_compat.full_checkpoint_loading():
            models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
                [str(model_dir / "checkpoint_best.pt")], arg_overrides=overrides)
    finally:
        quiet.setLevel(level)
    return PretrainedModel(objective, models[0], task.source_dictionary).eval()


class PretrainedModel(nn.Module):
    """A pretrained encoder for evaluation.

    `encode(tokens, lang)` takes sub-word ids [B, T] (no special tokens, right-padded
    with `dictionary.pad()`), frames them as in pretraining, and returns the hidden
    states of exactly those positions [B, T, H]:
      2-LM     <s> x </s>        -> encoder output
      2-MT     __lang__ x </s>   -> encoder output (source language token, as trained)
      MLM      <s> x </s>        -> last encoder layer
      CLM/TLM  </s> x            -> last decoder layer before the vocabulary projection
                                    (in training every line follows a </s>)
    """

    def __init__(self, objective: str, model, dictionary):
        super().__init__()
        self.objective, self.model, self.dictionary = objective, model, dictionary
        self.causal = objective in ("CLM", "TLM")
        stack = model.decoder if self.causal else model.encoder
        embed = getattr(stack, "embed_tokens", None) or stack.sentence_encoder.embed_tokens
        self.hidden_size = embed.embedding_dim

    def _prefix(self, lang: str) -> int:
        if self.objective == "2-MT":
            index = self.dictionary.index(f"__{lang}__")
            if index == self.dictionary.unk():
                raise ValueError(f"2-MT model has no language token __{lang}__")
            return index
        return self.dictionary.eos() if self.causal else self.dictionary.bos()

    def encode(self, tokens: torch.Tensor, lang: str) -> torch.Tensor:
        pad, eos = self.dictionary.pad(), self.dictionary.eos()
        batch, length = tokens.shape
        lengths = tokens.ne(pad).sum(dim=1)
        framed = tokens.new_full((batch, length + 2), pad)
        framed[:, 0] = self._prefix(lang)
        framed[:, 1:length + 1] = tokens
        if not self.causal:
            framed[torch.arange(batch, device=tokens.device), lengths + 1] = eos
        states = self._forward(framed, lengths + 2)
        return states[:, 1:length + 1]

    def _forward(self, framed: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.objective in DOUBLE_STACK:
            out = self.model.encoder(framed, src_lengths=lengths)
            return out["encoder_out"][0].transpose(0, 1)
        if self.causal:
            return self.model.decoder(framed, features_only=True)[0]
        if hasattr(self.model.encoder, "sentence_encoder") and hasattr(self.model.encoder, "lm_head_transform_weight"):
            inner, _ = self.model.encoder.sentence_encoder(framed)  # fairseq's masked_lm arch
            return inner[-1].transpose(0, 1)
        return self.model(framed, features_only=True)[0]  # roberta

    def forward(self, tokens: torch.Tensor, lang: str) -> torch.Tensor:
        return self.encode(tokens, lang)
