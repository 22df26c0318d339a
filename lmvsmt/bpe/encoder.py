"""Fast parallel encoding with the subword model: a pool of workers each holding the
model, the calling process reading and writing in job order (`Encoder`)."""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from lmvsmt.bpe.subword import SubwordModel, language_token

CHUNK_LINES = 8192  # lines per encoding job: large enough to amortise inter-process transfer


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
