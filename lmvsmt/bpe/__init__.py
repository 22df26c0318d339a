"""The shared subword model: one SentencePiece BPE model for all languages and
objectives, the fairseq dictionary derived from it, and fast parallel encoding.

Every objective's data is binarized with the same dictionary (lmvsmt.bpe.binarize), so a
piece has the same id in all five models. The dictionary lists the SentencePiece
vocabulary in id order minus SentencePiece's own <unk>/<s>/</s> (fairseq adds its
own four specials first), so fairseq id = SentencePiece id + 1 for every other piece.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm
from tqdm import tqdm

from lmvsmt.io import atomic_write, rule_log

logger = logging.getLogger(__name__)

MASK = "<mask>"
SPM_SPECIALS = ("<unk>", "<s>", "</s>")
FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
CHUNK_LINES = 8192  # lines per encoding job: large enough to amortise inter-process transfer


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


def check_declared(expected: Iterable, declared: Iterable | None) -> None:
    """The files a rule declares must be the ones this module reads (same path contract)."""
    if declared is not None and sorted(map(str, expected)) != sorted(map(str, declared)):
        missing = sorted(set(map(str, expected)) - set(map(str, declared)))
        raise ValueError(f"rule inputs differ from the corpus path contract (e.g. {missing[:3]} not declared)")


def prepare_sample(
    results, corpora: Sequence[str], languages: Sequence[str], out_path, size: int, seed: int, declared=None
) -> None:
    """Check the corpus files, then write the training sample (the BPE stage's first step).
    `declared`: the rule's input files, checked against the files read here."""
    documents = document_files(results, corpora, languages)
    check_declared(documents.values(), declared)
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
            raise CorpusError(f"SentencePiece training on {sample_path} failed (bpe.vocab_size={vocab_size}): {exc}") from None
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
        raise CorpusError(f"{spm_model_path}: expected {SPM_SPECIALS} as the first pieces, got {pieces[:3]}")
    entries = pieces[len(SPM_SPECIALS):]
    for piece in entries:
        if piece in FAIRSEQ_SPECIALS or piece != normalize_line(piece):
            raise CorpusError(f"{spm_model_path}: piece {piece!r} cannot be a fairseq dictionary entry")
    with atomic_write(dict_path) as fh:
        for rank, piece in enumerate(entries):
            fh.write(f"{piece} {len(entries) - rank}\n")
    return len(entries)


# ----- streaming, parallel encoding ---------------------------------------------------------
#
# A job is (function, arguments). The function runs where the model is loaded (a pool
# worker, or the calling process with one thread) and returns (texts, counts): one text
# per output file, encoded lines ready to write, and counts mapping a key (a language,
# or "all" for what the binarized dataset will hold) to [sentences, tokens].

Job = tuple[Callable, tuple]
_WORKER_MODEL: SubwordModel | None = None


def _init_worker(model_path: str) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = SubwordModel(model_path)


def _run_job(job: Job, model: SubwordModel | None = None):
    """A job's texts as UTF-8 bytes (encoded where they were made, off the writing
    process's critical path) and its counts."""
    function, args = job
    texts, counts = function(_WORKER_MODEL if model is None else model, *args)
    return [text.encode("utf-8") for text in texts], counts


def _ended(text: str, lines: list[str]) -> str:
    """An encoded text with the newline of its last line."""
    return text + "\n" if lines else ""


def encode_text_lines(model: SubwordModel, lang: str, lines: list[str]):
    """Lines of one language; empty lines (document breaks) stay empty."""
    text, tokens, sentences = model.encode_text(lines)
    # Every line, empty or not, becomes one item of the dataset, ending in </s>.
    return (_ended(text, lines),), {lang: [sentences, tokens], "all": [len(lines), tokens + len(lines)]}


def encode_bitext_lines(model: SubwordModel, l1: str, l2: str, lines1: list[str], lines2: list[str]):
    """Both sides of aligned sentence pairs, one output text each."""
    (out1, n1, _), (out2, n2, _) = model.encode_text(lines1), model.encode_text(lines2)
    pairs = len(lines1)
    counts = {l1: [pairs, n1], l2: [pairs, n2], "all": [2 * pairs, n1 + n2 + 2 * pairs]}
    return (_ended(out1, lines1), _ended(out2, lines2)), counts


def encode_translation_lines(model: SubwordModel, src: str, tgt: str, src_lines: list[str], tgt_lines: list[str]):
    """TLM lines: source sentence, control token of the target language, its translation."""
    (enc_src, n_src), (enc_tgt, n_tgt) = model.encode_lines(src_lines), model.encode_lines(tgt_lines)
    tag = language_token(tgt)
    out = [f"{s} {tag} {t}" for s, t in zip(enc_src, enc_tgt)]
    counts = {
        src: [len(out), n_src],
        tgt: [len(out), n_tgt],
        "all": [len(out), n_src + n_tgt + 2 * len(out)],  # + the control token and </s> per line
    }
    return (_ended("\n".join(out), out),), counts


class Encoder:
    """Runs encoding jobs with `threads` workers, writing their texts in job order.

    One thread encodes in the calling process. More start a pool of workers, each
    holding the model, while the calling process reads and writes; at most two jobs per
    worker are in flight, so memory stays a few chunks whatever the corpus size. Use as
    a context manager; the pool serves every `run` call.
    """

    def __init__(self, model_path: str | os.PathLike, threads: int):
        self.model_path, self.threads = str(model_path), max(1, threads)
        self._model: SubwordModel | None = None
        self._pool = None

    def __enter__(self) -> "Encoder":
        if self.threads == 1:
            self._model = SubwordModel(self.model_path)
        else:
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(self.threads, initializer=_init_worker, initargs=(self.model_path,))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def run(self, jobs: Iterable[Job], outs: Sequence, desc: str | None = None) -> dict[str, list[int]]:
        """Write each job's texts to `outs` (files open for binary writing); return the
        summed counts. `desc` names a progress bar in the log (a line every 30 s)."""
        totals: dict[str, list[int]] = {}
        bar = tqdm(desc=f"{desc} ({CHUNK_LINES:,} lines a chunk)", unit="chunk", mininterval=30,
                   file=sys.stderr, disable=desc is None)

        def write(result) -> None:
            texts, counts = result
            for out, text in zip(outs, texts, strict=True):
                out.write(text)
            add_counts(totals, counts)
            bar.update()

        with bar:
            if self._pool is None:
                for job in jobs:
                    write(_run_job(job, self._model))
                return totals
            pending: deque = deque()
            for job in jobs:
                pending.append(self._pool.apply_async(_run_job, (job,)))
                if len(pending) >= 2 * self.threads:
                    write(pending.popleft().get())
            while pending:
                write(pending.popleft().get())
        return totals


def add_counts(into: dict[str, list[int]], counts: dict[str, list[int]]) -> None:
    """Add [sentences, tokens] per key."""
    for key, (sentences, tokens) in counts.items():
        acc = into.setdefault(key, [0, 0])
        acc[0] += sentences
        acc[1] += tokens


def chunked(items: Iterable, size: int = CHUNK_LINES) -> Iterator[list]:
    """Consecutive lists of at most `size` items."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
