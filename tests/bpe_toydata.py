"""A tiny corpus in the corpus stage's output format, for the BPE/binarization tests.

  <root>/corpus/{corpus}/{split}/doc.{lang}.txt           documents, one empty line between them
  <root>/corpus/{corpus}/{split}/bitext.{l1}-{l2}.{l1|l2}  line-aligned pairs (l1 < l2)

Words come from small per-language alphabets so that a few hundred pieces cover every
character (character_coverage 1.0: no <unk>, every sentence decodes back exactly).
"""
from __future__ import annotations

import itertools
import random
from pathlib import Path

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
CORPORA = ("unpc", "opensubtitles")
SPLITS = ("train", "valid", "test")
ALPHABETS = {
    "ar": "ابتجدرسعفقلمنهوي",
    "en": "abcdehiklmnorstuw",
    "es": "abcdeilmnorstuñé",
    "fr": "abcdeilmnorstuèç",
    "ru": "абвгдеиклмнопрст",
    "zh": "的一是不了人我在有他这中大来上",
}


def sentence(rng: random.Random, lang: str) -> str:
    alphabet = ALPHABETS[lang]
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(3, 9))]
    if lang == "zh":
        return "".join(words) + "。"
    return " ".join(words) + "."


def write_corpus(
    root: Path,
    languages=LANGUAGES,
    corpora=CORPORA,
    docs: dict[str, int] | None = None,
    sentences_per_doc: int = 4,
    seed: int = 0,
) -> Path:
    """Write the corpus tree under `root`; every pair gets `docs[split]` bitext documents
    per corpus, whose sides also feed the document files. Returns `root`."""
    docs = docs or {"train": 3, "valid": 1, "test": 1}
    rng = random.Random(seed)
    for corpus, split in itertools.product(corpora, SPLITS):
        base = root / "corpus" / corpus / split
        base.mkdir(parents=True, exist_ok=True)
        documents: dict[str, list[list[str]]] = {lang: [] for lang in languages}
        for l1, l2 in itertools.combinations(sorted(languages), 2):
            side1, side2 = [], []
            for _ in range(docs[split]):
                doc1 = [sentence(rng, l1) for _ in range(sentences_per_doc)]
                doc2 = [sentence(rng, l2) for _ in range(sentences_per_doc)]
                side1 += doc1
                side2 += doc2
                documents[l1].append(doc1)
                documents[l2].append(doc2)
            (base / f"bitext.{l1}-{l2}.{l1}").write_text("".join(s + "\n" for s in side1), encoding="utf-8")
            (base / f"bitext.{l1}-{l2}.{l2}").write_text("".join(s + "\n" for s in side2), encoding="utf-8")
        for lang, lang_docs in documents.items():
            text = "\n".join("".join(s + "\n" for s in doc) for doc in lang_docs)
            (base / f"doc.{lang}.txt").write_text(text, encoding="utf-8")
    return root
