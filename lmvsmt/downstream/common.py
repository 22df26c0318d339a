"""The common on-disk format of the downstream datasets, shared by every source.

Sentence tasks (SA) and sentence-pair tasks (NLI): `{split}.tsv`, one example per
line, the text(s) then the label, tab-separated, no header. Token tasks (NER, POS):
`{split}.conll`, one `token<TAB>label` per line, a blank line after every sentence.
Texts are whitespace-normalised (one line, single spaces); tokens contain no
whitespace at all, so readers may split either on tabs or on whitespace.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Sequence, Union

from lmvsmt.io import atomic_write, open_text

TASKS = ("SA", "NER", "POS", "NLI")
SPLITS = ("train", "valid", "test")
#: Number of texts per example; 0 marks a token-level task.
TASK_TEXTS = {"SA": 1, "NLI": 2, "NER": 0, "POS": 0}
SUFFIX = {"SA": "tsv", "NLI": "tsv", "NER": "conll", "POS": "conll"}

NER_LABELS = ("B", "I", "O")
NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS_LABELS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)


class DataError(ValueError):
    """Malformed source data, described in one line naming the file and line."""


@dataclasses.dataclass(frozen=True)
class TextExample:
    """A sentence-level example: one text (SA) or a premise and a hypothesis (NLI)."""

    texts: tuple[str, ...]
    label: str

    @property
    def key(self) -> tuple:
        return self.texts


@dataclasses.dataclass(frozen=True)
class TokenExample:
    """A token-level example: a sentence's tokens and one label per token."""

    tokens: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def key(self) -> tuple:
        return self.tokens


Example = Union[TextExample, TokenExample]


def is_token_task(task: str) -> bool:
    return TASK_TEXTS[task] == 0


def clean_text(text: str) -> str:
    """One line, single spaces: tabs and newlines inside a review cannot break the TSV."""
    return " ".join(text.split())


def clean_token(token: str) -> str:
    """A token without whitespace (UD allows e.g. "1 000" as one form)."""
    return "".join(token.split())


def split_path(out_dir: str | Path, task: str, split: str) -> Path:
    return Path(out_dir) / f"{split}.{SUFFIX[task]}"


def final_targets(results: str, tasks: Sequence[str], languages: Sequence[str]) -> list[str]:
    """Every split file of the configured tasks and languages, and the Table 7 data."""
    files = [str(split_path(f"{results}/downstream/{task}/{lang}", task, split))
             for task in tasks for lang in languages for split in SPLITS]
    return files + [f"{results}/stats/table7.tsv"]


#: Table 7 data (stats/table7.tsv): sizes per split after any dropping, and the inputs
#: that splits share as released (`splits.shared_inputs`).
SHARED_COLUMNS = ("valid_in_train", "test_in_train", "test_in_valid")
TABLE7_COLUMNS = ("task", "language", "dataset", "train", "valid", "test", "total", *SHARED_COLUMNS)


def write_split(path: str | Path, task: str, examples: Sequence[Example]) -> None:
    """Write one split in the common format, atomically."""
    with atomic_write(path) as fh:
        if is_token_task(task):
            for ex in examples:
                for token, label in zip(ex.tokens, ex.labels):
                    fh.write(f"{token}\t{label}\n")
                fh.write("\n")
        else:
            for ex in examples:
                fh.write("\t".join((*ex.texts, ex.label)) + "\n")


def read_split(path: str | Path, task: str) -> list[Example]:
    """Read a split written by `write_split` (used by tests and statistics)."""
    path = Path(path)
    out: list[Example] = []
    with open_text(path) as fh:
        if not is_token_task(task):
            for lineno, line in enumerate(fh, 1):
                cols = line.rstrip("\n").split("\t")
                if len(cols) != TASK_TEXTS[task] + 1:
                    raise DataError(f"{path}:{lineno}: expected {TASK_TEXTS[task] + 1} columns, found {len(cols)}")
                out.append(TextExample(tuple(cols[:-1]), cols[-1]))
            return out
        tokens: list[str] = []
        labels: list[str] = []
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                if tokens:
                    out.append(TokenExample(tuple(tokens), tuple(labels)))
                    tokens, labels = [], []
                continue
            cols = line.split("\t")
            if len(cols) != 2:
                raise DataError(f"{path}:{lineno}: expected token<TAB>label, found {len(cols)} columns")
            tokens.append(cols[0])
            labels.append(cols[1])
        if tokens:
            out.append(TokenExample(tuple(tokens), tuple(labels)))
    return out


def count_tokens(examples: Iterable[Example]) -> int:
    return sum(len(ex.tokens) for ex in examples if isinstance(ex, TokenExample))
