"""Downstream data as the evaluation sees it: read the common on-disk formats,
map labels to ids, and encode with the pretraining sub-word model.

Sentence tasks (SA) and sentence-pair tasks (NLI) are `.tsv` files (texts then the
label); token tasks (NER, POS) are `.conll` files (token<TAB>label, a blank line
between sentences). Token tasks are labelled on the first sub-word of each word.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lmvsmt.io import open_text, read_json

# How many texts one example has (0 = a token-level task).
TASK_TEXTS = {"SA": 1, "NLI": 2, "NER": 0, "POS": 0}
TASK_SUFFIX = {"SA": "tsv", "NLI": "tsv", "NER": "conll", "POS": "conll"}
SPLITS = ("train", "valid", "test")
# Languages written without spaces between words (their sentences join words with "").
WORDS_WITHOUT_SPACES = {"zh"}


def word_joiner(lang: str) -> str:
    return "" if lang in WORDS_WITHOUT_SPACES else " "


class TaskDataError(ValueError):
    """Malformed downstream data, described with file and line."""


@dataclass
class Example:
    texts: tuple[str, ...] = ()          # sentence-level
    words: list[str] = field(default_factory=list)   # token-level
    labels: list[str] = field(default_factory=list)  # one (sentence) or one per word


def is_token_task(task: str) -> bool:
    return TASK_TEXTS[task] == 0


def split_path(data_dir: str | Path, task: str, split: str) -> Path:
    return Path(data_dir) / f"{split}.{TASK_SUFFIX[task]}"


def read_split(path: str | Path, task: str) -> list[Example]:
    """Read one split; raise TaskDataError naming file and line on bad input."""
    path = Path(path)
    examples = _read_conll(path) if is_token_task(task) else _read_tsv(path, TASK_TEXTS[task])
    if not examples:
        raise TaskDataError(f"{path}: empty split")
    return examples


def _read_tsv(path: Path, n_texts: int) -> list[Example]:
    out = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) != n_texts + 1:
                raise TaskDataError(f"{path}:{lineno}: expected {n_texts + 1} tab-separated columns, found {len(cols)}")
            out.append(Example(texts=tuple(cols[:n_texts]), labels=[cols[-1]]))
    return out


def _read_conll(path: Path) -> list[Example]:
    out, words, labels = [], [], []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                if words:
                    out.append(Example(words=words, labels=labels))
                    words, labels = [], []
                continue
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0]:
                raise TaskDataError(f"{path}:{lineno}: expected 'token<TAB>label', found {len(cols)} column(s)")
            words.append(cols[0])
            labels.append(cols[1])
    if words:
        out.append(Example(words=words, labels=labels))
    return out


def label_set(train: Sequence[Example], data_dir: str | Path | None = None) -> list[str]:
    """The label inventory of a dataset: every label observed in any split, as the
    downstream stage records it in meta.json (a rare tag may be missing from train),
    or, without meta.json, the labels of the training split."""
    meta = Path(data_dir) / "meta.json" if data_dir is not None else None
    if meta is not None and meta.exists():
        return sorted(read_json(meta)["labels_observed"])
    return sorted({label for ex in train for label in ex.labels})


@dataclass
class Encoded:
    """One split, encoded: token-id lists per text, and for token tasks the index of
    each labelled word's first sub-word. Words cut off by truncation have no entry;
    `truncated_words` counts them, and the evaluation scores them as errors."""

    ids: list[list[list[int]]]        # example -> text -> sub-word ids
    firsts: list[list[int]]           # example -> first sub-word index of each kept word
    labels: list[list[int]]           # example -> label ids (one, or one per kept word)
    truncated_words: int = 0


def encode(examples: Sequence[Example], task: str, lang: str, subwords, dictionary, labels: Sequence[str],
           max_length: int, where: str = "") -> Encoded:
    """Encode examples with a SubwordModel and a fairseq Dictionary."""
    label_id = {label: i for i, label in enumerate(labels)}
    out = Encoded([], [], [])
    for n, ex in enumerate(examples):
        try:
            ids = [label_id[label] for label in ex.labels]
        except KeyError as exc:
            raise TaskDataError(f"{where}: example {n + 1}: unknown label {exc.args[0]!r} "
                                f"(known: {', '.join(labels)})") from None
        if is_token_task(task):
            # The sentence is encoded as pretraining saw it; each word is labelled on
            # the piece holding its first character. Words past max_length get no
            # prediction; they are counted, and scored as errors (as the authors do).
            all_pieces, all_firsts = subwords.align_words(ex.words, word_joiner(lang))
            pieces = all_pieces[:max_length]
            firsts = [f for f in all_firsts if f < max_length]
            out.truncated_words += len(ex.words) - len(firsts)
            out.ids.append([[dictionary.index(p) for p in pieces]])
            out.firsts.append(firsts)
            out.labels.append(ids[: len(firsts)])
        else:
            out.ids.append([[dictionary.index(p) for p in subwords.encode(text)[:max_length]] or [dictionary.unk()]
                            for text in ex.texts])
            out.firsts.append([])
            out.labels.append(ids)
    return out
