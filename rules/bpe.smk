# The shared subword model and the binarized data of the five objectives (issue 4):
# one SentencePiece BPE model, ONE fairseq dictionary, and per-objective datasets
# binarized with that dictionary. Logic: lmvsmt/bpe/.
from lmvsmt.bpe import binarize as lmvsmt_binarize
from lmvsmt.bpe import inputs as lmvsmt_bpe_inputs

BPE = config["bpe"]
BPE_CORPORA = config["corpus"]["corpora"]
BPE_DIR = f"{RESULTS}/bpe"
DATA_BIN = f"{RESULTS}/data-bin"
# Datasets the objectives this workflow trains train on (documents serve CLM, MLM and
# 2-LM); a model trained elsewhere brings its own subword model and dictionary.
BPE_DATASETS = sorted({lmvsmt_binarize.OBJECTIVE_DATASETS[o] for o in TRAINED})
# Files of each dataset directory besides tokens.tsv.
BPE_DATASET_FILES = {
    dataset: [
        f"{DATA_BIN}/{dataset}/{name}"
        for name in lmvsmt_binarize.output_names(dataset, LANGUAGES)
    ]
    for dataset in ("documents", "bitext", "tlm")
}
BPE_TARGETS = (
    [f"{BPE_DIR}/spm.model", f"{BPE_DIR}/spm.vocab", f"{BPE_DIR}/dict.txt"]
    + [path for dataset in BPE_DATASETS for path in BPE_DATASET_FILES[dataset]]
    + [f"{RESULTS}/stats/tokens.tsv"]
)


rule bpe_sample:
    # Checks every document file first (one line on an empty file or a missing
    # language), then draws the language-balanced training sample.
    input:
        list(lmvsmt_bpe_inputs.document_files(RESULTS, BPE_CORPORA, LANGUAGES).values()),
    output:
        f"{BPE_DIR}/train_sample.txt",
    params:
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
        f"{BPE_DIR}/train_sample.txt",
    output:
        model=f"{BPE_DIR}/spm.model",
        vocab=f"{BPE_DIR}/spm.vocab",
        dict=f"{BPE_DIR}/dict.txt",
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
            model=f"{BPE_DIR}/spm.model",
            dict=f"{BPE_DIR}/dict.txt",
        output:
            data=BPE_DATASET_FILES[_dataset],
            tokens=f"{DATA_BIN}/{_dataset}/tokens.tsv",
        params:
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
        [f"{DATA_BIN}/{dataset}/tokens.tsv" for dataset in BPE_DATASETS],
    output:
        f"{RESULTS}/stats/tokens.tsv",
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
