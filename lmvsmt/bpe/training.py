"""Training the subword model: a seeded, language-balanced sample of the corpus,
SentencePiece BPE on it, and the fairseq dictionary derived from the model.

Every objective's data is binarized with the same dictionary (lmvsmt.bpe.binarize), so a
piece has the same id in all five models. The dictionary lists the SentencePiece
vocabulary in id order minus SentencePiece's own <unk>/<s>/</s> (fairseq adds its
own four specials first), so fairseq id = SentencePiece id + 1 for every other piece.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from lmvsmt.bpe.inputs import check_documents, read_lines
from lmvsmt.bpe.subword import FAIRSEQ_SPECIALS, SPM_SPECIALS, normalize_line, user_symbols
from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write
from lmvsmt.layout import corpus_documents

logger = logging.getLogger(__name__)


class SubwordError(LmvsmtError, ValueError):
    """A subword model that cannot be trained or used, described in one line."""


def _text_lines(path: Path) -> Iterator[str]:
    """Non-empty normalised lines of a corpus file."""
    for raw in read_lines(path):
        line = normalize_line(raw)
        if line:
            yield line


def sample_sentences(
    files_by_lang: dict[str, Sequence[str | os.PathLike]], out_path: str | os.PathLike, size: int, seed: int
) -> dict[str, int]:
    """Write a seeded, language-balanced sample of at most `size` sentences.

    Each language gets an equal share (all of its sentences when it has fewer), drawn
    uniformly over its files. Two streaming passes (count, then select), so memory is
    one byte per sentence, independent of sentence length. Returns sentences per language.
    """
    quota = max(1, size // max(1, len(files_by_lang)))
    rng = np.random.default_rng(seed)
    taken: dict[str, int] = {}
    with atomic_write(out_path) as out:
        for lang in sorted(files_by_lang):
            files = [Path(p) for p in files_by_lang[lang]]
            total = sum(sum(1 for _ in _text_lines(p)) for p in files)
            keep = np.zeros(total, dtype=bool)
            keep[rng.choice(total, size=min(quota, total), replace=False)] = True
            index = 0
            for path in files:
                for line in _text_lines(path):
                    if keep[index]:
                        out.write(line + "\n")
                    index += 1
            taken[lang] = int(keep.sum())
            logger.info("sample: %s: %d of %d sentences", lang, taken[lang], total)
    return taken


def prepare_sample(results, corpora: Sequence[str], languages: Sequence[str], out_path, size: int, seed: int) -> None:
    """Check the corpus files (lmvsmt.layout's, which the rule declares), then write the
    training sample (the BPE stage's first step)."""
    documents = corpus_documents(results, corpora, languages)
    check_documents(documents, languages)
    train_files = {lang: [documents[(c, "train", lang)] for c in corpora] for lang in languages}
    sample_sentences(train_files, out_path, size, seed)


# ----- training and the fairseq dictionary -------------------------------------------------


def train(
    sample_path: str | os.PathLike,
    model_path: str | os.PathLike,
    vocab_path: str | os.PathLike,
    dict_path: str | os.PathLike,
    *,
    vocab_size: int,
    languages: Sequence[str],
    character_coverage: float,
    input_sentence_size: int,
    seed: int,
    threads: int,
    normalization: str = "identity",
    max_sentence_length: int = 4192,
) -> None:
    """Train the BPE model on the sample and write model, vocabulary and fairseq dictionary."""
    model_path, vocab_path = Path(model_path), Path(vocab_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    spm.set_random_generator_seed(seed)
    with tempfile.TemporaryDirectory(prefix=".spm.", dir=model_path.parent) as tmp:
        prefix = Path(tmp) / "spm"
        try:
            spm.SentencePieceTrainer.train(
                input=str(sample_path),
                model_prefix=str(prefix),
                model_type="bpe",
                vocab_size=vocab_size,
                character_coverage=character_coverage,
                # Bounds SentencePiece's memory: it loads every input sentence into RAM.
                input_sentence_size=input_sentence_size,
                shuffle_input_sentence=True,
                user_defined_symbols=user_symbols(languages),
                normalization_rule_name=normalization,
                max_sentence_length=max_sentence_length,
                num_threads=threads,
                unk_id=0,
                bos_id=1,
                eos_id=2,
                pad_id=-1,
            )
        except RuntimeError as exc:
            raise SubwordError(f"SentencePiece training on {sample_path} failed (bpe.vocab_size={vocab_size}): {exc}") from None
        write_fairseq_dictionary(f"{prefix}.model", dict_path)
        os.replace(f"{prefix}.vocab", vocab_path)
        os.replace(f"{prefix}.model", model_path)


def write_fairseq_dictionary(spm_model_path: str | os.PathLike, dict_path: str | os.PathLike) -> int:
    """fairseq dict.txt from the SentencePiece vocabulary, in SentencePiece id order.

    fairseq reads counts only to threshold or sort a dictionary it builds itself; we
    never let it, so each entry's count is its rank from the end (monotone, like real
    counts of a BPE vocabulary) and the order, hence every id, is SentencePiece's.
    """
    processor = spm.SentencePieceProcessor(model_file=str(spm_model_path))
    n = processor.get_piece_size()
    pieces = [processor.id_to_piece(i) for i in range(n)]
    if tuple(pieces[: len(SPM_SPECIALS)]) != SPM_SPECIALS:
        raise SubwordError(f"{spm_model_path}: expected {SPM_SPECIALS} as the first pieces, got {pieces[:3]}")
    entries = pieces[len(SPM_SPECIALS):]
    for piece in entries:
        if piece in FAIRSEQ_SPECIALS or piece != normalize_line(piece):
            raise SubwordError(f"{spm_model_path}: piece {piece!r} cannot be a fairseq dictionary entry")
    with atomic_write(dict_path) as fh:
        for rank, piece in enumerate(entries):
            fh.write(f"{piece} {len(entries) - rank}\n")
    return len(entries)
