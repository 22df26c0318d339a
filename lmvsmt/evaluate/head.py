"""The classification head of the evaluation protocol and the one training loop that
probing and fine-tuning share, as the authors' scripts (`eval-monolingual/*.py`) run
it: AdamW at a constant learning rate, at most a fixed number of epochs, early
stopping and model selection on validation loss, the best epoch's weights restored.

Items the batches leave out (words beyond the input window of a token task) are
counted as the authors count them: they stay in the accuracy and loss denominators,
so they score as errors, and they are absent from the F1 scores."""
from __future__ import annotations

import copy
import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import torch
from torch import nn


# Initialisations of the head's linear layers (`evaluation.head.init`).
HEAD_INITS = ("xavier_uniform", "pytorch")


class Head(nn.Module):
    """dropout -> linear(in -> hidden) -> GELU -> linear(hidden -> classes).

    `init`: xavier_uniform (the authors' scripts: Xavier-uniform weight matrices, zero
    biases) or pytorch (torch's own nn.Linear initialisation)."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int = 256, dropout: float = 0.1,
                 init: str = "xavier_uniform"):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, n_classes))
        if init == "xavier_uniform":
            for param in self.net.parameters():
                if param.dim() > 1:
                    nn.init.xavier_uniform_(param)
                else:
                    nn.init.zeros_(param)
        elif init != "pytorch":
            raise ValueError(f"unknown head init {init!r} (allowed: {', '.join(HEAD_INITS)})")

    @classmethod
    def from_config(cls, in_dim: int, n_classes: int, cfg: Mapping) -> "Head":
        """A head as `evaluation.head` describes it."""
        return cls(in_dim, n_classes, cfg["hidden"], cfg["dropout"], cfg["init"])

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


def scores(preds: list[int], golds: list[int], unscored: int = 0) -> dict:
    """Accuracy, macro-F1 and micro-F1 as fractions, as the authors' scripts compute them.

    Accuracy divides the correct predictions by all items, the `unscored` ones (words
    beyond the input window, never predicted) included: they count as errors. The F1
    scores cover the predicted items only (the authors pass scikit-learn the words
    inside the window), so micro-F1 is the accuracy over those and equals accuracy when
    nothing is unscored. Macro-F1 averages over the labels that occur in gold or
    predictions, a label's F1 being 0 when undefined (scikit-learn's zero_division=0).
    (Computed here: importing scikit-learn costs every evaluation job 1.5 s.)"""
    correct = sum(p == g for p, g in zip(preds, golds))
    f1s = []
    for label in set(golds) | set(preds):
        tp = sum(p == g == label for p, g in zip(preds, golds))
        predicted, gold = preds.count(label), golds.count(label)
        f1s.append(2 * tp / (predicted + gold) if tp else 0.0)
    return {"accuracy": correct / max(len(golds) + unscored, 1), "macro_f1": sum(f1s) / max(len(f1s), 1),
            "micro_f1": correct / max(len(golds), 1)}


@dataclass
class FitResult:
    best_epoch: int
    epochs_run: int
    valid_losses: list[float]
    test_loss: float
    preds: list[int]
    golds: list[int]
    wall_time_s: float
    test_unscored: int = 0  # test items the batches left out, scored as errors
    # Further test sets scored with the same selected weights: name -> (loss, preds, golds, unscored).
    extra_tests: dict = field(default_factory=dict)

    def on(self, name: str) -> "FitResult":
        """This result as if further test set `name` were its test set."""
        loss, preds, golds, unscored = self.extra_tests[name]
        return dataclasses.replace(self, test_loss=loss, preds=preds, golds=golds, test_unscored=unscored,
                                   extra_tests={})


# A step maps a batch to (summed loss, number of scored items, logits, gold labels).
Step = Callable[[object], tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]]
# A further test set: a function yielding its batches, the step that scores them, and
# how many of its items the batches leave out (scored as errors).
ExtraTest = tuple[Callable[[], Iterable], Step, int]


def evaluate(module: nn.Module, batches: Iterable, step: Step, unscored: int = 0) -> tuple[float, list[int], list[int]]:
    """The loss per item of a split (its summed loss over all its items, the `unscored`
    ones included, as the authors' scripts divide it) and the predictions."""
    module.eval()
    total, count, preds, golds = 0.0, 0, [], []
    with torch.no_grad():
        for batch in batches:
            loss, n, logits, gold = step(batch)
            total += float(loss)
            count += n
            preds.extend(logits.argmax(-1).tolist())
            golds.extend(gold.tolist())
    return total / max(count + unscored, 1), preds, golds


def fit_options(optim: Mapping) -> dict:
    """The keyword arguments of `fit` that `evaluation.probe` / `evaluation.finetune` set."""
    return {key: optim[key] for key in ("epochs", "lr", "weight_decay", "patience")}


def fit(module: nn.Module, params, batches: Callable[[str, random.Random | None], Iterable], step: Step, *,
        epochs: int, lr: float, weight_decay: float, seed: int, patience: int | None = None,
        unscored: Mapping[str, int] | None = None, scaler=None, progress=None,
        extra_tests: Mapping[str, ExtraTest] | None = None) -> FitResult:
    """Train `params` of `module` for at most `epochs`, keep the weights of the epoch
    with the lowest validation loss, and evaluate them on test.

    `batches(split, rng)` yields batches of a split (shuffled with `rng` for training),
    `step(batch)` returns the summed loss, the item count, logits and gold labels.
    `progress(epoch, stats)` is called after each epoch's validation with the epoch's
    train_loss, valid_loss (per item) and valid_accuracy.
    Early stopping as in the authors' scripts: training ends after the first epoch
    that comes more than `patience` epochs after the best one (None: never), i.e.
    after patience + 1 epochs without a lower validation loss. Their "summed"
    validation loss adds up the per-item loss of each validation file; with the one
    validation split here it is that split's loss per item, the selection criterion.
    `unscored[split]` counts the items of a split the batches leave out (see `scores`).
    `extra_tests` (batches, step, unscored items) are scored with the same weights after the test split (the
    cross-lingual transfer analysis: other languages' test sets); they change nothing
    of the training or of the test result.
    """
    started = time.perf_counter()
    unscored = dict(unscored or {})
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
        valid_loss, valid_preds, valid_golds = evaluate(module, batches("valid", None), step, unscored.get("valid", 0))
        valid_losses.append(valid_loss)
        if progress is not None:
            accuracy = scores(valid_preds, valid_golds, unscored.get("valid", 0))["accuracy"]
            progress(epoch, {"train_loss": float(train_loss) / max(train_items, 1), "valid_loss": valid_loss,
                             "valid_accuracy": accuracy})
        if valid_loss < best_loss:
            best_loss, best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(module.state_dict())
        if patience is not None and epoch - best_epoch > patience:
            break
    if best_state is None:
        raise FloatingPointError(f"no epoch gave a finite validation loss ({valid_losses})")
    module.load_state_dict(best_state)
    test_loss, preds, golds = evaluate(module, batches("test", None), step, unscored.get("test", 0))
    wall_time_s = time.perf_counter() - started
    extra = {name: (*evaluate(module, test_batches(), test_step, test_unscored), test_unscored)
             for name, (test_batches, test_step, test_unscored) in (extra_tests or {}).items()}
    return FitResult(best_epoch, len(valid_losses), valid_losses, test_loss, preds, golds, wall_time_s,
                     unscored.get("test", 0), extra)
