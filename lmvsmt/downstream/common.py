"""The common on-disk format of the downstream datasets: the one reader and writer,
used by the downstream stage (which writes it) and the evaluation (which reads it).

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

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write, open_text
from lmvsmt.layout import downstream_dir, stats
from lmvsmt.vocabulary import SPLITS, TASK_TEXTS, is_token_task

SUFFIX = {"SA": "tsv", "NLI": "tsv", "NER": "conll", "POS": "conll"}
# Languages written without spaces between words (their sentences join words with "").
WORDS_WITHOUT_SPACES = {"zh"}

NER_LABELS = ("B", "I", "O")
NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS_LABELS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)


def word_joiner(lang: str) -> str:
    """What joins the words of a token task's sentence into its text."""
    return "" if lang in WORDS_WITHOUT_SPACES else " "


class DataError(LmvsmtError, ValueError):
    """Malformed downstream data (raw or prepared), described in one line naming the
    file and line."""


@dataclasses.dataclass(frozen=True)
class TextExample:
    """A sentence-level example: one text (SA) or a premise and a hypothesis (NLI)."""

    texts: tuple[str, ...]
    label: str

    @property
    def key(self) -> tuple:
        return self.texts

    @property
    def labels(self) -> tuple[str]:
        """The example's labels, as a token example has them (one per example here)."""
        return (self.label,)


@dataclasses.dataclass(frozen=True)
class TokenExample:
    """A token-level example: a sentence's tokens and one label per token."""

    tokens: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def key(self) -> tuple:
        return self.tokens


Example = Union[TextExample, TokenExample]


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
    files = [str(split_path(downstream_dir(results, task, lang), task, split))
             for task in tasks for lang in languages for split in SPLITS]
    return files + [stats(results, "table7")]


#: Table 7 data (stats/table7.tsv): sizes per split after any dropping, and the inputs
#: that splits share as released (`splits.shared_inputs`).
SHARED_COLUMNS = ("valid_in_train", "test_in_train", "test_in_valid")
TABLE7_COLUMNS = ("task", "language", "dataset", *SPLITS, "total", *SHARED_COLUMNS)


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
    """Read a split written by `write_split`; anything else (a wrong column count, an
    empty token, no example at all) stops with a DataError naming the file and line."""
    path = Path(path)
    examples = _read_conll(path) if is_token_task(task) else _read_tsv(path, TASK_TEXTS[task])
    if not examples:
        raise DataError(f"{path}: empty split")
    return examples


def _read_tsv(path: Path, n_texts: int) -> list[Example]:
    out: list[Example] = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.rstrip("\n").split("\t")
            if len(cols) != n_texts + 1:
                raise DataError(f"{path}:{lineno}: expected {n_texts + 1} tab-separated columns, found {len(cols)}")
            out.append(TextExample(tuple(cols[:-1]), cols[-1]))
    return out


def _read_conll(path: Path) -> list[Example]:
    out: list[Example] = []
    tokens: list[str] = []
    labels: list[str] = []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                if tokens:
                    out.append(TokenExample(tuple(tokens), tuple(labels)))
                    tokens, labels = [], []
                continue
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0]:
                raise DataError(f"{path}:{lineno}: expected 'token<TAB>label', found {len(cols)} column(s)")
            tokens.append(cols[0])
            labels.append(cols[1])
    if tokens:
        out.append(TokenExample(tuple(tokens), tuple(labels)))
    return out


def count_tokens(examples: Iterable[Example]) -> int:
    return sum(len(ex.tokens) for ex in examples if isinstance(ex, TokenExample))
