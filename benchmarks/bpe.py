"""Encoding throughput of the BPE stage (sentences/s), 1 and 2 threads.

Runs the code path of the binarization rules (lmvsmt.bpe.binarize.document_jobs through
lmvsmt.bpe.Encoder: read, normalise, encode, join, write) on a synthetic six-language
corpus with Zipf-distributed words and UN-like sentence lengths, after training a BPE
model on a sample of it. Target: >= 50,000 sentences/s per thread.

Besides wall-clock rates it prints sentences per CPU-second (this process and its
workers): on a shared machine the wall-clock rate depends on the load, the CPU rate
is the per-thread throughput a dedicated core would give.

    .venv/bin/python benchmarks/bpe.py [--sentences 240000] [--vocab-size 8000]
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from lmvsmt.bpe import binarize, training
from lmvsmt.bpe.encoder import Encoder

TARGET_PER_THREAD = 50_000
ALPHABETS = {
    "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "en": "abcdefghijklmnopqrstuvwxyz",
    "es": "abcdefghijlmnopqrstuvyzñáéíóú",
    "fr": "abcdefghijlmnopqrstuvxyzéèàçê",
    "ru": "абвгдежзийклмнопрстуфхцчшщыьэюя",
    "zh": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家回能对",
}


def write_corpus(directory: Path, sentences: int, seed: int = 1) -> list[tuple[str, Path]]:
    """One document file per language; words drawn from a Zipf law over a 20k lexicon."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    files = []
    per_lang = sentences // len(ALPHABETS) + 1
    for lang, alphabet in ALPHABETS.items():
        lexicon = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(20_000)]
        lengths = np.clip(np_rng.poisson(22, per_lang), 3, 80)  # words per sentence, UNPC-like
        words = np.minimum(np_rng.zipf(1.2, int(lengths.sum())), len(lexicon)) - 1
        joiner = "" if lang == "zh" else " "
        path = directory / f"doc.{lang}.txt"
        with open(path, "w", encoding="utf-8") as fh:
            start = 0
            for i, n in enumerate(lengths):
                fh.write(joiner.join(lexicon[w] for w in words[start : start + n]) + ".\n")
                start += n
                if i % 20 == 19:
                    fh.write("\n")  # document break
        files.append((lang, path))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=240_000, help="sentences to encode (>= 200,000)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_corpus(tmp, args.sentences)
        sample = tmp / "sample.txt"
        training.sample_sentences({lang: [path] for lang, path in files}, sample, 60_000, seed=1)
        training.train(
            sample, tmp / "spm.model", tmp / "spm.vocab", tmp / "dict.txt",
            vocab_size=args.vocab_size, languages=list(ALPHABETS), character_coverage=0.9995,
            input_sentence_size=60_000, seed=1, threads=2,
        )
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        header = ("threads", "sentences", "tokens/sent", "wall s", "sent/s", "sent/s/thread", "CPU s", "sent/CPU-s")
        print(" ".join(f"{h:>13}" for h in header))
        for threads in (1, 2):
            cpu0, start = cpu_seconds(), time.perf_counter()
            with open(tmp / f"out.{threads}.txt", "wb") as out, Encoder(tmp / "spm.model", threads) as encoder:
                counts = encoder.run(binarize.document_jobs(files), [out])
            seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
            sentences = sum(c[0] for k, c in counts.items() if k != "all")
            tokens = sum(c[1] for k, c in counts.items() if k != "all")
            rate = sentences / seconds
            row = (threads, sentences, f"{tokens / sentences:.1f}", f"{seconds:.2f}", f"{rate:.0f}", f"{rate / threads:.0f}", f"{cpu:.2f}", f"{sentences / cpu:.0f}")
            verdict = "meets" if min(rate / threads, sentences / cpu) >= TARGET_PER_THREAD else "BELOW"
            print(" ".join(f"{v:>13}" for v in row) + f"  {verdict} target {TARGET_PER_THREAD} per thread (wall and CPU)")


def cpu_seconds() -> float:
    """User + system time of this process and its finished children (the pool workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
