"""The results layout, in one place: every file and directory the workflow writes
under `results_dir` ({results} below). rules/*.smk and the package both take their
paths from here; workflow scripts take them from their rule.

Each pattern is a `str.format` pattern. `fill(pattern, results=R, objective="CLM")`
fills the names given and keeps the others as `{name}`, so the same pattern serves
as a Snakemake pattern (wildcards left open) and as a concrete path.
"""
from __future__ import annotations

import os
from typing import Sequence

from lmvsmt.vocabulary import SPLITS, language_pairs

# --- corpus (rules/corpus.smk, lmvsmt.corpus) ---------------------------------------------
CORPUS_DOWNLOAD = "{results}/corpus/download/{corpus}/{file}"   # a release file, verified
CORPUS_RAW = "{results}/corpus/raw/{corpus}"                    # its sources, unpacked
CORPUS = "{results}/corpus/{corpus}"                            # one built corpus:
# ... and inside a corpus directory (also the layout of `analysis.similarity.files`):
CORPUS_DOC = "{split}/doc.{lang}.txt"                       # document-level text
CORPUS_BITEXT = "{split}/bitext.{lang1}-{lang2}.{side}"     # line-aligned, lang1 < lang2
CORPUS_ALLOCATION = "allocation.{kind}.tsv"                 # kind: uncapped, capped
CORPUS_STATS = "stats.tsv"
CORPUS_LINKS = "links.tsv"  # per language pair: the xtargets reading used and what the check found
ALLOCATION_KINDS = ("uncapped", "capped")

# --- shared ------------------------------------------------------------------------------
STATS = "{results}/stats/{name}.tsv"          # table6, table7, tokens
DOWNLOADS_LOCK = "{results}/downloads.lock"   # size and sha256 of every download
LOG = "{results}/logs/{rule}/{name}.log"
BENCHMARK = "{results}/benchmarks/{rule}/{name}.tsv"
TENSORBOARD = "{results}/tensorboard"

# --- bpe (rules/bpe.smk, lmvsmt.bpe) ------------------------------------------------------
BPE = "{results}/bpe"
BPE_SAMPLE = BPE + "/train_sample.txt"
SPM_MODEL = BPE + "/spm.model"
SPM_VOCAB = BPE + "/spm.vocab"
BPE_DICT = BPE + "/dict.txt"
DATA_BIN = "{results}/data-bin/{dataset}"
BPE_WORK = "{results}/work/bpe"

# --- pretrain (rules/pretrain.smk, rules/external.smk, lmvsmt.pretrain) -------------------
MODEL = "{results}/pretrain/{objective}"      # what evaluation reads, trained or imported:
MODEL_CHECKPOINT = "checkpoint_best.pt"       # ... in a model directory: the weights,
MODEL_DICT = "dict.txt"                       # the fairseq dictionary,
MODEL_SPM = "spm.model"                       # an imported model's own SentencePiece model
MODEL_SOURCE = "source.json"                  # and where it came from
TRAIN_LOG = MODEL + "/train_log.jsonl"
PRETRAIN_WORK = "{results}/work/pretrain"     # checkpoints, never deleted by Snakemake
EXTERNAL_DOWNLOAD = "{results}/external/download"
EXTERNAL_UNPACKED = "{results}/external/unpacked"

# --- downstream (rules/downstream.smk, lmvsmt.downstream) ---------------------------------
DOWNSTREAM_RAW = "{results}/downstream/raw"
DOWNSTREAM_ARCHIVES = DOWNSTREAM_RAW + "/archives"           # shared by several sources
DOWNSTREAM_ARCHIVE = DOWNSTREAM_ARCHIVES + "/{archive}"
DOWNSTREAM_SOURCE = DOWNSTREAM_RAW + "/{task}/{lang}"         # raw files as released, and:
MANIFEST = "source.json"                                      # what they are and where from
# The common format (lmvsmt.downstream.common): {split}.tsv or {split}.conll, and meta.json.
DOWNSTREAM = "{results}/downstream/{task}/{lang}"
DOWNSTREAM_META = DOWNSTREAM + "/meta.json"

# --- evaluate (rules/evaluate.smk, lmvsmt.evaluate) ---------------------------------------
FEATURES = "{results}/features/{objective}/{task}/{lang}/features.pt"
EVAL_RESULT = "{results}/eval/{mode}/{objective}/{task}/{lang}/seed{seed}.json"
# Zero-shot transfer: {lang} is the training language, {test_lang} the tested one.
TRANSFER_RESULT = "{results}/transfer/{mode}/{objective}/{task}/{lang}/{test_lang}/seed{seed}.json"

# --- analysis, tables, plots --------------------------------------------------------------
ANALYSIS = "{results}/analysis"
TABLES = "{results}/tables"
PLOTS = "{results}/plots"


class _Open(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(pattern: str, **values) -> str:
    """`pattern` with the names in `values` filled in and every other name kept as a
    `{name}` wildcard."""
    return pattern.format_map(_Open({k: os.fspath(v) if isinstance(v, os.PathLike) else v
                                     for k, v in values.items()}))


def corpus_dir(results, corpus: str) -> str:
    return fill(CORPUS, results=results, corpus=corpus)


def doc_path(results, corpus: str, split: str, lang: str) -> str:
    return f"{corpus_dir(results, corpus)}/" + CORPUS_DOC.format(split=split, lang=lang)


def bitext_path(results, corpus: str, split: str, l1: str, l2: str, side: str) -> str:
    return f"{corpus_dir(results, corpus)}/" + CORPUS_BITEXT.format(split=split, lang1=l1, lang2=l2, side=side)


def corpus_texts(directory: str, languages: Sequence[str]) -> tuple[list[str], list[str]]:
    """The text files of a corpus directory (a path or a Snakemake pattern): documents
    per split and language, and both sides of every language pair per split (written
    even when empty, so later stages can name them statically)."""
    docs = [f"{directory}/" + CORPUS_DOC.format(split=s, lang=l) for s in SPLITS for l in sorted(languages)]
    bitexts = [
        f"{directory}/" + CORPUS_BITEXT.format(split=s, lang1=l1, lang2=l2, side=x)
        for s in SPLITS
        for l1, l2 in language_pairs(languages)
        for x in (l1, l2)
    ]
    return docs, bitexts


def corpus_documents(results, corpora: Sequence[str], languages: Sequence[str]) -> dict[tuple[str, str, str], str]:
    """(corpus, split, lang) -> doc.{lang}.txt of every corpus, split and language."""
    return {(c, s, l): doc_path(results, c, s, l) for c in corpora for s in SPLITS for l in languages}


def stats(results, name: str) -> str:
    return fill(STATS, results=results, name=name)


def model_dir(results, objective: str) -> str:
    return fill(MODEL, results=results, objective=objective)


def data_bin(results, dataset: str) -> str:
    return fill(DATA_BIN, results=results, dataset=dataset)


def downstream_dir(results, task: str, lang: str) -> str:
    return fill(DOWNSTREAM, results=results, task=task, lang=lang)


def eval_result(results, mode: str, objective: str, task: str, lang: str, seed) -> str:
    return fill(EVAL_RESULT, results=results, mode=mode, objective=objective, task=task, lang=lang, seed=seed)


def transfer_result(results, mode: str, objective: str, task: str, train: str, test: str, seed) -> str:
    return fill(TRANSFER_RESULT, results=results, mode=mode, objective=objective, task=task, lang=train,
                test_lang=test, seed=seed)


def log(results, rule: str, name: str = "") -> str:
    """Log file of a rule: {results}/logs/<rule>/<name or rule>.log."""
    return fill(LOG, results=results, rule=rule, name=name or rule)


def benchmark(results, rule: str, name: str = "") -> str:
    """Benchmark file of a rule: {results}/benchmarks/<rule>/<name or rule>.tsv."""
    return fill(BENCHMARK, results=results, rule=rule, name=name or rule)
