# The shared subword model and the binarized data of the five objectives (issue 4):
# one SentencePiece BPE model, ONE fairseq dictionary, and per-objective datasets
# binarized with that dictionary. Logic: lmvsmt/bpe/.
from lmvsmt.bpe import binarize as lmvsmt_binarize

BPE = config["bpe"]
BPE_CORPORA = config["corpus"]["corpora"]
SPM_MODEL = layout.fill(layout.SPM_MODEL, results=RESULTS)
SPM_VOCAB = layout.fill(layout.SPM_VOCAB, results=RESULTS)
BPE_DICT = layout.fill(layout.BPE_DICT, results=RESULTS)
BPE_SAMPLE = layout.fill(layout.BPE_SAMPLE, results=RESULTS)
TOKEN_STATS = layout.stats(RESULTS, "tokens")
# Datasets the objectives this workflow trains train on (documents serve CLM, MLM and
# 2-LM); a model trained elsewhere brings its own subword model and dictionary.
BPE_DATASETS = sorted({vocabulary.DATASET[o] for o in TRAINED})
# Files of each dataset directory besides tokens.tsv.
BPE_DATASET_FILES = {
    dataset: [
        f"{layout.data_bin(RESULTS, dataset)}/{name}"
        for name in lmvsmt_binarize.output_names(dataset, LANGUAGES)
    ]
    for dataset in ("documents", "bitext", "tlm")
}
BPE_TARGETS = (
    [SPM_MODEL, SPM_VOCAB, BPE_DICT]
    + [path for dataset in BPE_DATASETS for path in BPE_DATASET_FILES[dataset]]
    + [TOKEN_STATS]
)


rule bpe_sample:
    # Checks every document file first (one line on an empty file or a missing
    # language), then draws the language-balanced training sample.
    input:
        list(layout.corpus_documents(RESULTS, BPE_CORPORA, LANGUAGES).values()),
    output:
        BPE_SAMPLE,
    params:
        results=path_param(RESULTS),
        corpora=BPE_CORPORA,
        languages=LANGUAGES,
        size=BPE["input_sentence_size"],
        seed=BPE["seed"],
    log:
        logpath("bpe_sample"),
    benchmark:
        benchpath("bpe_sample")
    conda:
        ENV
    script:
        "../workflow/scripts/bpe_sample.py"


rule bpe_train:
    input:
        BPE_SAMPLE,
    output:
        model=SPM_MODEL,
        vocab=SPM_VOCAB,
        dict=BPE_DICT,
    params:
        vocab_size=BPE["vocab_size"],
        character_coverage=BPE["character_coverage"],
        input_sentence_size=BPE["input_sentence_size"],
        normalization=BPE["normalization"],
        max_sentence_length=BPE["max_sentence_length"],
        seed=BPE["seed"],
        languages=LANGUAGES,
    threads: BPE["threads"]
    log:
        logpath("bpe_train"),
    benchmark:
        benchpath("bpe_train")
    conda:
        ENV
    script:
        "../workflow/scripts/bpe_train.py"


# One rule per dataset (each has its own fixed set of files), defined in a loop.
for _dataset in ("documents", "bitext", "tlm"):

    rule:
        name:
            f"bpe_{_dataset}"
        input:
            corpus=lmvsmt_binarize.input_paths(_dataset, RESULTS, BPE_CORPORA, LANGUAGES),
            model=SPM_MODEL,
            dict=BPE_DICT,
        output:
            data=BPE_DATASET_FILES[_dataset],
            tokens=f"{layout.data_bin(RESULTS, _dataset)}/tokens.tsv",
        params:
            results=path_param(RESULTS),
            out_dir=path_param(layout.data_bin(RESULTS, _dataset)),
            work_dir=path_param(layout.fill(layout.BPE_WORK, results=RESULTS)),
            dataset=_dataset,
            corpora=BPE_CORPORA,
            languages=LANGUAGES,
        threads: BPE["threads"]
        log:
            logpath(f"bpe_{_dataset}"),
        benchmark:
            benchpath(f"bpe_{_dataset}")
        conda:
            ENV
        script:
            "../workflow/scripts/bpe_binarize.py"


rule bpe_tokens:
    input:
        [f"{layout.data_bin(RESULTS, dataset)}/tokens.tsv" for dataset in BPE_DATASETS],
    output:
        TOKEN_STATS,
    params:
        datasets=BPE_DATASETS,
        objectives=TRAINED,
    log:
        logpath("bpe_tokens"),
    benchmark:
        benchpath("bpe_tokens")
    conda:
        ENV
    script:
        "../workflow/scripts/bpe_tokens.py"


if TRAINED:
    FINAL_TARGETS.append(lambda: BPE_TARGETS)
