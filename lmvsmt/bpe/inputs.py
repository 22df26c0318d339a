"""The corpus stage's text files as the BPE stage reads them (their paths come from
lmvsmt.layout): checks that every language has text, and streaming UTF-8 reads. A
problem is a CorpusError (lmvsmt.corpus) naming the file."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from lmvsmt.corpus import CorpusError


# ----- input checks -----------------------------------------------------------------------


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
