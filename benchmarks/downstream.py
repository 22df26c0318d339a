"""Benchmark of the downstream stage.

1. Demo: time to write all 24 demo datasets from the world (raw formats) and to
   prepare them (parse + split + write). Target: a few seconds in all.
2. Real sizes: parse + split + write throughput on synthetic files in the real formats
   at paper scale (XNLI-MT train: 392,702 pairs; Amazon: 200,000 reviews; a UD
   treebank of 10,000 sentences, cut to the 160k-word budget), to estimate the
   cost of the prepare step on the real data. Target: each under 30 s on one core.

    .venv/bin/python benchmarks/downstream.py [--scale 1.0]
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from lmvsmt import config as cfg
from lmvsmt import vocabulary
from lmvsmt.downstream import demo, prepare
from lmvsmt.downstream.sources import write_manifest

ROOT = Path(__file__).resolve().parent.parent
TASKS = list(vocabulary.TASKS)
LANGS = list(vocabulary.LANGUAGES)
TARGET_SECONDS = 30.0


def bench_demo(tmp: Path) -> None:
    conf = cfg.load(ROOT / "config" / "config.yaml")
    start = time.perf_counter()
    demo.generate(conf, tmp / "raw", TASKS, LANGS)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    for task in TASKS:
        for lang in LANGS:
            prepare.prepare(tmp / "raw" / task / lang, tmp / "out" / task / lang, task, lang, seed=1,
                            own_split=conf["downstream"]["own_split"],
                            pos_token_budget=conf["downstream"]["pos_token_budget"] if task == "POS" else 0)
    prepared = time.perf_counter() - start
    print(f"demo: 24 datasets generated in {generated:.2f} s, prepared in {prepared:.2f} s")


def words(rng: random.Random, n: int) -> str:
    return " ".join(f"w{rng.randrange(20000)}" for _ in range(n))


def write_real_like(raw: Path, task: str, n: int, rng: random.Random) -> list[dict]:
    raw.mkdir(parents=True, exist_ok=True)
    if task == "NLI":
        labels = ["entailment", "neutral", "contradictory"]
        with open(raw / "train.tsv", "w") as fh:
            fh.write("premise\thypo\tlabel\n")
            for i in range(n):
                fh.write(f"{words(rng, 20)}\t{words(rng, 10)}\t{labels[i % 3]}\n")
        head = "language\tgold_label\tsentence1\tsentence2\n"
        for name in ("dev.tsv", "test.tsv"):
            (raw / name).write_text(head + "".join(f"en\tneutral\t{words(rng, 20)}\t{words(rng, 9)}\n"
                                                   for _ in range(5000)))
        return [{"name": "train.tsv", "format": "xnli_mt_tsv", "split": "train"},
                {"name": "dev.tsv", "format": "xnli_tsv", "split": "valid"},
                {"name": "test.tsv", "format": "xnli_tsv", "split": "test"}]
    if task == "SA":
        with open(raw / "all.jsonl", "w") as fh:
            for i in range(n):
                fh.write(json.dumps({"id": str(i), "text": words(rng, 60), "label": i % 5}) + "\n")
        return [{"name": "all.jsonl", "format": "amazon_jsonl", "split": "all"}]
    with open(raw / "tb.conllu", "w") as fh:
        for i in range(n):
            for j in range(1, rng.randint(8, 30)):
                fh.write(f"{j}\tw{rng.randrange(20000)}\t_\tNOUN\t_\t_\t0\tdep\t_\t_\n")
            fh.write("\n")
    return [{"name": "tb.conllu", "format": "conllu", "split": "all", "treebank": "tb"}]


def bench_real(tmp: Path, scale: float) -> None:
    rng = random.Random(1)
    for task, n in (("NLI", 392_702), ("SA", 210_000), ("POS", 10_000)):
        n = max(100, int(n * scale))
        raw = tmp / "real" / task
        files = write_real_like(raw, task, n, rng)
        write_manifest(raw, task, "en", {"dataset": "synthetic"}, files, origin="benchmark")
        start = time.perf_counter()
        meta = prepare.prepare(raw, tmp / "real-out" / task, task, "en", seed=1,
                               own_split={"valid": 0.1, "test": 0.1}, pos_token_budget=160_000 if task == "POS" else 0)
        elapsed = time.perf_counter() - start
        total = sum(meta["counts"].values())
        verdict = "ok" if elapsed < TARGET_SECONDS else f"SLOWER THAN {TARGET_SECONDS:.0f} s"
        print(f"{task}: {total} examples prepared in {elapsed:.2f} s ({total / elapsed:,.0f} examples/s) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the paper sizes to generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmvsmt-downstream-bench-") as tmp:
        bench_demo(Path(tmp))
        bench_real(Path(tmp), args.scale)


if __name__ == "__main__":
    main()
