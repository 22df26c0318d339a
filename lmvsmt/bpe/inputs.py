"""The corpus stage's text files as the BPE stage reads them: their paths (the path
contract), checks that every language has text, streaming UTF-8 reads, and the
one-line error a rule prints (`CorpusError`, `stage_step`)."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from lmvsmt.io import rule_log

logger = logging.getLogger(__name__)


class CorpusError(ValueError):
    """Unusable input text, described in one line naming the file."""


@contextlib.contextmanager
def stage_step(log_path: str | os.PathLike | None):
    """A rule's script body: output goes to the rule's log, and a CorpusError ends the
    job with its one line on the console (and in the log) instead of a traceback."""
    try:
        with rule_log(log_path):
            try:
                yield
            except CorpusError as exc:
                logger.error("%s", exc)
                raise
    except CorpusError as exc:
        sys.exit(str(exc))


# ----- the corpus stage's files (path contract) -----------------------------------------------

SPLITS = ("train", "valid", "test")


def doc_path(results: str | os.PathLike, corpus: str, split: str, lang: str) -> str:
    return f"{results}/corpus/{corpus}/{split}/doc.{lang}.txt"


def bitext_path(results: str | os.PathLike, corpus: str, split: str, l1: str, l2: str, side: str) -> str:
    return f"{results}/corpus/{corpus}/{split}/bitext.{l1}-{l2}.{side}"


def document_files(results, corpora: Sequence[str], languages: Sequence[str], splits=SPLITS) -> dict:
    """(corpus, split, lang) -> doc.{lang}.txt of every corpus, split and language."""
    return {(c, s, l): doc_path(results, c, s, l) for c in corpora for s in splits for l in languages}


# ----- input checks and the training sample -----------------------------------------------


def _has_text(path: Path) -> bool:
    with open(path, "rb") as fh:
        return any(line.strip() for line in fh)


def check_documents(documents: dict[tuple[str, str, str], str | os.PathLike], languages: Sequence[str]) -> None:
    """Fail with one line before any training when the corpus cannot feed every language.

    `documents` maps (corpus, split, lang) to a doc.{lang}.txt path. Every training file
    must hold text (a configured language missing from a corpus is an empty file); valid
    and test need text per language in at least one corpus.
    """
    for (corpus, split, lang), path in sorted(documents.items()):
        if not Path(path).exists():
            raise CorpusError(f"{path}: missing corpus file ({corpus} {split}, language {lang!r})")
    for (corpus, split, lang), path in sorted(documents.items()):
        if split == "train" and not _has_text(Path(path)):
            raise CorpusError(
                f"{path}: empty corpus file: language {lang!r} has no training text in corpus {corpus!r}"
            )
    for split in sorted({s for _, s, _ in documents} - {"train"}):
        for lang in languages:
            paths = [p for (c, s, l), p in sorted(documents.items()) if s == split and l == lang]
            if paths and not any(_has_text(Path(p)) for p in paths):
                raise CorpusError(
                    f"{', '.join(map(str, paths))}: empty corpus files: language {lang!r} has no {split} text"
                )


READ_BLOCK = 1 << 20  # characters read at a time


def read_blocks(path: str | os.PathLike) -> Iterator[list[str]]:
    """Lines of a UTF-8 corpus file without their newline, a block of lines at a time
    (split at C speed); only \\n ends a line (a stray \\r or U+2028 inside a sentence must
    not break the alignment of a bitext)."""
    try:
        with open(path, encoding="utf-8", newline="\n") as fh:
            rest = ""
            while block := fh.read(READ_BLOCK):
                lines = (rest + block).split("\n")
                rest = lines.pop()  # an unfinished line, completed by the next block
                if lines:
                    yield lines
            if rest:
                yield [rest]
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not valid UTF-8 (byte {exc.start} of a read block)") from None


def read_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of `read_blocks`, one at a time."""
    for lines in read_blocks(path):
        yield from lines


def check_declared(expected: Iterable, declared: Iterable | None) -> None:
    """The files a rule declares must be the ones this module reads (same path contract)."""
    if declared is not None and sorted(map(str, expected)) != sorted(map(str, declared)):
        missing = sorted(set(map(str, expected)) - set(map(str, declared)))
        raise ValueError(f"rule inputs differ from the corpus path contract (e.g. {missing[:3]} not declared)")
