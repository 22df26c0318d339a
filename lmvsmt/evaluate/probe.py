"""Probing: the pretrained model is frozen, only the head is trained.

The frozen model encodes each split ONCE per (objective, task, language) and the
head inputs are cached on disk in float16; every seed then trains its head from
that cache. This gives the same head inputs as re-encoding in every epoch (the
encoder is frozen and deterministic in eval mode) at a fraction of the cost.
"""
from __future__ import annotations

import logging
import random

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lmvsmt import integrity
from lmvsmt.downstream.common import read_split, split_path
from lmvsmt.evaluate import taskdata
from lmvsmt.evaluate.head import Head, fit, fit_options, pad_batch, pool, scores
from lmvsmt.io import atomic_path
from lmvsmt.vocabulary import SPLITS, is_token_task

log = logging.getLogger(__name__)

# How a damaged feature cache comes back (it is moved aside when found damaged).
FEATURES_REMEDY = "rerun the same command to extract the features again (rule features)"


def load_task(data_dir, task, lang, subwords, dictionary, max_length):
    """Read and encode the three splits of one task and language."""
    examples = {s: read_split(split_path(data_dir, task, s), task) for s in SPLITS}
    labels = taskdata.label_set(examples["train"], data_dir)
    encoded = {
        s: taskdata.encode(ex, task, lang, subwords, dictionary, labels, max_length,
                           where=str(split_path(data_dir, task, s)))
        for s, ex in examples.items()
    }
    return labels, encoded


def represent(model, ids: list[list[list[int]]], firsts: list[list[int]], lang: str, task: str,
              pooling: str, pad: int, device) -> torch.Tensor:
    """Head inputs for a batch of examples: pooled (and, for pairs, concatenated)
    sentence vectors [B, n_texts * H], or first-sub-word word vectors [sum(words), H]."""
    if is_token_task(task):
        tokens, _ = pad_batch([ex[0] for ex in ids], pad)
        states = model.encode(tokens.to(device), lang)
        rows = [states[i, torch.tensor(f, dtype=torch.long, device=device)] for i, f in enumerate(firsts)]
        return torch.cat(rows) if rows else states.new_zeros((0, states.shape[-1]))
    pooled = []
    for t in range(len(ids[0])):
        tokens, mask = pad_batch([ex[t] for ex in ids], pad)
        tokens, mask = tokens.to(device), mask.to(device)
        pooled.append(pool(model.encode(tokens, lang), mask, pooling))
    return torch.cat(pooled, dim=-1)


def batch_indices(n: int, batch_size: int, rng: random.Random | None) -> list[list[int]]:
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    return [order[i: i + batch_size] for i in range(0, n, batch_size)]


def extract_features(model, labels, encoded, lang, task, pooling, batch_size, out_path, device="cpu") -> None:
    """Encode every split with the frozen model and cache the head inputs (float16).

    `offsets` delimit each example's rows (one per sentence, one per kept word), so
    probing batches examples exactly as it would when re-encoding."""
    pad = model.dictionary.pad()
    cache = {"labels": list(labels), "task": task, "language": lang}
    model.eval()
    with torch.no_grad():
        for split, enc in encoded.items():
            xs = []
            for idx in tqdm(batch_indices(len(enc.ids), batch_size, None), desc=f"encode {task}/{lang}/{split}",
                            mininterval=5):
                xs.append(represent(model, [enc.ids[i] for i in idx], [enc.firsts[i] for i in idx], lang, task,
                                    pooling, pad, device).float().cpu())
            counts = torch.tensor([len(labels_) for labels_ in enc.labels], dtype=torch.long)
            cache[split] = {"x": torch.cat(xs).to(torch.float16),
                            "y": torch.tensor([label for ls in enc.labels for label in ls], dtype=torch.long),
                            "offsets": torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)]),
                            "truncated_words": enc.truncated_words}
    with atomic_path(out_path) as tmp:
        torch.save(cache, tmp)


def _split_data(split: dict) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    return split["x"].float(), split["y"], split["offsets"].tolist()


def probe(features_path, seed: int, head_cfg: dict, optim: dict, progress=None,
          transfer_tests: dict | None = None) -> dict:
    """Train one head on cached features; returns the metrics of the best epoch on test.
    `progress`: lmvsmt.evaluate.head.fit's per-epoch callback.

    `transfer_tests` maps names (languages) to further test splits in the cache's format
    (another language's features, labels as this cache's ids); the same head scores
    them and their metrics come back under "transfer"."""
    cache = integrity.load_torch(features_path, FEATURES_REMEDY, weights_only=True)
    data = {s: _split_data(cache[s]) for s in SPLITS}
    torch.manual_seed(seed)
    head = Head.from_config(data["train"][0].shape[1], len(cache["labels"]), head_cfg)

    def batches_of(split_data, rng):
        # Batches of examples (sentences), as when re-encoding: their rows are gathered.
        x, y, offsets = split_data
        for idx in batch_indices(len(offsets) - 1, optim["batch_size"], rng):
            rows = torch.tensor([r for i in idx for r in range(offsets[i], offsets[i + 1])], dtype=torch.long)
            yield x[rows], y[rows]

    def step(batch):
        x, y = batch
        logits = head(x)
        return F.cross_entropy(logits, y, reduction="sum"), len(y), logits, y

    extra = {name: (lambda test=_split_data(test): batches_of(test, None), step, test["truncated_words"])
             for name, test in (transfer_tests or {}).items()}
    result = fit(head, head.parameters(), lambda split, rng: batches_of(data[split], rng), step, seed=seed,
                 unscored={s: cache[s]["truncated_words"] for s in SPLITS}, progress=progress,
                 extra_tests=extra, **fit_options(optim))
    metrics = summarize(result, len(cache["labels"]))
    if transfer_tests:
        metrics["transfer"] = {name: summarize(result.on(name), len(cache["labels"])) for name in transfer_tests}
    return metrics


def summarize(result, n_labels: int) -> dict:
    """The metric fields of a result file. `n_test` counts every test item (for a token
    task every word of the test file), `n_truncated` those beyond the input window,
    which were never predicted and count as errors in accuracy (not in F1)."""
    return {
        **scores(result.preds, result.golds, result.test_unscored),
        "test_loss": result.test_loss,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "valid_losses": result.valid_losses,
        "n_test": len(result.golds) + result.test_unscored,
        "n_truncated": result.test_unscored,
        "n_labels": n_labels,
        "wall_time_s": round(result.wall_time_s, 3),
    }


def majority_baseline(features_path) -> float:
    """Test accuracy of always predicting the most frequent training label (words
    beyond the input window count as errors, as in `scores`)."""
    cache = integrity.load_torch(features_path, FEATURES_REMEDY, weights_only=True)
    majority = torch.bincount(cache["train"]["y"]).argmax()
    test = cache["test"]
    return int((test["y"] == majority).sum()) / max(len(test["y"]) + test["truncated_words"], 1)

