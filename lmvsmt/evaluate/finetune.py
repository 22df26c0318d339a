"""Fine-tuning: all weights of the pretrained model and the head are trained, one
run per seed, each starting from the same pretrained weights."""
from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F
from torch import nn

from lmvsmt.evaluate.head import Head, fit, fit_options
from lmvsmt.evaluate.probe import batch_indices, represent, summarize
from lmvsmt.vocabulary import SPLITS


class _Tuned(nn.Module):
    """The pretrained model and the head as one module (one state to select/restore)."""

    def __init__(self, model, head):
        super().__init__()
        self.model, self.head = model, head


def finetune(model, labels, encoded, lang, task, seed: int, head_cfg: dict, optim: dict, device="cpu",
             progress=None, transfer_tests: dict | None = None) -> dict:
    """Fine-tune `model` (modified in place) with a fresh head; returns test metrics.
    `progress`: lmvsmt.evaluate.head.fit's per-epoch callback.

    `transfer_tests` maps names to further test sets (language, encoded split, labels as
    `labels`' ids) that the fine-tuned model scores; their metrics come back under
    "transfer"."""
    n_texts = max(len(encoded["train"].ids[0]), 1)
    torch.manual_seed(seed)
    head = Head.from_config(model.hidden_size * n_texts, len(labels), head_cfg).to(device)
    tuned = _Tuned(model, head)
    pad = model.dictionary.pad()
    use_amp = bool(optim.get("amp")) and torch.device(device).type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None

    def batches_of(enc, rng):
        for idx in batch_indices(len(enc.ids), optim["batch_size"], rng):
            yield ([enc.ids[i] for i in idx], [enc.firsts[i] for i in idx],
                   torch.tensor([label for i in idx for label in enc.labels[i]], dtype=torch.long, device=device))

    def step_in(text_lang):
        def step(batch):
            ids, firsts, gold = batch
            autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
            with autocast:
                logits = head(represent(model, ids, firsts, text_lang, task, head_cfg["pooling"], pad, device))
            return F.cross_entropy(logits.float(), gold, reduction="sum"), len(gold), logits, gold
        return step

    extra = {name: (lambda enc=enc: batches_of(enc, None), step_in(test_lang), enc.truncated_words)
             for name, (test_lang, enc) in (transfer_tests or {}).items()}
    result = fit(tuned, tuned.parameters(), lambda split, rng: batches_of(encoded[split], rng), step_in(lang),
                 seed=seed, scaler=scaler, unscored={s: encoded[s].truncated_words for s in SPLITS},
                 progress=progress, extra_tests=extra, **fit_options(optim))
    metrics = summarize(result, len(labels))
    if transfer_tests:
        metrics["transfer"] = {name: summarize(result.on(name), len(labels)) for name in transfer_tests}
    return metrics


def finetune_seeds(model, labels, encoded, lang, task, seeds, head_cfg, optim, device="cpu", progress=None,
                   transfer_tests=None):
    """Yield (seed, metrics); every seed starts from the pretrained weights, and the
    model is left with them afterwards (the next language starts from them too).
    `progress(seed)`, if given, makes the per-epoch callback of a seed."""
    pretrained = copy.deepcopy(model.state_dict())
    try:
        for seed in seeds:
            model.load_state_dict(pretrained)
            yield seed, finetune(model, labels, encoded, lang, task, seed, head_cfg, optim, device,
                                 progress(seed) if progress else None, transfer_tests)
    finally:
        model.load_state_dict(pretrained)
