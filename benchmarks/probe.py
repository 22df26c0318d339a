"""Cost of probing several seeds with the feature cache vs. re-encoding with the
frozen model in every epoch (the authors' way), on the same data and settings.

Needs a finished demo run (`make demo`), or any results directory holding the
pretrained model, the BPE model and the downstream data:

    .venv/bin/python benchmarks/probe.py [--results results] [--objective CLM] [--task POS] [--lang en]
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lmvsmt import config as lmvsmt_config
from lmvsmt import probe
from lmvsmt.bpe import SubwordModel
from lmvsmt.head import Head, fit
from lmvsmt.pretrained import load_model

ROOT = Path(__file__).resolve().parent.parent


def reencoding_probe(model, labels, encoded, lang, task, seed, head_cfg, optim):
    """Probing without a cache: every batch of every epoch goes through the frozen model."""
    pad = model.dictionary.pad()
    n_inputs = max(len(encoded["train"].ids[0]), 1)
    torch.manual_seed(seed)
    head = Head(model.hidden_size * n_inputs, len(labels), head_cfg["hidden"], head_cfg["dropout"])
    model.eval()

    def batches(split, rng):
        enc = encoded[split]
        for idx in probe.batch_indices(len(enc.ids), optim["batch_size"], rng):
            yield ([enc.ids[i] for i in idx], [enc.firsts[i] for i in idx],
                   torch.tensor([label for i in idx for label in enc.labels[i]], dtype=torch.long))

    def step(batch):
        ids, firsts, gold = batch
        with torch.no_grad():
            x = probe.represent(model, ids, firsts, lang, task, head_cfg["pooling"], pad, "cpu")
        logits = head(x)
        return F.cross_entropy(logits, gold, reduction="sum"), len(gold), logits, gold

    return fit(head, head.parameters(), batches, step, epochs=optim["epochs"], lr=optim["lr"],
               weight_decay=optim["weight_decay"], seed=seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--objective", default="CLM")
    parser.add_argument("--task", default="POS")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ev = lmvsmt_config.load(ROOT / "config" / "config.yaml")["evaluation"]
    results = Path(args.results)
    model = load_model(args.objective, results / "pretrain" / args.objective)
    subwords = SubwordModel(results / "bpe" / "spm.model")
    data_dir = results / "downstream" / args.task / args.lang
    labels, encoded = probe.load_task(data_dir, args.task, subwords, model.dictionary, ev["max_length"])
    seeds = list(range(1, args.seeds + 1))
    # Pay one-time costs (torch's lazy imports on the first optimizer, first forward)
    # outside both timings.
    torch.optim.AdamW(torch.nn.Linear(1, 1).parameters())
    with torch.no_grad():
        model.encode(torch.tensor([encoded["train"].ids[0][0]]), args.lang)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "features.pt"
        probe.extract_features(model, labels, encoded, args.lang, args.task, ev["head"]["pooling"],
                               ev["probe"]["batch_size"], cache)
        encoded_s = time.perf_counter() - started
        cached = [probe.probe(cache, seed, ev["head"], ev["probe"]) for seed in seeds]
    cached_s = time.perf_counter() - started

    started = time.perf_counter()
    uncached = [reencoding_probe(model, labels, encoded, args.lang, args.task, seed, ev["head"], ev["probe"])
                for seed in seeds]
    uncached_s = time.perf_counter() - started

    print(f"probing {args.objective} on {args.task}/{args.lang}: {len(seeds)} seeds x {ev['probe']['epochs']} epochs, "
          f"{sum(len(x.ids) for x in encoded.values())} examples, 1 CPU thread")
    print(f"  feature cache : {cached_s:8.2f} s  (encoding once: {encoded_s:.2f} s)")
    print(f"  re-encoding   : {uncached_s:8.2f} s")
    print(f"  speed-up      : {uncached_s / cached_s:8.1f}x  (target >= 10x)")
    print(f"  mean test accuracy: cache {sum(r['accuracy'] for r in cached) / len(seeds):.4f}, "
          f"re-encoding {sum(sum(p == g for p, g in zip(r.preds, r.golds)) / len(r.golds) for r in uncached) / len(seeds):.4f}")


if __name__ == "__main__":
    main()
