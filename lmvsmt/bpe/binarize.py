"""Per-objective training data, encoded with the shared subword model and binarized by
fairseq-preprocess with the ONE shared dictionary (--srcdict/--tgtdict, never a
dictionary built from the data), so every objective sees the same token ids.

Datasets (lmvsmt.vocabulary.DATASET names the one of each objective):
- documents (CLM, MLM, 2-LM): one sentence per line, ONE empty line between
  documents; fairseq keeps an empty line as a </s>-only item, which is what
  `--sample-break-mode complete_doc` splits documents on.
- bitext (2-MT): {split}.{l1}-{l2}.{l1|l2} for every unordered pair (l1 < l2);
  translation_multi_simple_epoch reads l2->l1 from the same files (its data manager
  falls back to {split}.{tgt}-{src}.* when {split}.{src}-{tgt}.* does not exist).
- tlm (TLM): "sentence __tgt__ translation" in both directions. Each pair's l1->l2
  lines come before all of its l2->l1 lines, so a sentence pair and its reverse are a
  whole language pair's data apart, not neighbours in a block packed by
  `--sample-break-mode complete` (where the second would be a copy task).
"""
from __future__ import annotations

import itertools
import logging
import os
import shlex
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from lmvsmt.bpe.encoder import (CHUNK_LINES, Encoder, Job, add_counts, chunked, encode_bitext_lines,
                               encode_text_lines, encode_translation_lines)
from lmvsmt.bpe.inputs import read_blocks, read_lines
from lmvsmt.corpus import CorpusError
from lmvsmt.io import atomic_write, open_text
from lmvsmt.layout import bitext_path, doc_path
from lmvsmt.vocabulary import DATASET, SPLITS, language_pairs

logger = logging.getLogger(__name__)

TOKEN_COLUMNS = ("dataset", "split", "language", "sentences", "tokens")

Pair = tuple[str, str]


# ----- fairseq-preprocess -------------------------------------------------------------------


def fairseq_preprocess(argv: list[str]) -> None:
    """Run fairseq-preprocess in this process (one fairseq import per rule, not per call)."""
    from lmvsmt.fairseq_compat import check_numpy

    check_numpy()  # fairseq's data code needs numpy<2
    from fairseq import options
    from fairseq_cli import preprocess

    logger.info("fairseq-preprocess %s", shlex.join(argv))
    args = options.get_preprocessing_parser().parse_args(argv)
    before = list(preprocess.logger.handlers)
    try:
        preprocess.main(args)
    finally:
        # main() adds a file handler per call; close it so repeated calls do not pile up.
        for handler in preprocess.logger.handlers:
            if handler not in before:
                preprocess.logger.removeHandler(handler)
                handler.close()


BYTES_PER_WORKER = 16 << 20  # below this, a fairseq worker pool costs more than it saves


def _split_args(prefixes: dict[str, Path], suffixes: Sequence[str], threads: int) -> list[str]:
    """--trainpref/--validpref/--testpref and --workers (fairseq starts a worker pool per
    file, so small files are binarized in-process)."""
    argv = []
    for split in SPLITS:
        argv += [f"--{split}pref", str(prefixes[split])]
    size = max(os.path.getsize(f"{prefixes['train']}{suffix}") for suffix in suffixes)
    return argv + ["--workers", str(max(1, min(threads, size // BYTES_PER_WORKER)))]


# ----- readers ------------------------------------------------------------------------------


def document_chunks(
    files: Sequence[tuple[str, str | os.PathLike]], size: int = CHUNK_LINES
) -> Iterator[tuple[str, list[str]]]:
    """(lang, lines) of the documents in `files`, at most `size` lines of one language a
    chunk, with exactly one empty line between documents: runs of empty lines collapse,
    none leads or trails, and a new file always starts a new document."""
    chunk: list[str] = []
    chunk_lang, started = None, False
    for lang, path in files:
        if lang != chunk_lang and chunk:
            yield chunk_lang, chunk
            chunk = []
        chunk_lang, gap = lang, True
        for lines in read_blocks(path):
            for line in lines:
                if not line or line.isspace():
                    gap = True
                    continue
                if gap and started:
                    chunk.append("")
                chunk.append(line)
                started, gap = True, False
            while len(chunk) >= size:
                yield lang, chunk[:size]
                chunk = chunk[size:]
    if chunk:
        yield chunk_lang, chunk


def document_jobs(files: Sequence[tuple[str, str | os.PathLike]]) -> Iterator[Job]:
    for lang, chunk in document_chunks(files):
        yield encode_text_lines, (lang, chunk)


def aligned_pairs(files: Sequence[tuple[str | os.PathLike, str | os.PathLike]]) -> Iterator[tuple[str, str]]:
    """Sentence pairs of line-aligned files; pairs with an empty side carry no
    translation and are skipped (in bitext and TLM alike). Misalignment is an error."""
    for path1, path2 in files:
        skipped = 0
        for number, (s1, s2) in enumerate(itertools.zip_longest(read_lines(path1), read_lines(path2)), 1):
            if s1 is None or s2 is None:
                short = path1 if s1 is None else path2
                raise CorpusError(f"{short}: ends at line {number - 1}, its aligned file has more lines")
            if s1.strip() and s2.strip():
                yield s1, s2
            else:
                skipped += 1
        if skipped:
            logger.warning("%s / %s: skipped %d pairs with an empty side", path1, path2, skipped)


def bitext_jobs(l1: str, l2: str, files) -> Iterator[Job]:
    for chunk in chunked(aligned_pairs(files)):
        yield encode_bitext_lines, (l1, l2, [s1 for s1, _ in chunk], [s2 for _, s2 in chunk])


def translation_jobs(l1: str, l2: str, files) -> Iterator[Job]:
    """l1->l2 lines of the whole pair first, then l2->l1 (the files are read twice)."""
    for chunk in chunked(aligned_pairs(files)):
        yield encode_translation_lines, (l1, l2, [s1 for s1, _ in chunk], [s2 for _, s2 in chunk])
    for chunk in chunked(aligned_pairs(files)):
        yield encode_translation_lines, (l2, l1, [s2 for _, s2 in chunk], [s1 for s1, _ in chunk])


# ----- token statistics ---------------------------------------------------------------------


def _count_rows(dataset: str, split: str, counts: dict[str, list[int]]) -> list[tuple]:
    keys = sorted(k for k in counts if k != "all") + (["all"] if "all" in counts else [])
    return [(dataset, split, key, *counts[key]) for key in keys]


def write_counts(path: str | os.PathLike, rows: Iterable[tuple]) -> None:
    with atomic_write(path) as fh:
        fh.write("\t".join(TOKEN_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")


def write_token_stats(dataset_counts: dict[str, str | os.PathLike], objectives: Sequence[str], out_path) -> None:
    """{R}/stats/tokens.tsv: the per-dataset counts, one block per objective.

    sentences/tokens of a language: its sentences in the dataset and their subword
    tokens (TLM holds each sentence twice, once per direction). Language "all": every
    item of the binarized dataset (documents: lines including the empty document
    breaks; bitext: both sides) and every token it stores, </s> and control tokens
    included, i.e. the sum of the dataset's sizes as fairseq loads it.
    """
    with atomic_write(out_path) as out:
        out.write("objective\t" + "\t".join(TOKEN_COLUMNS) + "\n")
        for objective in objectives:
            dataset = DATASET[objective]
            with open_text(dataset_counts[dataset]) as fh:
                next(fh)  # header
                for line in fh:
                    out.write(f"{objective}\t{line}")


# ----- the three datasets -------------------------------------------------------------------


class _Workspace:
    """A scratch directory for encoded text and fairseq's output; removed afterwards
    (encoded text of the full corpora is large and rebuilt from the inputs anyway)."""

    def __init__(self, work_dir: str | os.PathLike, name: str):
        self.path = Path(work_dir) / name
        shutil.rmtree(self.path, ignore_errors=True)
        (self.path / "bin").mkdir(parents=True)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _publish(src_dir: Path, names: Iterable[str], out_dir: str | os.PathLike) -> None:
    """Move fairseq's finished files into place (same file system: atomic renames)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(src_dir / name, out_dir / name)


def build_documents(
    model_path, dict_path, files: dict[str, Sequence[tuple[str, str]]], out_dir, work_dir, threads: int
) -> None:
    """data-bin/documents: {split}.bin/.idx, dict.txt, tokens.tsv. `files` maps a split to
    (lang, doc.{lang}.txt) in the order they are concatenated."""
    rows = []
    with _Workspace(work_dir, "documents") as ws:
        with Encoder(model_path, threads) as encoder:
            for split in SPLITS:
                with open(ws / f"{split}.txt", "wb") as out:
                    counts = encoder.run(document_jobs(files[split]), [out], desc=f"encode documents {split}")
                rows += _count_rows("documents", split, counts)
        argv = ["--only-source", "--srcdict", str(dict_path), "--destdir", str(ws / "bin")]
        fairseq_preprocess(argv + _split_args({split: ws / f"{split}.txt" for split in SPLITS}, [""], threads))
        _publish(ws / "bin", output_names("documents", ()), out_dir)
    write_counts(Path(out_dir) / "tokens.tsv", rows)


def build_bitext(
    model_path, dict_path, files: dict[str, dict[Pair, Sequence[tuple[str, str]]]], out_dir, work_dir, threads: int
) -> None:
    """data-bin/bitext: {split}.{l1}-{l2}.{l1|l2}.bin/.idx per pair, dict.{lang}.txt,
    tokens.tsv. `files` maps a split to {(l1, l2): [(l1 file, l2 file), ...]}."""
    rows = []
    pairs = sorted({pair for by_pair in files.values() for pair in by_pair})
    with _Workspace(work_dir, "bitext") as ws:
        with Encoder(model_path, threads) as encoder:
            for split in SPLITS:
                split_counts: dict[str, list[int]] = {}
                for l1, l2 in pairs:
                    stem = ws / f"{split}.{l1}-{l2}"
                    with open(f"{stem}.{l1}", "wb") as o1, open(f"{stem}.{l2}", "wb") as o2:
                        add_counts(split_counts, encoder.run(bitext_jobs(l1, l2, files[split][(l1, l2)]), [o1, o2],
                                                             desc=f"encode bitext {split} {l1}-{l2}"))
                rows += _count_rows("bitext", split, split_counts)
        names = []
        for l1, l2 in pairs:
            argv = ["--source-lang", l1, "--target-lang", l2, "--srcdict", str(dict_path), "--tgtdict", str(dict_path)]
            argv += ["--destdir", str(ws / "bin")]
            prefixes = {split: ws / f"{split}.{l1}-{l2}" for split in SPLITS}
            fairseq_preprocess(argv + _split_args(prefixes, [f".{l1}", f".{l2}"], threads))
            names += [f"{split}.{l1}-{l2}.{lang}.{ext}" for split in SPLITS for lang in (l1, l2) for ext in ("bin", "idx")]
        names += [f"dict.{lang}.txt" for lang in sorted({lang for pair in pairs for lang in pair})]
        _publish(ws / "bin", names, out_dir)
    write_counts(Path(out_dir) / "tokens.tsv", rows)


def build_tlm(
    model_path, dict_path, files: dict[str, dict[Pair, Sequence[tuple[str, str]]]], out_dir, work_dir, threads: int
) -> None:
    """data-bin/tlm: {split}.bin/.idx, dict.txt, tokens.tsv from the same bitext files."""
    rows = []
    with _Workspace(work_dir, "tlm") as ws:
        with Encoder(model_path, threads) as encoder:
            for split in SPLITS:
                split_counts: dict[str, list[int]] = {}
                with open(ws / f"{split}.txt", "wb") as out:
                    for (l1, l2), pair_files in sorted(files[split].items()):
                        add_counts(split_counts, encoder.run(translation_jobs(l1, l2, pair_files), [out],
                                                             desc=f"encode tlm {split} {l1}-{l2}"))
                rows += _count_rows("tlm", split, split_counts)
        argv = ["--only-source", "--srcdict", str(dict_path), "--destdir", str(ws / "bin")]
        fairseq_preprocess(argv + _split_args({split: ws / f"{split}.txt" for split in SPLITS}, [""], threads))
        _publish(ws / "bin", output_names("tlm", ()), out_dir)
    write_counts(Path(out_dir) / "tokens.tsv", rows)


# ----- entry point --------------------------------------------------------------------------

BUILDERS = {"documents": build_documents, "bitext": build_bitext, "tlm": build_tlm}


def dataset_inputs(dataset: str, results, corpora: Sequence[str], languages: Sequence[str]):
    """The corpus files a dataset is built from, in concatenation order: for documents
    {split: [(lang, path)]}, for bitext and tlm {split: {(l1, l2): [(l1 path, l2 path)]}}."""
    if dataset == "documents":
        return {s: [(l, doc_path(results, c, s, l)) for c in corpora for l in sorted(languages)] for s in SPLITS}
    return {
        s: {
            (l1, l2): [(bitext_path(results, c, s, l1, l2, l1), bitext_path(results, c, s, l1, l2, l2)) for c in corpora]
            for l1, l2 in language_pairs(languages)
        }
        for s in SPLITS
    }


def input_paths(dataset: str, results, corpora, languages) -> list[str]:
    """Flat list of `dataset_inputs` (what the Snakemake rule declares)."""
    files = dataset_inputs(dataset, results, corpora, languages)
    if dataset == "documents":
        return [path for split in SPLITS for _, path in files[split]]
    return [path for split in SPLITS for pairs in files[split].values() for both in pairs for path in both]


def output_names(dataset: str, languages: Sequence[str]) -> list[str]:
    """Files of data-bin/{dataset}/ (besides tokens.tsv)."""
    if dataset in ("documents", "tlm"):
        return [f"{split}.{ext}" for split in SPLITS for ext in ("bin", "idx")] + ["dict.txt"]
    names = [
        f"{split}.{l1}-{l2}.{lang}.{ext}"
        for l1, l2 in language_pairs(languages)
        for split in SPLITS
        for lang in (l1, l2)
        for ext in ("bin", "idx")
    ]
    return names + [f"dict.{lang}.txt" for lang in sorted(languages)]


def build(dataset: str, results, corpora, languages, model_path, dict_path, out_dir, work_dir, threads: int) -> None:
    """Build data-bin/{dataset} from the corpus stage's files (those `input_paths`
    names, which the rule declares)."""
    files = dataset_inputs(dataset, results, corpora, languages)
    BUILDERS[dataset](model_path, dict_path, files, out_dir, work_dir, threads)
