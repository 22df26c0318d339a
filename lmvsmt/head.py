"""The classification head of the evaluation protocol and the one training loop that
probing and fine-tuning share (AdamW, constant learning rate, a fixed number of
epochs, model selection on validation loss)."""
from __future__ import annotations

import copy
import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import torch
from torch import nn


class Head(nn.Module):
    """dropout -> linear(in -> hidden) -> GELU -> linear(hidden -> classes)."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def pool(states: torch.Tensor, mask: torch.Tensor, how: str = "sum") -> torch.Tensor:
    """Pool token states [B, T, H] over the non-padding positions `mask` [B, T]."""
    summed = (states * mask.unsqueeze(-1).to(states.dtype)).sum(1)
    if how == "mean":
        summed = summed / mask.sum(1, keepdim=True).clamp(min=1).to(states.dtype)
    return summed


def pad_batch(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to a LongTensor [B, T] and its non-padding mask."""
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return tokens, tokens.ne(pad)


def scores(preds: list[int], golds: list[int]) -> dict:
    """Accuracy, macro-F1 and micro-F1 as fractions. Macro-F1 averages over the labels
    that occur in gold or predictions, a label's F1 being 0 when undefined (as
    scikit-learn's zero_division=0); for one label per item micro-F1 equals accuracy.
    (Computed here: importing scikit-learn costs every evaluation job 1.5 s.)"""
    correct = sum(p == g for p, g in zip(preds, golds))
    f1s = []
    for label in set(golds) | set(preds):
        tp = sum(p == g == label for p, g in zip(preds, golds))
        predicted, gold = preds.count(label), golds.count(label)
        f1s.append(2 * tp / (predicted + gold) if tp else 0.0)
    accuracy = correct / max(len(golds), 1)
    return {"accuracy": accuracy, "macro_f1": sum(f1s) / max(len(f1s), 1), "micro_f1": accuracy}


@dataclass
class FitResult:
    best_epoch: int
    epochs_run: int
    valid_losses: list[float]
    test_loss: float
    preds: list[int]
    golds: list[int]
    wall_time_s: float
    # Further test sets scored with the same selected weights: name -> (loss, preds, golds).
    extra_tests: dict = field(default_factory=dict)

    def on(self, name: str) -> "FitResult":
        """This result as if further test set `name` were its test set."""
        loss, preds, golds = self.extra_tests[name]
        return dataclasses.replace(self, test_loss=loss, preds=preds, golds=golds, extra_tests={})


# A step maps a batch to (summed loss, number of scored items, logits, gold labels).
Step = Callable[[object], tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]]
# A further test set: a function yielding its batches, and the step that scores them.
ExtraTest = tuple[Callable[[], Iterable], Step]


def evaluate(module: nn.Module, batches: Iterable, step: Step) -> tuple[float, list[int], list[int]]:
    module.eval()
    total, count, preds, golds = 0.0, 0, [], []
    with torch.no_grad():
        for batch in batches:
            loss, n, logits, gold = step(batch)
            total += float(loss)
            count += n
            preds.extend(logits.argmax(-1).tolist())
            golds.extend(gold.tolist())
    return total / max(count, 1), preds, golds


def fit(module: nn.Module, params, batches: Callable[[str, random.Random | None], Iterable], step: Step, *,
        epochs: int, lr: float, weight_decay: float, seed: int, scaler=None, progress=None,
        extra_tests: Mapping[str, ExtraTest] | None = None) -> FitResult:
    """Train `params` of `module` for `epochs`, keep the weights of the epoch with the
    lowest validation loss, and evaluate them on test.

    `batches(split, rng)` yields batches of a split (shuffled with `rng` for training),
    `step(batch)` returns the summed loss, the item count, logits and gold labels.
    `progress(epoch, stats)` is called after each epoch's validation with the epoch's
    train_loss, valid_loss (per item) and valid_accuracy.
    `extra_tests` are scored with the same weights after the test split (the
    cross-lingual transfer analysis: other languages' test sets); they change nothing
    of the training or of the test result.
    """
    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    params = list(params)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    best_loss, best_epoch, best_state, valid_losses = float("inf"), 0, None, []
    for epoch in range(1, epochs + 1):
        module.train()
        train_loss, train_items = 0.0, 0
        for batch in batches("train", rng):
            loss, n, _, _ = step(batch)
            train_loss, train_items = train_loss + loss.detach(), train_items + n
            loss = loss / max(n, 1)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
        valid_loss, valid_preds, valid_golds = evaluate(module, batches("valid", None), step)
        valid_losses.append(valid_loss)
        if progress is not None:
            correct = sum(p == g for p, g in zip(valid_preds, valid_golds))
            progress(epoch, {"train_loss": float(train_loss) / max(train_items, 1), "valid_loss": valid_loss,
                             "valid_accuracy": correct / max(len(valid_golds), 1)})
        if valid_loss < best_loss:
            best_loss, best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(module.state_dict())
    module.load_state_dict(best_state)
    test_loss, preds, golds = evaluate(module, batches("test", None), step)
    wall_time_s = time.perf_counter() - started
    extra = {name: evaluate(module, test_batches(), test_step)
             for name, (test_batches, test_step) in (extra_tests or {}).items()}
    return FitResult(best_epoch, epochs, valid_losses, test_loss, preds, golds, wall_time_s, extra)
