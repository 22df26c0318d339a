"""A toy binarized pretraining data set in the layout of the path contract (issue 4):

  <root>/bpe/dict.txt                       one dictionary with __xx__ and <mask>
  <root>/data-bin/documents/{split}.bin/idx + dict.txt      (CLM, MLM, 2-LM)
  <root>/data-bin/bitext/{split}.{l1}-{l2}.{l}.bin/idx + dict.{l}.txt   (2-MT)
  <root>/data-bin/tlm/{split}.bin/idx + dict.txt            (TLM)

Written in-process with fairseq's own dictionary and indexed-dataset builder (what
fairseq-preprocess does), because a fairseq-preprocess process per file costs
seconds on this machine. Sentences are parallel: word k of a sentence is the same
"concept" in every language, spelled per language.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

LANGS = ("ar", "en", "es", "fr", "ru", "zh")
SPLITS = ("train", "valid", "test")


def _sentence(rng: random.Random, vocab: int) -> list[int]:
    # A little structure (a frequent "function word" and repeated bigrams) so the
    # loss has something to learn in a few updates.
    start = rng.randrange(vocab)
    return [(start + 3 * i) % vocab if i % 2 else 0 for i in range(rng.randint(4, 12))]


def _spell(concepts: list[int], lang: str) -> str:
    return " ".join(f"{lang}{c}" for c in concepts)


def _write(dictionary, path: Path, lines: list[str]) -> None:
    from fairseq.data import indexed_dataset

    builder = indexed_dataset.make_builder(str(path) + ".bin", impl="mmap", vocab_size=len(dictionary))
    for line in lines:
        builder.add_item(dictionary.encode_line(line, add_if_not_exist=False, append_eos=True).long())
    builder.finalize(str(path) + ".idx")


def write_dictionary(root: Path, langs, vocab: int):
    """The shared dictionary (words `{lang}{k}`, k < vocab, then __xx__ and <mask>) in
    <root>/bpe/dict.txt; returns it."""
    from fairseq.data import Dictionary

    dictionary = Dictionary()
    for lang in langs:
        for c in range(vocab):
            dictionary.add_symbol(f"{lang}{c}")
    for lang in LANGS:
        dictionary.add_symbol(f"__{lang}__")
    dictionary.add_symbol("<mask>")
    (root / "bpe").mkdir(parents=True, exist_ok=True)
    dictionary.save(str(root / "bpe" / "dict.txt"))
    return dictionary


def build(root: Path, langs=LANGS, docs_per_lang: int = 12, sentences_per_doc=(3, 6), vocab: int = 40,
          seed: int = 1) -> Path:
    """Write the toy data under `root` (a results directory); returns root. The
    dictionary holds `vocab` words per language (benchmarks use ~100k in all)."""
    rng = random.Random(seed)
    root = Path(root)
    dictionary = write_dictionary(root, langs, vocab)

    sizes = {"train": docs_per_lang, "valid": max(2, docs_per_lang // 6), "test": max(2, docs_per_lang // 6)}
    documents = root / "data-bin" / "documents"
    bitext = root / "data-bin" / "bitext"
    tlm = root / "data-bin" / "tlm"
    for d in (documents, bitext, tlm):
        d.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        doc_lines, tlm_lines = [], []
        pairs = {(a, b): ([], []) for i, a in enumerate(langs) for b in langs[i + 1:]}
        for _ in range(sizes[split]):
            doc = [_sentence(rng, vocab) for _ in range(rng.randint(*sentences_per_doc))]
            for lang in langs:
                doc_lines += [_spell(s, lang) for s in doc] + [""]
            for (a, b), (side_a, side_b) in pairs.items():
                for s in doc[:2]:
                    side_a.append(_spell(s, a))
                    side_b.append(_spell(s, b))
                    tlm_lines.append(f"{_spell(s, a)} __{b}__ {_spell(s, b)}")
                    tlm_lines.append(f"{_spell(s, b)} __{a}__ {_spell(s, a)}")
        _write(dictionary, documents / split, doc_lines)
        _write(dictionary, tlm / split, tlm_lines)
        for (a, b), (side_a, side_b) in pairs.items():
            _write(dictionary, bitext / f"{split}.{a}-{b}.{a}", side_a)
            _write(dictionary, bitext / f"{split}.{a}-{b}.{b}", side_b)
    for d in (documents, tlm):
        shutil.copy(root / "bpe" / "dict.txt", d / "dict.txt")
    for lang in langs:
        shutil.copy(root / "bpe" / "dict.txt", bitext / f"dict.{lang}.txt")
    return root
