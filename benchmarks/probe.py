"""Cost of probing several seeds with the feature cache vs. re-encoding with the
frozen model in every epoch (the authors' way), on the same data and settings.
Target: the cache >= 10x cheaper.

Two encoders run on the same demo task data: the trained demo-size model, and a CLM
of the paper's size (random weights: encoding cost does not depend on them). With
the demo's 2-layer, width-64 encoder, encoding costs about as much as training the
head, so no cache can be 10x cheaper there; the paper-size encoder is the case the
cache is for. Re-encoding it for 5 seeds x 10 epochs takes about 10 minutes on one
CPU thread (--demo-only skips it; --threads 2 roughly halves it).

Needs a finished demo run (`make demo`), or any results directory holding the
pretrained model, the BPE model and the downstream data:

    .venv/bin/python benchmarks/probe.py [--results results] [--objective CLM] [--task POS] [--lang en]
        [--seeds 5] [--threads 1] [--demo-only]
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lmvsmt import config as lmvsmt_config
from lmvsmt.evaluate import probe
from lmvsmt.bpe.subword import SubwordModel
from lmvsmt.evaluate.head import Head, fit, fit_options, scores
from lmvsmt import fairseq_compat
from lmvsmt.pretrain.models import PretrainedModel, load_model

ROOT = Path(__file__).resolve().parent.parent


def reencoding_probe(model, labels, encoded, lang, task, seed, head_cfg, optim):
    """Probing without a cache: every batch of every epoch goes through the frozen model."""
    pad = model.dictionary.pad()
    n_inputs = max(len(encoded["train"].ids[0]), 1)
    torch.manual_seed(seed)
    head = Head.from_config(model.hidden_size * n_inputs, len(labels), head_cfg)
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

    return fit(head, head.parameters(), batches, step, seed=seed,
               unscored={s: enc.truncated_words for s, enc in encoded.items()}, **fit_options(optim))


def paper_size_clm(model_dir):
    """A CLM of the paper's size (12 layers, hidden 512, FFN 2048, 8 heads) built from
    the demo checkpoint's configuration and dictionary, with fresh random weights:
    encoding cost does not depend on the weights."""
    from fairseq import checkpoint_utils, tasks

    with fairseq_compat.full_checkpoint_loading():
        state = checkpoint_utils.load_checkpoint_to_cpu(str(Path(model_dir) / "checkpoint_best.pt"))
    cfg = state["cfg"]
    cfg.task.data = str(model_dir)
    for key, value in dict(decoder_layers=12, decoder_embed_dim=512, decoder_ffn_embed_dim=2048,
                           decoder_attention_heads=8, decoder_input_dim=512, decoder_output_dim=512).items():
        setattr(cfg.model, key, value)
    task = tasks.setup_task(cfg.task)
    return PretrainedModel("CLM", task.build_model(cfg.model), task.source_dictionary).eval()


def compare(model, labels, encoded, args, ev, seeds):
    """Seconds for probing all seeds with the cache and by re-encoding."""
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
    agree = all(c["accuracy"] == scores(u.preds, u.golds, u.test_unscored)["accuracy"]
                for c, u in zip(cached, uncached))
    return cached_s, encoded_s, uncached_s, agree


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--objective", default="CLM")
    parser.add_argument("--task", default="POS")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of torch (both arms)")
    parser.add_argument("--demo-only", action="store_true", help="skip the paper-size encoder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ev = lmvsmt_config.load(ROOT / "config" / "config.yaml")["evaluation"]
    results = Path(args.results)
    model = load_model(args.objective, results / "pretrain" / args.objective)
    subwords = SubwordModel(results / "bpe" / "spm.model")
    data_dir = results / "downstream" / args.task / args.lang
    labels, encoded = probe.load_task(data_dir, args.task, args.lang, subwords, model.dictionary, ev["max_length"])
    seeds = list(range(1, args.seeds + 1))
    print(f"probing {args.task}/{args.lang}: {len(seeds)} seeds x {ev['probe']['epochs']} epochs, "
          f"{sum(len(x.ids) for x in encoded.values())} examples, {args.threads} CPU thread(s)")
    models = {f"{args.objective} (demo size, trained)": model}
    if not args.demo_only:
        models["CLM (paper size, random weights)"] = paper_size_clm(results / "pretrain" / "CLM")
    for name, encoder in models.items():
        cached_s, encoded_s, uncached_s, agree = compare(encoder, labels, encoded, args, ev, seeds)
        print(f"{name}:")
        print(f"  feature cache : {cached_s:8.2f} s  (encoding once: {encoded_s:.2f} s)")
        print(f"  re-encoding   : {uncached_s:8.2f} s")
        print(f"  speed-up      : {uncached_s / cached_s:8.1f}x  (target >= 10x); same test accuracy per seed: {agree}")


if __name__ == "__main__":
    main()
