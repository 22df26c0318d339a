"""The shared subword model: one SentencePiece BPE model for all languages and
objectives (`SubwordModel`), its special pieces and language tokens, and the text
normalisation applied before it."""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

MASK = "<mask>"
SPM_SPECIALS = ("<unk>", "<s>", "</s>")
FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def language_token(lang: str) -> str:
    """Control token of a language; the style fairseq's multilingual tasks add (`__en__`)."""
    return f"__{lang}__"


def user_symbols(languages: Iterable[str]) -> list[str]:
    """Pieces SentencePiece must keep whole: the language tokens and the mask token."""
    return [language_token(lang) for lang in languages] + [MASK]


def normalize_line(line: str) -> str:
    """Collapse every Unicode whitespace run to one space and strip the ends.

    fairseq splits binarizer input on any Unicode whitespace, so no piece may contain
    any; normalising the text before training and encoding guarantees that. It is a
    no-op on the corpus stage's (already whitespace-normalised) output.
    """
    if line.isprintable() and "  " not in line and line[:1] != " " and line[-1:] != " ":
        return line  # fast path: no whitespace but single inner spaces (isprintable is C)
    return " ".join(line.split())


def normalize_text(lines: Sequence[str]) -> str:
    """The lines, each passed through `normalize_line`, joined by newlines; checked on
    the joined text first, as the corpus stage's output needs no change."""
    text = "\n".join(lines)
    if (
        text.replace("\n", "").isprintable()
        and "  " not in text
        and " \n" not in text
        and "\n " not in text
        and text[:1] != " "
        and text[-1:] != " "
        and len(lines) == text.count("\n") + 1  # no line holds a newline itself
    ):
        return text
    return "\n".join([normalize_line(line) for line in lines])


# ----- the model ------------------------------------------------------------------------


# Changed by every SentencePiece normalization rule except identity (NFKC folds the
# full-width letter, the ligature and the diaeresis; the case-folding rules lower-case).
_IDENTITY_PROBE = "Ａﬁ¨ Äb"
WORD_CACHE_SIZE = 1 << 18  # cached words; the cache is emptied when it grows past this
MAX_CACHED_WORD = 32  # characters; longer "words" (Chinese sentences) go to SentencePiece whole
_CACHE_SEED = {"\n": "\n", "": ""}  # the line separator and an empty line, as words


class SubwordModel:
    """The trained SentencePiece model, as later stages use it."""

    def __init__(self, spm_model_path: str | os.PathLike, threads: int = 1):
        self.path = Path(spm_model_path)
        # SentencePiece's batch encoding would otherwise use every core of the machine.
        self.processor = spm.SentencePieceProcessor(model_file=str(self.path), num_threads=threads)
        identity = self.processor.normalize(_IDENTITY_PROBE) == "▁" + _IDENTITY_PROBE.replace(" ", "▁")
        # BPE merges never cross a space (no piece holds an inner ▁), so with identity
        # normalization a sentence's pieces are its words' pieces: encode_lines caches them.
        self._word_cache: dict[str, str] | None = dict(_CACHE_SEED) if identity else None

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[str]:
        """Pieces of one sentence."""
        return self.processor.encode(normalize_line(text), out_type=str)

    def encode_words(self, words: Sequence[str]) -> list[list[str]]:
        """Pieces of each word, each encoded as a whitespace-delimited word (so its first
        piece carries the word-boundary marker); used for first-sub-word labelling."""
        return self.processor.encode([normalize_line(w) for w in words], out_type=str)

    def align_words(self, words: Sequence[str], joiner: str = " ") -> tuple[list[str], list[int]]:
        """Pieces of a sentence given as words, encoded as pretraining saw it (words
        joined by `joiner`: "" for languages written without spaces), and the index of
        the piece holding each word's first character (two words may share a piece)."""
        pieces = self.encode(joiner.join(words))
        spans = [len(p.replace("▁", "")) for p in pieces]  # characters each piece covers
        chars = [len(w.replace(" ", "")) for w in words]
        if sum(spans) != sum(chars):  # normalization changed the text: encode word by word
            pieces, firsts = [], []
            for word_pieces in self.encode_words(words):
                firsts.append(len(pieces))
                pieces.extend(word_pieces)
            return pieces, firsts
        firsts, index, end, start = [], 0, spans[0] if spans else 0, 0
        for length in chars:
            while end <= start:  # skip pieces ending before the word (and bare ▁ pieces)
                index += 1
                end += spans[index]
            firsts.append(index)
            start += length
        return pieces, firsts

    def encode_lines(self, lines: Sequence[str]) -> tuple[list[str], int]:
        """Space-joined pieces of each line (the input format of fairseq's binarizer) and
        the number of pieces in all; identical to joining `encode` of each line."""
        text, pieces, _ = self.encode_text(lines)
        return (text.split("\n") if lines else []), pieces

    def encode_text(self, lines: Sequence[str]) -> tuple[str, int, int]:
        """`encode_lines` as one text: the encoded lines joined by newlines (none after
        the last), built from whole-chunk string operations that run at C speed; with the
        number of pieces and of non-empty lines."""
        if not lines:
            return "", 0, 0
        text = normalize_text(lines)
        cache = self._word_cache
        if cache is None:
            encoded = self.processor.encode(text.split("\n"), out_type=str)
            text = "\n".join([" ".join(p) for p in encoded])
            empty = sum(1 for pieces in encoded if not pieces)
        else:
            if len(cache) > WORD_CACHE_SIZE:
                cache.clear()
                cache.update(_CACHE_SEED)
            # Every word of the chunk, with "\n" as a word between lines ("" is an empty line).
            words = text.replace("\n", " \n ").split(" ")
            new = list(set(words).difference(cache))
            cache.update(zip(new, map(" ".join, self.processor.encode(new, out_type=str))))
            text = " ".join(map(cache.__getitem__, words)).replace(" \n ", "\n")
            for word in new:  # too long to be worth keeping (a Chinese sentence, say)
                if len(word) > MAX_CACHED_WORD:
                    del cache[word]
            empty = words.count("")
        sentences = len(lines) - empty
        # Pieces never contain a space: a non-empty line holds one more piece than spaces.
        return text, text.count(" ") + sentences, sentences

    def decode(self, pieces: Sequence[str] | str) -> str:
        """Text of a piece sequence (a list, or fairseq's space-joined string)."""
        if isinstance(pieces, str):
            pieces = pieces.split()
        return self.processor.decode(list(pieces))
