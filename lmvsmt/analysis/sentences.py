"""The parallel sentences of the similarity analysis (`analysis.similarity.source`):
by default bitexts of the pretraining corpora (one split, the test split unless
configured otherwise), or files laid out the same way elsewhere (for models
pretrained on other data). For every language pair, `n` aligned sentence pairs are
sampled (seeded), so the two languages carry the same meanings; for every language,
`n` sentences are sampled from its sides of those bitexts, on which every model is
compared with every other. (No torch here: the workflow plans with it.)
"""
from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lmvsmt.bpe.binarize import aligned_pairs
from lmvsmt.errors import LmvsmtError
from lmvsmt.pretrain.external import trained_objectives
from lmvsmt.io import atomic_write
from lmvsmt.layout import CORPUS_BITEXT, corpus_dir
from lmvsmt.vocabulary import language_pairs

log = logging.getLogger(__name__)

SOURCES = ("pretraining", "files", "none")


class SimilarityError(LmvsmtError, ValueError):
    """Bad input to the similarity analysis, in one line naming the file or config key."""


@dataclass
class Sentences:
    """The parallel sentences of the analysis: per pair "l1-l2" (l1 < l2) the aligned
    sides, per language the sentences every model is compared on."""

    pairs: dict[str, dict[str, list[str]]]
    languages: dict[str, list[str]]
    origin: list[str]

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path) as fh:
            json.dump({"origin": self.origin, "pairs": self.pairs, "languages": self.languages}, fh,
                      ensure_ascii=False, indent=1, sort_keys=True)
            fh.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Sentences":
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return cls(data["pairs"], data["languages"], data["origin"])


def text_directories(config: dict) -> tuple[list[str], str]:
    """The directories holding the parallel text, and the split directory within them
    (`.` for a plain directory), as `analysis.similarity` names them."""
    cfg = config["analysis"]["similarity"]
    if cfg["source"] == "pretraining":
        if not trained_objectives(config):
            raise SimilarityError(
                "analysis.similarity.source is 'pretraining' but this configuration pretrains no model (every "
                "objective comes from pretrain.external), so it builds no corpus: CKA is left out; set "
                "analysis.similarity.source: files and analysis.similarity.files to a directory of bitexts to run it")
        corpora = cfg["corpora"] or config["corpus"]["corpora"]
        return [corpus_dir(config["results_dir"], c) for c in corpora], cfg["split"]
    if cfg["source"] == "files":
        if not cfg["files"]:
            raise SimilarityError("config key analysis.similarity.files must name a directory of bitext files "
                                  "when analysis.similarity.source is 'files'")
        return [cfg["files"]], "."
    raise SimilarityError("the similarity analysis is switched off (analysis.similarity.source: none)")


def bitext_files(directories: Sequence[str], split: str, languages: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Pair "l1-l2" -> the (l1 side, l2 side) files in every directory."""
    def path(directory, l1, l2, side):
        return os.path.normpath(Path(directory) / CORPUS_BITEXT.format(split=split, lang1=l1, lang2=l2, side=side))

    return {f"{l1}-{l2}": [(path(d, l1, l2, l1), path(d, l1, l2, l2)) for d in directories]
            for l1, l2 in language_pairs(languages)}


def _sample(items: list, n: int, rng: random.Random) -> list:
    return items if len(items) <= n else [items[i] for i in sorted(rng.sample(range(len(items)), n))]


def sample_sentences(files: dict[str, list[tuple[str, str]]], n: int, seed: int) -> Sentences:
    """Sample n aligned pairs per language pair, and n sentences per language from its
    sides of all pairs (duplicates removed), each with its own seeded generator so a
    pair's sample does not depend on which other pairs are configured."""
    pairs, per_language, origin = {}, {}, []
    for pair, pair_files in files.items():
        l1, l2 = pair.split("-")
        for path1, path2 in pair_files:
            if not Path(path1).exists() or not Path(path2).exists():
                raise SimilarityError(f"{path1 if not Path(path1).exists() else path2}: missing bitext file")
            origin += [path1, path2]
        aligned = list(dict.fromkeys(aligned_pairs(pair_files)))
        chosen = _sample(aligned, n, random.Random(f"{seed}/{pair}"))
        pairs[pair] = {l1: [a for a, _ in chosen], l2: [b for _, b in chosen]}
        for lang, side in ((l1, 0), (l2, 1)):
            per_language.setdefault(lang, {}).update(dict.fromkeys(p[side] for p in aligned))
        log.info("%s: %d aligned sentence pairs, %d sampled", pair, len(aligned), len(chosen))
    languages = {lang: _sample(list(sents), n, random.Random(f"{seed}/{lang}"))
                 for lang, sents in sorted(per_language.items())}
    return Sentences(pairs, languages, origin)


