"""Demo versions of the four tasks in every language, derived from the synthetic
world (lmvsmt.demo) and written in the raw formats of the real sources, so that the
same readers, splits and checks run on the demo as on the paper's data.

Sentiment comes from the review's star rating (attribute polarity in the world), NER
from the world's entity spans, POS from its grammar, NLI from meaning relations.
Each dataset's inputs are unique, so duplicate removal keeps the configured sizes.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Callable, Mapping, Sequence

from lmvsmt.download import sha256_file
from lmvsmt.downstream.common import NLI_LABELS, DataError, Example, TextExample, TokenExample, word_joiner
from lmvsmt.downstream.formats import FORMATS
from lmvsmt.downstream.sources import write_manifest
from lmvsmt.vocabulary import SPLITS

log = logging.getLogger(__name__)

AMAZON_LANGS = ("en", "es", "fr", "zh")
SA_CLASSES = {
    # classes and the star ratings a demo review of that class gets
    "stars": {str(s): (s,) for s in range(1, 6)},
    "ru": {"negative": (1, 2), "neutral": (3,), "positive": (4, 5)},
    "ar": {"negative": (1, 2), "positive": (4, 5)},
}
MAX_TRIES = 50  # draws per wanted example before giving up on finding unique inputs


def sizes_from_config(config: dict) -> dict[str, int]:
    """Examples per split of every demo dataset (`demo.downstream_sizes`)."""
    sizes = config["demo"]["downstream_sizes"]
    return {name: int(sizes[name]) for name in SPLITS}


def demo_entry(task: str, lang: str, sizes: Mapping[str, int]) -> dict:
    """The source entry of a demo dataset, shaped like the real one of the same slot."""
    total = sum(sizes.values())
    own = {"valid": sizes["valid"] / total, "test": sizes["test"] / total}

    def official(fmt: str, names: Sequence[str]) -> list[dict]:
        return [{"name": n, "format": fmt, "split": s} for n, s in zip(names, SPLITS)]

    if task == "SA" and lang == "ru":
        return {"dataset": "demo reviews (RuReviews format)", "split_fractions": own,
                "files": [{"name": "women-clothing-accessories.3-class.balanced.csv", "format": "rureviews_tsv",
                           "split": "all"}]}
    if task == "SA" and lang == "ar":
        return {"dataset": "demo reviews (ar_res_reviews format)", "split_fractions": own,
                "files": [{"name": "RES1.csv", "format": "ar_res_csv", "split": "all"}]}
    if task == "SA":
        return {"dataset": "demo reviews (Amazon Reviews Multi format)",
                "files": official("amazon_jsonl", ["train.jsonl", "validation.jsonl", "test.jsonl"])}
    if task == "NER" and lang == "ar":
        return {"dataset": "demo entities (AQMAR format)", "split_fractions": own,
                "files": [{"name": f"demo_article_{k}.txt", "format": "aqmar_conll", "split": "all"}
                          for k in range(1, 5)]}
    if task == "NER":
        return {"dataset": "demo entities (MultiCoNER format)",
                "files": official("multiconer_conll", [f"{lang}_{s}.conll" for s in ("train", "dev", "test")])}
    if task == "POS":
        # zh concatenates two treebanks, as the real zh data does
        banks = ["demo-a", "demo-b"] if lang == "zh" else ["demo"]
        return {"dataset": "demo treebank (CoNLL-U)", "split_fractions": own,
                "files": [{"name": f"{lang}_{bank}-ud-{s}.conllu", "format": "conllu", "split": "all",
                           "treebank": bank} for bank in banks for s in ("train", "dev", "test")]}
    if task == "NLI":
        return {"dataset": "demo inference pairs (XNLI format)",
                "files": [{"name": f"multinli.train.{lang}.tsv", "format": "xnli_mt_tsv", "split": "train"},
                          {"name": "xnli.dev.tsv", "format": "xnli_tsv", "split": "valid"},
                          {"name": "xnli.test.tsv", "format": "xnli_tsv", "split": "test"}]}
    raise ValueError(f"no demo for task {task!r}")


def _sa_maker(world, lang: str) -> Callable[[random.Random, int], Example]:
    classes = SA_CLASSES["stars" if lang in AMAZON_LANGS else lang]
    names = sorted(classes)
    joiner = word_joiner(lang)

    def make(rng: random.Random, i: int) -> Example:
        label = names[i % len(names)]
        stars = rng.choice(classes[label])
        sentences = world.review(rng, lang, stars)
        return TextExample((joiner.join(world.surface(s, lang) for s in sentences),), label)

    return make


def _token_maker(world, lang: str, field: str) -> Callable[[random.Random, int], Example]:
    def make(rng: random.Random, i: int) -> Example:
        tokens = world.render(world.random_meaning(rng), lang)
        return TokenExample(tuple(t.form for t in tokens), tuple(getattr(t, field) for t in tokens))

    return make


def _nli_maker(world, lang: str) -> Callable[[random.Random, int], Example]:
    def make(rng: random.Random, i: int) -> Example:
        label = NLI_LABELS[i % len(NLI_LABELS)]
        premise, hypothesis = world.nli_pair(rng, lang, label)
        return TextExample((world.surface(premise, lang), world.surface(hypothesis, lang)), label)

    return make


def _maker(world, task: str, lang: str) -> Callable[[random.Random, int], Example]:
    if task == "SA":
        return _sa_maker(world, lang)
    if task == "NLI":
        return _nli_maker(world, lang)
    return _token_maker(world, lang, "ner" if task == "NER" else "upos")


def _unique(make: Callable[[random.Random, int], Example], n: int, rng: random.Random, where: str) -> list[Example]:
    """`n` examples with pairwise different inputs (the i-th asks for label class i)."""
    out: list[Example] = []
    seen: set = set()
    tries = 0
    while len(out) < n:
        ex = make(rng, len(out))
        tries += 1
        if ex.key not in seen and all(ex.key if isinstance(ex, TokenExample) else ex.texts):
            seen.add(ex.key)
            out.append(ex)
        elif tries > MAX_TRIES * n:
            raise DataError(f"{where}: the demo world gave only {len(out)} distinct examples of {n} wanted; "
                            "raise demo.vocab_scale or lower demo.downstream_sizes")
    return out


def _chunks(items: list, parts: int) -> list[list]:
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for k in range(parts):
        end = start + size + (1 if k < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def world_params(config: dict) -> dict:
    """What the demo world depends on (its rerun trigger): seed, vocabulary scale, languages."""
    demo = config["demo"]
    return {"seed": demo["seed"], "vocab_scale": demo["vocab_scale"], "languages": list(config["languages"])}


def make_world(config: dict):
    from lmvsmt.demo import world_from_config  # imported only when the demo runs

    return world_from_config(config)


def generate(config: dict, raw_root: str | Path, tasks: Sequence[str], languages: Sequence[str],
             world=None) -> list[Path]:
    """Write the raw files and manifest of every demo task x language under
    {raw_root}/{task}/{lang}/; return the manifest paths."""
    raw_root = Path(raw_root)
    sizes = sizes_from_config(config)
    seed = config["demo"]["seed"]
    world = world if world is not None else make_world(config)
    manifests = []
    for task in tasks:
        for lang in languages:
            raw_dir = raw_root / task / lang
            raw_dir.mkdir(parents=True, exist_ok=True)
            entry = demo_entry(task, lang, sizes)
            make = _maker(world, task, lang)
            rng = random.Random(f"{seed}/{task}/{lang}/demo")
            examples = _unique(make, sum(sizes.values()), rng, f"demo {task}/{lang}")
            by_split = dict(zip(SPLITS, _chunks_by_size(examples, sizes)))
            files = entry["files"]
            if files[0]["split"] == "all":
                batches = _chunks(examples, len(files))
            else:
                batches = [by_split[spec["split"]] for spec in files]
            written = []
            for spec, batch in zip(files, batches):
                FORMATS[spec["format"]].write(raw_dir / spec["name"], batch, lang)
                size, sha = sha256_file(raw_dir / spec["name"])
                written.append({**spec, "treebank": spec.get("treebank", spec["name"]), "url": None,
                                "member": None, "bytes": size, "sha256": sha})
            manifests.append(write_manifest(raw_dir, task, lang, entry, written, origin="demo"))
            log.info("demo %s/%s: %d examples in %d file(s)", task, lang, len(examples), len(files))
    return manifests


def _chunks_by_size(items: list, sizes: Mapping[str, int]) -> list[list]:
    out, start = [], 0
    for name in SPLITS:
        out.append(items[start:start + sizes[name]])
        start += sizes[name]
    return out
